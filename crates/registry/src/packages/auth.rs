//! Owner authentication: `Authorization: Bearer vouch_...` API tokens, looked up by hash and compared in constant time by the metadata store.

use axum::http::{header, HeaderMap};
use vouch_store::meta::{ApiToken, MetaStore, Timestamp, TokenCheck, TokenScope, User};

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

/// The user a request's owner token belongs to: AUTH_E001 without a token, AUTH_E002
/// for an unknown one, AUTH_E004 when its user is disabled, AUTH_E005 revoked,
/// AUTH_E006 expired, AUTH_E007 for an admin token (owner routes take owner tokens).
pub async fn owner(
    meta: &dyn MetaStore,
    headers: &HeaderMap,
) -> Result<(User, ApiToken), ApiError> {
    let token = bearer(headers)?;
    match meta.check_token(token, Timestamp::now()).await {
        Ok(TokenCheck::Valid(user, token)) if token.scope == TokenScope::Owner => Ok((user, token)),
        Ok(TokenCheck::Valid(_, token)) => Err(codes::wrong_scope(token.scope, TokenScope::Owner)),
        Ok(other) => Err(refusal(&other)),
        Err(e) => Err(ApiError::internal(&e)),
    }
}

/// The coded refusal of a token that did not check out (any scope).
pub fn refusal(check: &TokenCheck) -> ApiError {
    match check {
        TokenCheck::UserDisabled(name) => codes::user_disabled(name),
        TokenCheck::Revoked(at) => codes::token_revoked(*at),
        TokenCheck::Expired(at) => codes::token_expired(*at),
        _ => codes::bad_token(),
    }
}

/// Whether an owner token may act on `package` (AUTH_E007 when it is limited to other
/// packages).
pub fn may_act_on(token: &ApiToken, package: &str) -> Result<(), ApiError> {
    match &token.packages {
        Some(names) if !names.iter().any(|n| n == package) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "AUTH_E007",
            format!("this token is limited to {names:?}, not {package}"),
        )),
        _ => Ok(()),
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
