//! The development OIDC issuer behind `vouch serve --dev` and `vouch dev token`: one ES256 or
//! RS256 key, the discovery document and JWKS for an issuer URL, and tokens shaped like GitHub
//! Actions tokens, so the certificate identity is `https://github.com/REPOSITORY/PATH@REF`.
//! It is never configured implicitly: the server decides when it exists.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::config::{IssuerConfig, Provider};
use crate::error::OidcError;
use crate::jose::{b64, Algorithm};

/// Lifetime of minted tokens (GitHub's are of the same order).
pub const DEV_TOKEN_LIFETIME_SECS: i64 = 300;
/// Audience used when a request names none: Fulcio's client id, which Sigstore clients ask for.
pub const DEFAULT_AUDIENCE: &str = "sigstore";
/// Where the JWKS lives, relative to the issuer URL.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the discovery document lives, relative to the issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

enum DevKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// The development issuer: a signing key bound to an issuer URL.
pub struct DevIssuer {
    issuer: String,
    key: DevKey,
    kid: String,
    public_jwk: Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish()
    }
}

/// What a minted token is for. Build with [`DevTokenRequest::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevTokenRequest {
    /// `OWNER/REPO`.
    pub repository: String,
    /// Workflow file path in the repository, e.g. `.github/workflows/release.yml`.
    pub workflow: String,
    /// Full git ref, e.g. `refs/heads/main` (a bare name is taken as a branch).
    pub git_ref: String,
    /// Deployment environment, if any.
    pub environment: Option<String>,
    /// Audience; [`DEFAULT_AUDIENCE`] unless set.
    pub audience: String,
}

impl DevTokenRequest {
    /// A request for `repository`'s `workflow` at `git_ref`, no environment, default audience.
    pub fn new(
        repository: impl Into<String>,
        workflow: impl Into<String>,
        git_ref: impl Into<String>,
    ) -> Self {
        DevTokenRequest {
            repository: repository.into(),
            workflow: workflow.into(),
            git_ref: git_ref.into(),
            environment: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
        }
    }

    /// Sets the deployment environment.
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }
}

/// The key type of a new development issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevKeyAlgorithm {
    /// ECDSA P-256 (the default choice: small and fast).
    Es256,
    /// RSA 2048 with PKCS#1 v1.5.
    Rs256,
}

fn key_error(problem: &'static str) -> OidcError {
    OidcError::SigningKey { problem }
}

