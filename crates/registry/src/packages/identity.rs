//! Trusted-publisher matching on the registry's side: what a verified certificate
//! presents, read with the issuers this registry is configured with. The rule itself
//! (bindings, claim matching, refused events) lives in `vouch-binding`, which the
//! consumer calls too; see that crate for the rules.
//!
//! The repository owner's numeric id (Fulcio 1.17) is recorded on the first publish and
//! must not change afterwards; that check is the metadata store's, inside the publish
//! transaction (`MetaError::RepositoryOwnerChanged`).

use vouch_oidc::{FulcioExtension, IssuerConfig, Provider, San};
use vouch_store::meta::CiProvider;

pub use vouch_binding::{
    binding_provider, check, provider_name, select, CertClaims, Mismatch, Presented, Refusal,
    WorkflowClaim, REFUSED_EVENTS,
};

/// Reads what `claims` presents, using the configured issuers to know how.
pub fn present(claims: &CertClaims, issuers: &[IssuerConfig]) -> Result<Presented, Refusal> {
    let Some(cfg) = issuers.iter().find(|i| i.issuer() == claims.issuer) else {
        return Err(Refusal::NoBinding(format!(
            "identities from issuer {:?} cannot match a publisher binding: the issuer is not configured on this registry",
            claims.issuer
        )));
    };
    let missing = |claim: &str| {
        Refusal::Mismatch(format!(
            "the certificate lacks the `{claim}` claim a {} identity must carry",
            cfg.provider().name()
        ))
    };
    let (provider, server_url) = match cfg.provider() {
        Provider::Email => {
            let email = claims.san_email.clone().ok_or_else(|| missing("email"))?;
            return Ok(Presented::Email { email });
        }
        Provider::GitHubActions { server_url } => (CiProvider::Github, server_url.as_str()),
        Provider::ForgejoActions { server_url } => (CiProvider::Forgejo, server_url.as_str()),
        Provider::GitLabCi { server_url } => (CiProvider::Gitlab, server_url.as_str()),
        Provider::Buildkite => (CiProvider::Buildkite, ""),
        Provider::CircleCi => (CiProvider::Circleci, ""),
        _ => {
            return Err(Refusal::NoBinding(format!(
                "identities from issuer {:?} cannot match a publisher binding",
                claims.issuer
            )))
        }
    };
    vouch_binding::present_ci(provider, server_url, claims).map_err(|m| missing(m.0))
}

