//! Webhook deliveries for each forge: a good signature is accepted and parsed; a forged,
//! malformed or missing one is refused with its code before the body is looked at.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use http::{HeaderMap, HeaderValue};
use serde_json::json;
use vouch_ingest::webhook::{github_signature, hmac_hex};
use vouch_ingest::{
    verify_webhook, ForgeKind, ReleaseAction, RepoRef, Secret, WebhookEvent, WEBHOOK_BODY_CAP_BYTES,
};

const SECRET: &str = "a-webhook-secret-of-some-length";

fn secret() -> Secret {
    Secret::new(SECRET)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn hub_body(action: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "release": {"id": 1, "tag_name": "v1.2.3", "draft": false},
        "repository": {"full_name": "Acme/Widget", "name": "Widget", "owner": {"login": "Acme"}},
    }))
    .unwrap()
}

fn expect_release(event: WebhookEvent, action: ReleaseAction) {
    assert_eq!(
        event,
        WebhookEvent::Release {
            repo: RepoRef::parse("Acme/Widget").unwrap(),
            tag: "v1.2.3".into(),
            action,
        }
    );
}

#[test]
fn github_signatures() {
    let body = hub_body("published");
    let sig = github_signature(&secret(), &body);
    let good = headers(&[("x-hub-signature-256", &sig), ("x-github-event", "release")]);
    expect_release(
        verify_webhook(ForgeKind::GitHub, &good, &body, &secret()).unwrap(),
        ReleaseAction::Published,
    );

    // The body changed after signing.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let e = verify_webhook(ForgeKind::GitHub, &good, &tampered, &secret()).unwrap_err();
    assert_eq!(e.code(), "INGEST_E018", "{e}");
    // Signed with another secret.
    let forged = github_signature(&Secret::new("another-secret-entirely"), &body);
    let h = headers(&[
        ("x-hub-signature-256", &forged),
        ("x-github-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitHub, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E018"
    );
    // Malformed: no prefix, not hex, short, legacy SHA-1 header only.
    for bad in [
        sig.trim_start_matches("sha256=").to_owned(),
        "sha256=zz".into(),
        "sha256=abcd".into(),
    ] {
        let h = headers(&[("x-hub-signature-256", &bad), ("x-github-event", "release")]);
        assert_eq!(
            verify_webhook(ForgeKind::GitHub, &h, &body, &secret())
                .unwrap_err()
                .code(),
            "INGEST_E018",
            "{bad}"
        );
    }
    let sha1_only = headers(&[
        ("x-hub-signature", "sha1=00"),
        ("x-github-event", "release"),
    ]);
    let e = verify_webhook(ForgeKind::GitHub, &sha1_only, &body, &secret()).unwrap_err();
    assert_eq!(e.code(), "INGEST_E017", "{e}");

    // Ping and other events verify but carry nothing to ingest.
    let ping = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&secret(), ping)),
        ("x-github-event", "ping"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitHub, &h, ping, &secret()).unwrap(),
        WebhookEvent::Ping
    );
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&secret(), ping)),
        ("x-github-event", "push"),
    ]);
    assert!(matches!(
        verify_webhook(ForgeKind::GitHub, &h, ping, &secret()).unwrap(),
        WebhookEvent::Other { .. }
    ));
    // A signed release event with a broken payload is a payload error, not a panic.
    let junk = br#"{"action":"published","release":{}}"#;
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&secret(), junk)),
        ("x-github-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitHub, &h, junk, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E020"
    );
}

#[test]
fn gitea_and_forgejo_signatures() {
    for action in ["published", "updated", "deleted"] {
        let body = hub_body(action);
        let sig = hmac_hex(&secret(), &body);
        let expected = match action {
            "published" => ReleaseAction::Published,
            "updated" => ReleaseAction::Updated,
            _ => ReleaseAction::Deleted,
        };
        let gitea = headers(&[("x-gitea-signature", &sig), ("x-gitea-event", "release")]);
        expect_release(
            verify_webhook(ForgeKind::Gitea, &gitea, &body, &secret()).unwrap(),
            expected.clone(),
        );
        let forgejo = headers(&[
            ("x-forgejo-signature", &sig),
            ("x-forgejo-event", "release"),
        ]);
        expect_release(
            verify_webhook(ForgeKind::Gitea, &forgejo, &body, &secret()).unwrap(),
            expected,
        );
    }
    let body = hub_body("published");
    let good = hmac_hex(&secret(), &body);
    let forged = hmac_hex(&Secret::new("another-secret-entirely"), &body);
    // Forged, or one good and one forged header: refused.
    let h = headers(&[("x-gitea-signature", &forged), ("x-gitea-event", "release")]);
    assert_eq!(
        verify_webhook(ForgeKind::Gitea, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E018"
    );
    let h = headers(&[
        ("x-gitea-signature", &good),
        ("x-forgejo-signature", &forged),
        ("x-gitea-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::Gitea, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E018"
    );
    // GitHub's prefixed form is not Gitea's.
    let h = headers(&[
        ("x-gitea-signature", &format!("sha256={good}")),
        ("x-gitea-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::Gitea, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E018"
    );
    // Missing.
    let h = headers(&[("x-gitea-event", "release")]);
    assert_eq!(
        verify_webhook(ForgeKind::Gitea, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E017"
    );
}

#[test]
fn gitlab_tokens() {
    let body = serde_json::to_vec(&json!({
        "object_kind": "release", "action": "create", "tag": "v1.2.3",
        "project": {"path_with_namespace": "Acme/Widget"},
    }))
    .unwrap();
    let good = headers(&[
        ("x-gitlab-token", SECRET),
        ("x-gitlab-event", "Release Hook"),
    ]);
    expect_release(
        verify_webhook(ForgeKind::GitLab, &good, &body, &secret()).unwrap(),
        ReleaseAction::Published,
    );
    for wrong in ["a-webhook-secret-of-some-lengtH", "a-webhook-secret", ""] {
        let h = headers(&[
            ("x-gitlab-token", wrong),
            ("x-gitlab-event", "Release Hook"),
        ]);
        assert_eq!(
            verify_webhook(ForgeKind::GitLab, &h, &body, &secret())
                .unwrap_err()
                .code(),
            "INGEST_E018",
            "{wrong:?}"
        );
    }
    let h = headers(&[("x-gitlab-event", "Release Hook")]);
    assert_eq!(
        verify_webhook(ForgeKind::GitLab, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E017"
    );
    // A GitHub-style signature does not stand in for the token.
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&secret(), &body)),
        ("x-gitlab-event", "Release Hook"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitLab, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E017"
    );
}

#[test]
fn oversize_bodies_and_weak_secrets_are_refused() {
    let body = vec![b' '; WEBHOOK_BODY_CAP_BYTES + 1];
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&secret(), &body)),
        ("x-github-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitHub, &h, &body, &secret())
            .unwrap_err()
            .code(),
        "INGEST_E019"
    );
    let weak = Secret::new("short");
    let body = hub_body("published");
    let h = headers(&[
        ("x-hub-signature-256", &github_signature(&weak, &body)),
        ("x-github-event", "release"),
    ]);
    assert_eq!(
        verify_webhook(ForgeKind::GitHub, &h, &body, &weak)
            .unwrap_err()
            .code(),
        "INGEST_E001"
    );
}
