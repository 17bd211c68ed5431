//! [`WitnessClient`]: the client side of tlog-witness `add-checkpoint`.

use vouch_tlog::{AddCheckpoint, NoteSignature};

use crate::Error;

/// A client for one witness's submission prefix.
#[derive(Clone, Debug)]
pub struct WitnessClient {
    prefix: String,
    http: reqwest::Client,
}

/// Largest response accepted: a few signature lines.
const MAX_RESPONSE: usize = 64 * 1024;

impl WitnessClient {
    /// A client for the witness at `prefix`.
    pub fn new(prefix: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|source| Error::Http {
                url: prefix.to_owned(),
                source,
            })?;
        Ok(Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// POSTs the request and returns the cosignature lines. A 409 becomes
    /// [`Error::WitnessConflict`] with the witness's latest size, so the caller can
    /// retry with a proof from that size (tlog-witness, "add-checkpoint").
    /// The caller verifies the cosignatures with the witness keys it trusts.
    pub async fn add_checkpoint(&self, req: &AddCheckpoint) -> Result<Vec<NoteSignature>, Error> {
        let url = format!("{}/add-checkpoint", self.prefix);
        let http_err = |source| Error::Http {
            url: url.clone(),
            source,
        };
        let mut resp = self
            .http
            .post(&url)
            .body(req.to_body())
            .send()
            .await
            .map_err(http_err)?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(Error::TooLarge {
                    url,
                    max: MAX_RESPONSE,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        match status {
            200 => Ok(text
                .lines()
                .map(NoteSignature::parse_line)
                .collect::<Result<Vec<_>, _>>()?),
            409 => {
                let latest = text
                    .trim_end()
                    .parse::<u64>()
                    .map_err(|_| Error::WitnessRefused {
                        status,
                        body: text.chars().take(200).collect(),
                    })?;
                Err(Error::WitnessConflict { latest })
            }
            _ => Err(Error::WitnessRefused {
                status,
                body: text.chars().take(200).collect(),
            }),
        }
    }
}
