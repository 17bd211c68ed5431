//! `vouch sign`: keyless signing of one file or one in-toto statement (the work is
//! `vouch_publisher::sign::sign_file`), printing what was signed.

use std::path::PathBuf;

use vouch_publisher::sign::{sign_file, SignRequest};
use vouch_publisher::CiEnv;

use super::flags::{ServicesArgs, TokenArgs};
use super::registry_api::{runtime, TermProgress};
use crate::output::{answer, from_publisher, Exit};

/// Sign FILE with a short-lived certificate for your OIDC identity: no key to keep.
///
/// A fresh P-256 key is made in memory; the CA certifies it for the identity in
/// --identity-token (checked: it chains to the trusted root, its SCT verifies, it is for
/// our key); the signature is timestamped by the TSA and recorded in the transparency
/// log (whose inclusion proof and signed checkpoint are checked); the key is then
/// forgotten. The Sigstore bundle v0.3 written to --bundle is what `vouch verify` and
/// sigstore-python (`sigstore verify identity`) check.
///
/// Without --in-toto, FILE's SHA-256 is signed (streamed; any size). With --in-toto,
/// FILE is an in-toto Statement (JSON) signed as a DSSE envelope.
///
/// Without --identity-token (or --identity-token-file), the CI's ambient token is used,
/// as `vouch publish` does: GitHub Actions (`id-token: write`), GitLab CI, Buildkite,
/// CircleCI. Outside CI, a browser sign-in: the URL is printed to stderr (see
/// --oidc-issuer, --open).
///
/// Services come from the server's trust configuration (--server, or VOUCH_SERVER:
/// GET /api/v1/trust-config) or from a saved one (--trust-config FILE, e.g. from
/// `vouch trust-config --server URL --out FILE`).
///
/// Examples:
///
///   TOKEN=$(vouch dev token --server http://127.0.0.1:8080 --repository octo/demo \
///           --workflow .github/workflows/release.yml --ref refs/heads/main)
///
///   vouch sign dist/app.tar.gz --identity-token "$TOKEN" --bundle app.tar.gz.sigstore.json \
///       --server http://127.0.0.1:8080
///
///   vouch verify dist/app.tar.gz --bundle app.tar.gz.sigstore.json \
///       --certificate-identity https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main \
///       --certificate-oidc-issuer http://127.0.0.1:8080/oidc --trusted-root root.json
///
/// Errors carry SIGN_E0xx codes (crate vouch-sign's table): E005 the CA refused the token
/// (expired, wrong audience), E006/E011/E014 a service is unreachable, E008-E010 and
/// E013/E016-E018 a service answered something that does not check out. Exit 2 on any
/// error.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// The file to sign (with --in-toto: an in-toto Statement JSON).
    #[arg(value_name = "FILE", required = true)]
    file: Option<PathBuf>,
    #[command(flatten)]
    token: TokenArgs,
    /// Sign with this managed key instead of a certificate for an identity: an
    /// unencrypted ECDSA P-256 private key in PEM (PKCS#8 or SEC1; `vouch keygen
    /// signing-key`, or a cosign key exported unencrypted). The bundle names the key by a
    /// hint and is verified with `vouch verify --key PUBLIC.pem`; it is still logged.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["identity_token", "identity_token_file"])]
    key: Option<PathBuf>,
    /// FILE is an in-toto Statement: sign it as a DSSE envelope.
    #[arg(long)]
    in_toto: bool,
    /// Where to write the Sigstore bundle (JSON).
    #[arg(long, value_name = "OUT", required = true)]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    services: ServicesArgs,
    #[command(flatten)]
    sign_in: SignInArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// How a laptop signs in when there is no token and no CI.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct SignInArgs {
    /// Outside CI with no token: the OIDC issuer to sign in at (default
    /// SERVER/oidc/email, the `--dev` email issuer). The URL is printed to stderr.
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
    /// Also open the sign-in URL in the desktop's browser.
    #[arg(long)]
    open: bool,
    /// Sign in with a code typed on any device (OAuth device flow, RFC 8628) instead of a
    /// browser redirect to this machine; chosen by itself in an SSH session without a
    /// display.
    #[arg(long)]
    device: bool,
}

impl SignInArgs {
    pub(super) fn sign_in(&self) -> vouch_publisher::SignIn {
        vouch_publisher::SignIn {
            issuer: self.oidc_issuer.clone(),
            open_browser: self.open,
            device: self.device,
        }
    }

    /// Whether a flag asked for the laptop sign-in.
    pub(super) fn asked(&self) -> bool {
        self.oidc_issuer.is_some() || self.open || self.device
    }
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Sign a container image in an OCI registry as cosign v3 does: a Sigstore bundle
    /// (statement https://sigstore.dev/cosign/sign/v1 about the image digest) attached as
    /// an OCI 1.1 referrer, or under the `sha256-<hex>` tag when the registry has no
    /// referrers API. From cosign: `cosign sign IMAGE` -> `vouch sign image IMAGE`;
    /// cosign 2.x's `sha256-<hex>.sig` tag -> `--legacy-tag`.
    Image(Box<super::image_sign::Signer>),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if let Some(Sub::Image(s)) = args.sub {
        return super::image_sign::run(*s, None);
    }
    // clap requires both unless a subcommand was chosen.
    let (Some(file), Some(bundle)) = (args.file, args.bundle) else {
        anyhow::bail!("FILE and --bundle are required");
    };
    let req = SignRequest {
        file,
        in_toto: args.in_toto,
        identity_token: args.token.identity_token,
        identity_token_file: args.token.identity_token_file,
        key: args.key,
        services: args.services.services()?,
        tls_ca: args.services.tls_ca,
        bundle,
        sign_in: args.sign_in.sign_in(),
    };
    let s = runtime()?
        .block_on(sign_file(&req, &CiEnv::process(), &TermProgress::default()))
        .map_err(from_publisher)?;
    answer(args.json, &s.to_json(&req), &s.lines(&req))
}
