//! The publisher side of vouch as a library: the CI's OIDC identity token (a flag, a
//! file, GitHub Actions, GitLab CI, Buildkite, CircleCI), the in-toto Statement with SLSA provenance v1 built
//! from it, pack -> sign -> upload to a registry, trusted-publisher bindings, and keyless
//! signing of a single file (`vouch sign`).
//!
//! Nothing here prints, draws progress bars or knows exit statuses: results are returned
//! as data, failures as [`Error`] (a [`CodedError`] with its stable `PUB_E`/`SIGN_E`/`REG_E`
//! code, or an uncoded local failure), and long steps report to a [`Progress`] (a step
//! without a byte count, such as "signing", starts with a total of 0).
//! The CI environment is an explicit input ([`CiEnv`]). Each result renders itself as
//! its command's `--json` object (`to_json`) and text lines (`lines`).
//!
//! Publishing a directory from another Rust program:
//!
//! ```no_run
//! use vouch_publisher::{publish_dir, CiEnv, PublishRequest, TokenSource};
//!
//! # async fn run() -> Result<(), vouch_publisher::Error> {
//! let req = PublishRequest {
//!     dir: "./my-package".into(),
//!     server: "https://registry.example".into(),
//!     token: TokenSource::default(), // the CI job supplies it
//!     archive_out: None,
//!     sign_in: None, // CI: no browser sign-in
//! };
//! let published = publish_dir(&req, &CiEnv::process(), &vouch_api_client::NoProgress).await?;
//! eprintln!("{}@{} signed by {}", published.name, published.version, published.identity);
//! # Ok(())
//! # }
//! ```

pub mod attest_pypi;
pub mod bench;
pub mod browser_login;
pub mod device_login;
mod error;
pub mod laptop;
mod publish;
mod register;
mod report;
pub mod sign;
mod statement;
mod token;

pub use error::{Error, Result};
pub use laptop::SignIn;
pub use publish::{pack_dir, publish_dir, Archive, PublishRequest, Published, Publisher, Upload};
pub use register::{register, Provider, Registered, Registration};
pub use statement::{slsa_statement, SLSA_PREDICATE, STATEMENT_TYPE};
pub use token::{identity_token, CiEnv, Token, TokenSource};
pub use vouch_api_client::{CodedError, Outcome, Progress};
