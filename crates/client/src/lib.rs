//! HTTP clients for vouch servers and for any C2SP tlog-tiles log: checkpoints, tiles, proofs, witnesses, monitoring state.
