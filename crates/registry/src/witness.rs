//! The built-in tlog-witness: `POST /add-checkpoint`, mounting the core's pure `Witness` state machine over persisted state.
//!
//! The latest cosigned checkpoint per origin is stored in the same compare-and-swap
//! table as the log's checkpoints (row `witness/<origin>`), and it is stored BEFORE the
//! cosignature is returned: a witness that forgot what it signed could be made to
//! cosign a fork after a restart.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_log::Clock;
use vouch_store::{CheckpointLock, StoreError};
use vouch_tlog::{AddCheckpoint, Checkpoint, Witness, WitnessError};

use crate::app::AppState;
use crate::ApiError;

/// The witness with its state store and clock.
#[derive(Debug)]
pub struct WitnessService {
    pub witness: Witness,
    pub lock: Arc<dyn CheckpointLock>,
    pub clock: Arc<dyn Clock>,
    /// Serialises load-decide-store within this process; the compare-and-swap guards
    /// against other processes.
    pub serial: tokio::sync::Mutex<()>,
}

fn row(origin: &str) -> String {
    format!("witness/{origin}")
}

impl WitnessService {
    /// Decides one request and persists the new state; returns the response body.
    pub async fn add_checkpoint(&self, body: &[u8]) -> Result<String, ApiError> {
        let req = AddCheckpoint::parse(body).map_err(WitnessError::BadRequest)?;
        let origin = req.origin().map_err(WitnessError::BadRequest)?;
        let key = row(&origin);
        let _serial = self.serial.lock().await;
        let stored = self
            .lock
            .load(&key)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let latest = match &stored {
            None => None,
            Some(b) => {
                let cp = std::str::from_utf8(b)
                    .ok()
                    .and_then(|t| Checkpoint::parse(t).ok())
                    .ok_or_else(|| {
                        tracing::error!(origin, "stored witness state is unreadable");
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "SERVE_E007",
                            "internal error; see the server log",
                        )
                    })?;
                Some((cp.size, cp.root))
            }
        };
        let cosigned = self
            .witness
            .add_checkpoint(&req, latest, self.clock.unix_seconds())?;
        let new = cosigned.checkpoint.to_text();
        let saved = match &stored {
            None => self.lock.create(&key, new.as_bytes()).await,
            Some(old) if old[..] == *new.as_bytes() => Ok(()),
            Some(old) => self.lock.compare_and_swap(&key, old, new.as_bytes()).await,
        };
        match saved {
            Ok(()) => Ok(cosigned.response_body()),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "WITNESS_E006",
                    "the witness state changed concurrently; retry",
                )
            }),
            Err(e) => Err(ApiError::internal(&e)),
        }
    }
}

/// `POST /add-checkpoint` (tlog-witness).
pub async fn add_checkpoint(
    State(app): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let w = app
        .witness
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this server runs no witness"))?;
    let body = w.add_checkpoint(&body).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}
