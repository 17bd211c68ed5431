//! Users and API tokens.

use vouch_store::meta::{MetaError, TokenId, UserId, TOKEN_PREFIX};

use crate::harness::{t, Fresh};

pub async fn users_roundtrip_and_duplicates(f: &Fresh) {
    let s = &*f.store;
    let alice = s
        .create_user("alice", Some("a@example.com"), t(5))
        .await
        .unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.email.as_deref(), Some("a@example.com"));
    assert_eq!(alice.created_at, t(5));
    assert_eq!(s.user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(s.user_by_name("alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(s.user_by_name("bob").await.unwrap(), None);
    assert_eq!(s.user(UserId(987_654)).await.unwrap(), None);
    let err = s.create_user("alice", None, t(6)).await.unwrap_err();
    assert!(
        matches!(&err, MetaError::UserExists { name } if name == "alice"),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E004");
}

pub async fn tokens_hashed_expiring_revocable(f: &Fresh) {
    let s = &*f.store;
    let alice = s.create_user("alice", None, t(1)).await.unwrap();
    let err = s
        .create_token(UserId(987_654), "x", None, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownUser { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E005");

    let (tok, secret) = s
        .create_token(alice.id, "laptop", None, t(10))
        .await
        .unwrap();
    assert!(secret.expose().starts_with(TOKEN_PREFIX));
    assert_eq!(tok.label, "laptop");
    let (who, found) = s
        .authenticate(secret.expose(), t(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who, alice);
    assert_eq!(found, tok);
    // A different secret, or one differing in a single character, is unknown.
    assert_eq!(s.authenticate("vouch_nope", t(11)).await.unwrap(), None);
    let mut tweaked = secret.expose().to_string();
    let last = tweaked.pop().unwrap();
    tweaked.push(if last == '0' { '1' } else { '0' });
    assert_eq!(s.authenticate(&tweaked, t(11)).await.unwrap(), None);

    // Expiry is exclusive of `expires_at`.
    let (_, short) = s
        .create_token(alice.id, "ci", Some(t(20)), t(10))
        .await
        .unwrap();
    assert!(s
        .authenticate(short.expose(), t(19))
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.authenticate(short.expose(), t(20)).await.unwrap(), None);

    // Revocation, idempotent, keeps the first time.
    s.revoke_token(tok.id, t(30)).await.unwrap();
    s.revoke_token(tok.id, t(31)).await.unwrap();
    assert_eq!(s.authenticate(secret.expose(), t(32)).await.unwrap(), None);
    let listed = s.tokens(alice.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].revoked_at, Some(t(30)));
    assert_eq!(listed[1].expires_at, Some(t(20)));
    let err = s.revoke_token(TokenId(987_654), t(1)).await.unwrap_err();
    assert!(matches!(err, MetaError::UnknownToken { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E016");
}