impl DevIssuer {
    /// Generates a fresh key for `issuer_url` (the URL tokens name in `iss` and under which
    /// the server serves [`DISCOVERY_PATH`] and [`JWKS_PATH`]).
    pub fn generate(issuer_url: &str, alg: DevKeyAlgorithm) -> Result<Self, OidcError> {
        let key = match alg {
            DevKeyAlgorithm::Es256 => DevKey::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| key_error("generating a P-256 key failed"))?,
            ),
            DevKeyAlgorithm::Rs256 => DevKey::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| key_error("generating an RSA key failed"))?,
            ),
        };
        Self::with_key(issuer_url, key)
    }

    /// Restores an issuer from [`DevIssuer::to_pkcs8_pem`] output.
    pub fn from_pkcs8_pem(issuer_url: &str, pem: &str) -> Result<Self, OidcError> {
        let der = Zeroizing::new(
            pem_to_der(pem).ok_or_else(|| key_error("not a PKCS#8 PEM private key"))?,
        );
        let key = match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der) {
            Ok(ec) => DevKey::Ec(ec),
            Err(_) => DevKey::Rsa(
                RsaKeyPair::from_pkcs8(&der)
                    .map_err(|_| key_error("PKCS#8 key is neither P-256 nor RSA"))?,
            ),
        };
        Self::with_key(issuer_url, key)
    }

    /// The private key as PKCS#8 PEM, for the server to store (encrypted) and restore with
    /// [`DevIssuer::from_pkcs8_pem`]. Zeroised on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, OidcError> {
        let der: Zeroizing<Vec<u8>> = Zeroizing::new(match &self.key {
            DevKey::Ec(k) => k
                .to_pkcs8v1()
                .map_err(|_| key_error("encoding the key failed"))?
                .as_ref()
                .to_vec(),
            DevKey::Rsa(k) => {
                let encoded = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(k)
                    .map_err(|_| key_error("encoding the key failed"))?;
                encoded.as_ref().to_vec()
            }
        });
        let body = Zeroizing::new(STANDARD.encode(der.as_slice()));
        let mut pem = Zeroizing::new(String::with_capacity(body.len() + 80));
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(
                std::str::from_utf8(line).map_err(|_| key_error("encoding the key failed"))?,
            );
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }

    fn with_key(issuer_url: &str, key: DevKey) -> Result<Self, OidcError> {
        let issuer = issuer_url.trim_end_matches('/').to_owned();
        if issuer.is_empty() {
            return Err(OidcError::Config {
                problem: "empty dev issuer URL".to_owned(),
            });
        }
        let (public_jwk, thumbprint_input) = match &key {
            DevKey::Ec(k) => {
                // The uncompressed SEC1 point, 04 || x || y, is 65 bytes for P-256.
                let point = k.public_key().as_ref();
                let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                    return Err(key_error("unexpected P-256 public key encoding"));
                };
                let (x, y) = (b64(x), b64(y));
                // RFC 7638 §3.2: required members, lexicographic order, no whitespace.
                let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                    canonical,
                )
            }
            DevKey::Rsa(k) => {
                let public = k.public_key();
                let n = b64(public.modulus().big_endian_without_leading_zero());
                let e = b64(public.exponent().big_endian_without_leading_zero());
                let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (json!({"kty": "RSA", "n": n, "e": e}), canonical)
            }
        };
        let kid = b64(digest(&SHA256, thumbprint_input.as_bytes()).as_ref());
        let mut public_jwk = public_jwk;
        if let Value::Object(members) = &mut public_jwk {
            let alg = match &key {
                DevKey::Ec(_) => Algorithm::Es256,
                DevKey::Rsa(_) => Algorithm::Rs256,
            };
            members.insert("kid".to_owned(), Value::String(kid.clone()));
            members.insert("alg".to_owned(), Value::String(alg.name().to_owned()));
            members.insert("use".to_owned(), Value::String("sig".to_owned()));
        }
        Ok(DevIssuer {
            issuer,
            key,
            kid,
            public_jwk,
            rng: SystemRandom::new(),
        })
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id (RFC 7638 thumbprint of the public key).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            DevKey::Ec(_) => Algorithm::Es256,
            DevKey::Rsa(_) => Algorithm::Rs256,
        }
    }

    /// URL of the discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.issuer)
    }

    /// URL of the JWKS.
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.issuer)
    }

    /// The discovery document (JSON) to serve at [`DevIssuer::discovery_url`].
    pub fn discovery_document(&self) -> String {
        json!({
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url(),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm().name()],
            "scopes_supported": ["openid"],
            "claims_supported": [
                "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
                "repository_id", "repository_owner", "repository_owner_id", "run_id",
                "run_number", "run_attempt", "actor", "actor_id", "workflow", "workflow_ref",
                "workflow_sha", "job_workflow_ref", "job_workflow_sha", "event_name",
                "ref_type", "environment", "runner_environment", "repository_visibility"
            ],
        })
        .to_string()
    }

    /// The JWKS (JSON) to serve at [`DevIssuer::jwks_url`].
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.public_jwk] }).to_string()
    }

    /// An [`IssuerConfig`] trusting this issuer with GitHub Actions claim mapping.
    pub fn issuer_config(&self, audience: impl Into<String>) -> IssuerConfig {
        IssuerConfig::new(self.issuer.clone(), Provider::github(), audience)
    }

    /// Mints a GitHub-Actions-shaped token valid from `now` for [`DEV_TOKEN_LIFETIME_SECS`].
    pub fn mint(&self, request: &DevTokenRequest, now: UnixTime) -> Result<String, OidcError> {
        let claims = crate::dev_claims::claims(self, request, now)?;
        self.sign_claims(&claims, Some(&self.kid))
    }

    /// The claims [`DevIssuer::mint`] would sign, for callers (and tests) that adjust them
    /// before signing with [`DevIssuer::sign_claims`].
    pub fn claims_for(&self, request: &DevTokenRequest, now: UnixTime) -> Result<Value, OidcError> {
        crate::dev_claims::claims(self, request, now)
    }

    /// Signs arbitrary `claims` with this issuer's key, naming `kid` in the header (or none).
    /// For tests and tooling: the verifier treats the result like any other token.
    pub fn sign_claims(&self, claims: &Value, kid: Option<&str>) -> Result<String, OidcError> {
        let mut header = json!({ "alg": self.algorithm().name(), "typ": "JWT" });
        if let (Some(kid), Value::Object(members)) = (kid, &mut header) {
            members.insert("kid".to_owned(), Value::String(kid.to_owned()));
        }
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }

    pub(crate) fn random_bytes<const N: usize>(&self) -> Result<[u8; N], OidcError> {
        let mut bytes = [0u8; N];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| key_error("the system random source failed"))?;
        Ok(bytes)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, OidcError> {
        match &self.key {
            DevKey::Ec(k) => Ok(k
                .sign(&self.rng, message)
                .map_err(|_| key_error("signing failed"))?
                .as_ref()
                .to_vec()),
            DevKey::Rsa(k) => {
                let mut signature = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
                    .map_err(|_| key_error("signing failed"))?;
                Ok(signature)
            }
        }
    }
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let joined: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    STANDARD.decode(joined.as_bytes()).ok()
}
