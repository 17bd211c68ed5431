//! `vouch bench integrity`: integrity-record reads per second from a server on this
//! machine, after checking with `vouch_integrity::verify_record` (what `vouch verify
//! integrity` uses) that what is read is a record that verifies.

use vouch_api_client::integrity::Target;
use vouch_api_client::{base_url, caps, get_bytes, get_json, http, CodedError, Outcome};
use vouch_integrity::{verify_record, KeySet};

use crate::http::{HttpLoad, HttpReport};
use crate::Result;

/// The record's URL under `server`, once the record read there verifies against the
/// served key set; then [`crate::http::run`] loads that URL.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn run(server: &str, subject: &Target, concurrency: usize, seconds: u64) -> Result<HttpReport> {
    let base = base_url(server)?;
    let url = format!("{base}{}", subject.path());
    crate::runtime()?.block_on(async {
        let client = http()?;
        let jwks_url = format!("{base}/.well-known/registry-key.json");
        let jwks = get_bytes(&client, &jwks_url, "fetching the key set", caps::API_ANSWER).await?;
        let refused =
            |code: &'static str, msg: String| CodedError::new(code, Outcome::Refused, msg);
        let keys = KeySet::from_jwks(&jwks).map_err(|e| refused(e.code(), e.to_string()))?;
        let doc = get_json(&client, &url, "fetching the record", caps::API_ANSWER).await?;
        verify_record(doc["jws"].as_str().unwrap_or(""), &keys)
            .map_err(|e| refused(e.code(), e.to_string()))?;
        Ok::<_, CodedError>(())
    })?;
    crate::http::run(&HttpLoad {
        urls: vec![url],
        concurrency,
        seconds,
    })
}
