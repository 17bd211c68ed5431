//! Users and API tokens.

use vouch_store::meta::{
    MetaError, NewToken, TokenCheck, TokenId, TokenScope, UserId, TOKEN_PREFIX,
};

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

/// Issue 12: token scopes and package limits, disabled users, and why a token is refused.
pub async fn token_checks_scopes_and_disabled_users(f: &Fresh) {
    let s = &*f.store;
    let alice = s.create_user("alice", None, t(1)).await.unwrap();
    let pkgs = vec!["@acme/widget".to_owned()];
    let (owner, owner_secret) = s
        .issue_token(
            &NewToken {
                user: alice.id,
                label: "ci",
                scope: TokenScope::Owner,
                packages: Some(&pkgs),
                expires_at: Some(t(50)),
            },
            t(10),
        )
        .await
        .unwrap();
    assert_eq!(owner.packages.as_deref(), Some(&pkgs[..]));
    let (admin, admin_secret) = s
        .issue_token(
            &NewToken {
                user: alice.id,
                label: "ops",
                scope: TokenScope::Admin,
                packages: None,
                expires_at: None,
            },
            t(10),
        )
        .await
        .unwrap();
    assert_eq!(s.token(admin.id).await.unwrap(), Some(admin.clone()));
    match s.check_token(admin_secret.expose(), t(11)).await.unwrap() {
        TokenCheck::Valid(u, tok) => {
            assert_eq!(u.id, alice.id);
            assert_eq!(tok.scope, TokenScope::Admin);
        }
        other => panic!("{other:?}"),
    }
    // The owner API never accepts an admin token.
    assert_eq!(
        s.authenticate(admin_secret.expose(), t(11)).await.unwrap(),
        None
    );
    assert!(s
        .authenticate(owner_secret.expose(), t(11))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.check_token(owner_secret.expose(), t(50)).await.unwrap(),
        TokenCheck::Expired(t(50))
    );
    assert_eq!(
        s.check_token("vouch_nope", t(11)).await.unwrap(),
        TokenCheck::Unknown
    );
    s.revoke_token(owner.id, t(20)).await.unwrap();
    assert_eq!(
        s.check_token(owner_secret.expose(), t(21)).await.unwrap(),
        TokenCheck::Revoked(t(20))
    );
    // Disabling is immediate, idempotent, and keeps the first time.
    assert!(s.disable_user(alice.id, t(30)).await.unwrap());
    assert!(!s.disable_user(alice.id, t(31)).await.unwrap());
    assert_eq!(
        s.user(alice.id).await.unwrap().unwrap().disabled_at,
        Some(t(30))
    );
    assert_eq!(
        s.check_token(admin_secret.expose(), t(32)).await.unwrap(),
        TokenCheck::UserDisabled("alice".into())
    );
    let err = s
        .create_token(alice.id, "x", None, t(33))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UserDisabled { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E018");
    let err = s.disable_user(UserId(987_654), t(1)).await.unwrap_err();
    assert!(matches!(err, MetaError::UnknownUser { .. }), "{err:?}");
    let names: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice"]);
}

/// Owners can be removed (and the removal reports whether anything changed).
pub async fn owners_are_removable(f: &Fresh) {
    let s = &*f.store;
    let alice = s.create_user("alice", None, t(1)).await.unwrap();
    let bob = s.create_user("bob", None, t(1)).await.unwrap();
    s.create_package("@acme/widget", alice.id, t(2))
        .await
        .unwrap();
    s.add_owner("@acme/widget", bob.id, t(3)).await.unwrap();
    assert_eq!(s.owners("@acme/widget").await.unwrap().len(), 2);
    assert!(s.remove_owner("@acme/widget", bob.id).await.unwrap());
    assert!(!s.remove_owner("@acme/widget", bob.id).await.unwrap());
    assert_eq!(s.owners("@acme/widget").await.unwrap(), vec![alice]);
    let err = s.remove_owner("@acme/none", bob.id).await.unwrap_err();
    assert!(matches!(err, MetaError::UnknownPackage { .. }), "{err:?}");
}
