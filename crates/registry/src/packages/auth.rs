//! Owner authentication: `Authorization: Bearer vouch_...` API tokens, looked up by hash and compared in constant time by the metadata store.

use axum::http::{header, HeaderMap};
use vouch_store::meta::{ApiToken, MetaStore, Timestamp, User};

use super::codes;
use crate::ApiError;

/// Longest header value considered; real tokens are `vouch_` + 64 hex digits.
const MAX_AUTHORIZATION_BYTES: usize = 512;

/// The bearer token of a request: AUTH_E001 if there is none or it is malformed.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(codes::no_token)?;
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(codes::bad_token());
    }
    let value = value.to_str().map_err(|_| codes::no_token())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(codes::no_token)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(codes::no_token());
    }
    Ok(token)
}

/// The user a request's token belongs to: AUTH_E001 without a token, AUTH_E002 for
/// an unknown, revoked or expired one.
pub async fn owner(
    meta: &dyn MetaStore,
    headers: &HeaderMap,
) -> Result<(User, ApiToken), ApiError> {
    let token = bearer(headers)?;
    match meta.authenticate(token, Timestamp::now()).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(codes::bad_token()),
        Err(e) => Err(ApiError::internal(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_parsing_is_strict() {
        assert_eq!(bearer(&with("Bearer vouch_abc")).unwrap(), "vouch_abc");
        assert_eq!(bearer(&with("bearer  vouch_abc ")).unwrap(), "vouch_abc");
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "vouch_abc"] {
            assert_eq!(bearer(&with(bad)).unwrap_err().code, "AUTH_E001", "{bad}");
        }
        assert_eq!(bearer(&HeaderMap::new()).unwrap_err().code, "AUTH_E001");
        let long = format!("Bearer {}", "a".repeat(600));
        assert_eq!(bearer(&with(&long)).unwrap_err().code, "AUTH_E002");
    }
}
