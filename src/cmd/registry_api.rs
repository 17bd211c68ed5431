//! The registry client lives in `vouch-api-client`, the async runtime a command runs on
//! and the progress bars on a terminal in `vouch-term`.

pub use vouch_api_client::base_url;
pub use vouch_term::progress::{progress_bar, runtime, TermProgress};