/// The certificate claims an identity token will be certified with (its SAN, issuer and
/// Fulcio extensions): what bindings are matched against at a token exchange.
pub(crate) fn token_claims(token: &vouch_oidc::VerifiedToken) -> CertClaims {
    let ext = |k| token.identity.extension(k).map(str::to_owned);
    let (san_uri, san_email) = match &token.identity.san {
        San::Uri(u) => (Some(u.clone()), None),
        San::Email(e) => (None, Some(e.clone())),
        _ => (None, None),
    };
    CertClaims {
        san_uri,
        san_email,
        issuer: token.issuer.clone(),
        build_signer_uri: ext(FulcioExtension::BuildSignerUri),
        build_config_uri: ext(FulcioExtension::BuildConfigUri),
        source_repository_uri: ext(FulcioExtension::SourceRepositoryUri),
        repository_owner_id: ext(FulcioExtension::SourceRepositoryOwnerIdentifier),
        build_trigger: ext(FulcioExtension::BuildTrigger),
        environment: ext(FulcioExtension::DeploymentEnvironment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_store::meta::Publisher;

    const GH: &str = "https://token.actions.githubusercontent.com";

    fn issuers() -> Vec<IssuerConfig> {
        vec![
            IssuerConfig::github_actions("sigstore"),
            IssuerConfig::gitlab_com("sigstore"),
            IssuerConfig::buildkite("sigstore"),
            IssuerConfig::new("https://mail.example", Provider::Email, "sigstore"),
        ]
    }

    fn gh_claims(repo: &str, workflow: &str, env: Option<&str>, event: &str) -> CertClaims {
        let job = format!("https://github.com/{repo}/{workflow}@refs/tags/v1");
        CertClaims {
            san_uri: Some(job.clone()),
            san_email: None,
            issuer: GH.into(),
            build_signer_uri: Some(job),
            build_config_uri: None,
            source_repository_uri: Some(format!("https://github.com/{repo}")),
            repository_owner_id: Some("1001".into()),
            build_trigger: Some(event.into()),
            environment: env.map(str::to_owned),
        }
    }

    fn gh_binding(repo: &str, workflow: &str, env: Option<&str>) -> Publisher {
        Publisher::Ci {
            provider: CiProvider::Github,
            repository: repo.into(),
            workflow: workflow.into(),
            environment: env.map(str::to_owned),
        }
    }

    fn sel(bindings: &[Publisher], p: &Presented) -> Result<usize, Refusal> {
        select(
            bindings.iter().enumerate().map(|(i, b)| (i as i64 + 1, b)),
            p,
            "@a/b",
        )
    }

    const WF: &str = ".github/workflows/release.yml";

    #[test]
    fn github_identity_is_read_from_fulcio_claims() {
        let p = present(&gh_claims("Org/Repo", WF, Some("prod"), "push"), &issuers()).unwrap();
        assert_eq!(
            p,
            Presented::Ci {
                provider: CiProvider::Github,
                repository: "Org/Repo".into(),
                workflow: WorkflowClaim::Ref {
                    repository: "Org/Repo".into(),
                    path: WF.into(),
                    git_ref: "refs/tags/v1".into()
                },
                caller: None,
                environment: Some("prod".into()),
                event_name: Some("push".into()),
                repository_owner_id: Some("1001".into()),
            }
        );
    }

    #[test]
    fn repository_and_environment_compare_case_insensitively_workflow_exactly() {
        let p = present(&gh_claims("ORG/repo", WF, Some("PROD"), "push"), &issuers()).unwrap();
        assert_eq!(sel(&[gh_binding("org/Repo", WF, Some("prod"))], &p), Ok(0));
        let upper = ".github/workflows/Release.yml";
        let err = sel(&[gh_binding("org/repo", upper, None)], &p).unwrap_err();
        assert!(
            matches!(&err, Refusal::Mismatch(d) if d.contains("job_workflow_ref")),
            "{err:?}"
        );
    }

    #[test]
    fn any_ref_publishes_and_no_environment_accepts_any() {
        let mut c = gh_claims("o/r", WF, Some("staging"), "release");
        c.build_signer_uri = Some(format!("https://github.com/o/r/{WF}@refs/heads/feature"));
        let p = present(&c, &issuers()).unwrap();
        assert_eq!(sel(&[gh_binding("o/r", WF, None)], &p), Ok(0));
    }

    #[test]
    fn each_mismatching_claim_is_named() {
        let p = present(&gh_claims("o/r", WF, Some("dev"), "push"), &issuers()).unwrap();
        let cases = [
            (gh_binding("o/other", WF, None), "`repository`"),
            (
                gh_binding("o/r", ".github/workflows/x.yml", None),
                "`job_workflow_ref`",
            ),
            (gh_binding("o/r", WF, Some("prod")), "`environment`"),
        ];
        for (b, claim) in cases {
            match sel(&[b], &p) {
                Err(Refusal::Mismatch(d)) => assert!(d.contains(claim), "{d}"),
                other => panic!("{claim}: {other:?}"),
            }
        }
        // A binding requiring an environment refuses a job without one.
        let none = present(&gh_claims("o/r", WF, None, "push"), &issuers()).unwrap();
        assert!(matches!(
            sel(&[gh_binding("o/r", WF, Some("prod"))], &none),
            Err(Refusal::Mismatch(d)) if d.contains("`environment`")
        ));
    }

    #[test]
    fn reusable_workflow_from_another_repository_does_not_match() {
        // The same case is refused by the consumer (vouch-consumer's claims tests,
        // FETCH_E003): both sides run `vouch_binding::check`.
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = Some(format!("https://github.com/evil/r/{WF}@refs/heads/main"));
        let p = present(&c, &issuers()).unwrap();
        let Err(Refusal::Mismatch(d)) = sel(&[gh_binding("o/r", WF, None)], &p) else {
            panic!("a reusable workflow from another repository matched");
        };
        assert!(d.contains("job_workflow_ref"), "{d}");
        // The publish path answers this refusal with PUB_E006.
        assert_eq!(
            vouch_package::PublishError::IdentityMismatch { detail: d }.code(),
            "PUB_E006"
        );
    }

    #[test]
    fn dangerous_events_are_refused() {
        for event in REFUSED_EVENTS {
            let p = present(&gh_claims("o/r", WF, None, event), &issuers()).unwrap();
            match sel(&[gh_binding("o/r", WF, None)], &p) {
                Err(Refusal::Mismatch(d)) => assert!(d.contains("event_name"), "{d}"),
                other => panic!("{event}: {other:?}"),
            }
        }
    }

    #[test]
    fn nothing_registered_for_the_provider_is_no_binding() {
        let p = present(&gh_claims("o/r", WF, None, "push"), &issuers()).unwrap();
        assert!(matches!(sel(&[], &p), Err(Refusal::NoBinding(_))));
        let email = Publisher::Email {
            email: "a@b.c".into(),
        };
        assert!(matches!(sel(&[email], &p), Err(Refusal::NoBinding(_))));
        let mut c = gh_claims("o/r", WF, None, "push");
        c.issuer = "https://unknown.example".into();
        assert!(matches!(
            present(&c, &issuers()),
            Err(Refusal::NoBinding(_))
        ));
    }

    #[test]
    fn nearest_binding_is_reported() {
        let p = present(&gh_claims("o/r", WF, Some("dev"), "push"), &issuers()).unwrap();
        let bindings = [
            gh_binding("x/y", WF, None),
            gh_binding("o/r", WF, Some("prod")),
        ];
        match sel(&bindings, &p) {
            Err(Refusal::Mismatch(d)) => {
                assert!(d.contains("binding 2") && d.contains("environment"), "{d}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_claims_fail_closed() {
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = None;
        assert!(
            matches!(present(&c, &issuers()), Err(Refusal::Mismatch(d)) if d.contains("job_workflow_ref"))
        );
        let mut c = gh_claims("o/r", WF, None, "push");
        c.source_repository_uri = Some("https://evil.example/o/r".into());
        assert!(matches!(present(&c, &issuers()), Err(Refusal::Mismatch(_))));
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = Some("https://github.com/o/r@refs/heads/main".into());
        assert!(matches!(present(&c, &issuers()), Err(Refusal::Mismatch(_))));
    }

    #[test]
    fn gitlab_buildkite_circleci_and_email() {
        let c = CertClaims {
            san_uri: Some("https://gitlab.com/g/sub/p//ci/release.yml@refs/heads/main".into()),
            issuer: "https://gitlab.com".into(),
            build_signer_uri: Some(
                "https://gitlab.com/g/sub/p//ci/release.yml@refs/heads/main".into(),
            ),
            source_repository_uri: Some("https://gitlab.com/g/sub/p".into()),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let b = Publisher::Ci {
            provider: CiProvider::Gitlab,
            repository: "G/Sub/P".into(),
            workflow: "ci/release.yml".into(),
            environment: None,
        };
        assert_eq!(sel(&[b], &p), Ok(0));

        let c = CertClaims {
            san_uri: Some("https://buildkite.com/acme/release".into()),
            issuer: "https://agent.buildkite.com".into(),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let b = Publisher::Ci {
            provider: CiProvider::Buildkite,
            repository: "acme/release".into(),
            workflow: String::new(),
            environment: None,
        };
        assert_eq!(sel(&[b], &p), Ok(0));

        let mut all = issuers();
        all.push(IssuerConfig::circleci("org-1", "sigstore"));
        let circle_issuer = all.last().unwrap().issuer().to_owned();
        let c = CertClaims {
            san_uri: Some(
                "https://circleci.com/api/v2/projects/p-1/pipeline-definitions/d-9".into(),
            ),
            issuer: circle_issuer,
            ..CertClaims::default()
        };
        let p = present(&c, &all).unwrap();
        let b = |d: &str| Publisher::Ci {
            provider: CiProvider::Circleci,
            repository: "p-1".into(),
            workflow: d.into(),
            environment: None,
        };
        assert_eq!(sel(&[b("d-9")], &p), Ok(0));
        assert!(matches!(sel(&[b("d-8")], &p), Err(Refusal::Mismatch(_))));

        let c = CertClaims {
            san_email: Some("Dev@Example.org".into()),
            issuer: "https://mail.example".into(),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let e = |m: &str| Publisher::Email { email: m.into() };
        assert_eq!(sel(&[e("dev@example.ORG")], &p), Ok(0));
        assert!(matches!(
            sel(&[e("x@example.org")], &p),
            Err(Refusal::Mismatch(_))
        ));
    }
}
