//! The log engine: pools entries, sequences them with group commit, writes tiles through a storage trait and publishes signed checkpoints.
