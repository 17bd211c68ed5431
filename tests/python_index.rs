//! The Python index end to end (issue 18): `vouch serve --dev` over TLS on loopback; uv (PyPI, pinned) builds a project, `vouch attest pypi` signs wheel and sdist (PEP 740) and `uv publish --trusted-publishing always` uploads them with their attestations with a GitHub-Actions-shaped environment pointing at the dev issuer; pip (`--require-hashes`) and `uv pip` install it from `/simple/` in fresh venvs; the served provenance verifies with pypi-attestations + sigstore-python and with `vouch verify pypi --index` (another repository refused); twine uploads with a minted token; and the refusals: a token from another workflow at mint-token (naming the claim), a re-upload with other bytes, an attestation for other bytes, each storing nothing.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod serve_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

const REPOSITORY: &str = "octo/hello";
const WORKFLOW: &str = ".github/workflows/release.yml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    root().join("target/py-venv/bin").join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A test CA and a leaf for 127.0.0.1 signed by it (openssl).
fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    let ossl = |args: &[&str]| {
        run(Command::new("openssl").args(args).current_dir(dir));
    };
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=vouch test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
    ]);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "tls.crt",
    ]);
    (p("ca.crt"), p("tls.crt"), p("tls.key"))
}

/// What `ACTIONS_ID_TOKEN_REQUEST_TOKEN` holds for the dev issuer: the claims to mint.
fn request_token(workflow: &str) -> String {
    let json = serde_json::json!({
        "repository": REPOSITORY,
        "workflow": workflow,
        "ref": "refs/tags/v0.1.0",
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

struct Env {
    url: String,
    ca: PathBuf,
    _server: serve_support::Server,
    data: PathBuf,
}

impl Env {
    /// `curl` against the server; returns (status, body).
    fn curl(&self, args: &[&str]) -> (u16, String) {
        let out = run(Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&self.ca)
            .args(["-w", "\n%{http_code}"])
            .args(args));
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.parse().unwrap(), body.to_owned())
    }

    fn actions_url(&self) -> String {
        format!("{}/oidc/github/token?api-version=2.0", self.url)
    }

    /// A GitHub-shaped OIDC token for `workflow`, fetched as a CI job would.
    fn ci_token(&self, workflow: &str) -> String {
        let audience: serde_json::Value =
            serde_json::from_str(&self.curl(&[&format!("{}/_/oidc/audience", self.url)]).1)
                .unwrap();
        let aud = audience["audience"].as_str().unwrap();
        let (status, body) = self.curl(&[
            "-G",
            "--data-urlencode",
            &format!("audience={aud}"),
            "-H",
            &format!("Authorization: bearer {}", request_token(workflow)),
            &self.actions_url(),
        ]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// POST /_/oidc/mint-token.
    fn mint(&self, jwt: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            &serde_json::json!({ "token": jwt }).to_string(),
            &format!("{}/_/oidc/mint-token", self.url),
        ]);
        (status, serde_json::from_str(&body).unwrap())
    }

    fn simple_json(&self, project: &str) -> serde_json::Value {
        let (status, body) = self.curl(&[
            "-H",
            "Accept: application/vnd.pypi.simple.v1+json",
            &format!("{}/simple/{project}/", self.url),
        ]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// An upload the way twine and uv form it, with curl.
    fn upload(&self, token: &str, file: &Path, extra: &[&str]) -> (u16, serde_json::Value) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let filetype = if name.ends_with(".whl") {
            "bdist_wheel"
        } else {
            "sdist"
        };
        let mut args: Vec<String> = vec![
            "-u".into(),
            format!("__token__:{token}"),
            "-F".into(),
            ":action=file_upload".into(),
            "-F".into(),
            "protocol_version=1".into(),
            "-F".into(),
            "name=hello-vouch".into(),
            "-F".into(),
            "version=0.1.0".into(),
            "-F".into(),
            format!("filetype={filetype}"),
            "-F".into(),
            format!("content=@{}", file.display()),
        ];
        for e in extra {
            args.push("-F".into());
            args.push((*e).to_owned());
        }
        args.push(format!("{}/legacy/", self.url));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, body) = self.curl(&refs);
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::json!({ "text": body })),
        )
    }

    /// `vouch attest pypi` for `files`, with a CA token for the release workflow at the
    /// tag the CI tokens carry (the identity the upload token will carry).
    fn attest(&self, files: &[&Path]) {
        self.attest_as(WORKFLOW, files);
    }

    /// `vouch attest pypi` as `workflow` of the repository.
    fn attest_as(&self, workflow: &str, files: &[&Path]) {
        let ca = self.ca.to_str().unwrap();
        let token = run(Command::new(env!("CARGO_BIN_EXE_vouch")).args([
            "dev",
            "token",
            "--server",
            &self.url,
            "--tls-ca",
            ca,
            "--repository",
            REPOSITORY,
            "--workflow",
            workflow,
            "--ref",
            "refs/tags/v0.1.0",
        ]));
        let token = String::from_utf8(token.stdout).unwrap();
        run(Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["attest", "pypi", "--server", &self.url, "--tls-ca", ca])
            .args(["--identity-token", token.trim()])
            .args(files));
    }

    /// The trusted root of this server's trust configuration, as a file.
    fn trusted_root(&self) -> PathBuf {
        let (status, body) = self.curl(&[&format!("{}/api/v1/trust-config", self.url)]);
        assert_eq!(status, 200, "{body}");
        let config: serde_json::Value = serde_json::from_str(&body).unwrap();
        let path = self.data.parent().unwrap().join("trusted_root.json");
        std::fs::write(&path, config["trustedRoot"].to_string()).unwrap();
        path
    }

    /// The provenance at `url` verifies for `dist` with pypi-attestations (`Provenance`,
    /// `Attestation.to_bundle()`) and sigstore-python's `Verifier` with vouch's root.
    fn check_provenance(&self, dist: &Path, url: &str) {
        let (status, body) = self.curl(&[url]);
        assert_eq!(status, 200, "{body}");
        let file = self.data.parent().unwrap().join("provenance.json");
        std::fs::write(&file, &body).unwrap();
        let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@refs/tags/v0.1.0");
        let out = run(Command::new(venv_bin("python"))
            .args(["-c", PY_PROVENANCE])
            .arg(dist)
            .arg(&file)
            .arg(self.trusted_root())
            .arg(&identity)
            .arg(format!("{}/oidc", self.url))
            .arg(format!("https://github.com/{REPOSITORY}")));
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("OK"),
            "{out:?}"
        );
    }

    /// `vouch verify pypi DIST --index URL/simple/ --repository REPO`.
    fn verify_index(&self, dist: &Path, repository: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["verify", "pypi"])
            .arg(dist)
            .args(["--index", &format!("{}/simple/", self.url), "--tls-ca"])
            .arg(&self.ca)
            .args(["--repository", repository, "--certificate-oidc-issuer"])
            .arg(format!("{}/oidc", self.url))
            .arg("--trusted-root")
            .arg(self.trusted_root())
            .output()
            .unwrap()
    }

    /// Every file under the data directory but the metadata database's own.
    fn stored_files(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if !p.to_string_lossy().contains(".db")
                    && !p.to_string_lossy().contains("sqlite")
                {
                    out.insert(p);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.data, &mut out);
        out
    }
}

/// pypi-attestations reads the provenance; every attestation converts to a bundle that
/// sigstore-python verifies with vouch's root for the workflow's identity, and its
/// statement's one subject is the dist's name and digest; the publisher is the binding's.
const PY_PROVENANCE: &str = r#"
import json, pathlib, sys
from pypi_attestations import Distribution, Provenance
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier, policy
dist, provenance, root, identity, issuer, repository = sys.argv[1:]
p = Provenance.model_validate_json(open(provenance, "rb").read())
d = Distribution.from_file(pathlib.Path(dist))
verifier = Verifier(trusted_root=TrustedRoot.from_file(root))
pol = policy.AllOf([policy.Identity(identity=identity, issuer=issuer), policy.OIDCSourceRepositoryURI(repository)])
n = 0
for bundle in p.attestation_bundles:
    assert bundle.publisher.kind == "GitHub", bundle.publisher
    assert bundle.publisher.repository == "octo/hello", bundle.publisher
    assert bundle.publisher.workflow == "release.yml", bundle.publisher
    for a in bundle.attestations:
        type_, payload = verifier.verify_dsse(a.to_bundle(), pol)
        s = json.loads(payload)
        assert type_ == "application/vnd.in-toto+json", type_
        assert len(s["subject"]) == 1 and s["subject"][0]["name"] == d.name, s
        assert s["subject"][0]["digest"]["sha256"] == d.digest, s
        n += 1
assert n >= 1
print("OK", n)
"#;

fn build_project(dir: &Path, greeting: &str) -> PathBuf {
    let proj = dir.join("proj");
    let _ = std::fs::remove_dir_all(&proj);
    std::fs::create_dir_all(proj.join("src/hello_vouch")).unwrap();
    std::fs::write(
        proj.join("pyproject.toml"),
        "[project]\nname = \"hello-vouch\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\n\n[build-system]\nrequires = [\"uv_build>=0.13,<0.14\"]\nbuild-backend = \"uv_build\"\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("src/hello_vouch/__init__.py"),
        format!("GREETING = {greeting:?}\n"),
    )
    .unwrap();
    // uv 0.13 builds with its own uv_build backend: no download.
    run(Command::new(venv_bin("uv"))
        .args(["build", "--offline"])
        .current_dir(&proj));
    proj.join("dist")
}

#[test]
fn uv_publishes_and_pip_and_uv_install_over_tls() {
    vouch_testkit::process::py_venv();
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_tls(tmp.path());
    let data = tmp.path().join("data");
    let server = serve_support::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let env = Env {
        url: server.url.clone(),
        ca: ca.clone(),
        data: data.clone(),
        _server: server,
    };

    // The project's trusted publisher, registered by the dev owner before it exists.
    let owner = std::fs::read_to_string(data.join("owner.token")).unwrap();
    let (status, body) = env.curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {}", owner.trim()),
        "-H",
        "Content-Type: application/json",
        "--data",
        &serde_json::json!({
            "package": "@pypi/hello-vouch",
            "provider": "github",
            "repository": REPOSITORY,
            "workflow": WORKFLOW,
        })
        .to_string(),
        &format!("{}/api/v1/publishers", env.url),
    ]);
    assert!(status == 200 || status == 201, "{status} {body}");

    // A token from another workflow of the same repository is refused at mint-token,
    // naming the claim.
    let (status, refused) = env.mint(&env.ci_token(".github/workflows/other.yml"));
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "PUB_E006", "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("job_workflow_ref"),
        "{refused}"
    );

    // uv builds; vouch attest pypi signs wheel and sdist as the release workflow.
    let dist = build_project(tmp.path(), "hello from vouch");
    let wheel_path = dist.join("hello_vouch-0.1.0-py3-none-any.whl");
    let sdist_path = dist.join("hello_vouch-0.1.0.tar.gz");
    env.attest(&[&wheel_path, &sdist_path]);
    assert!(PathBuf::from(format!("{}.publish.attestation", wheel_path.display())).exists());

    // uv publishes with trusted publishing, as in GitHub Actions (given `dist/*`, it
    // groups each `.publish.attestation` with its dist and uploads them together).
    let out = run(Command::new(venv_bin("uv"))
        .args(["publish", "--trusted-publishing", "always", "--publish-url"])
        .arg(format!("{}/legacy/", env.url))
        .arg(&wheel_path)
        .arg(dist.join("hello_vouch-0.1.0-py3-none-any.whl.publish.attestation"))
        .arg(&sdist_path)
        .arg(dist.join("hello_vouch-0.1.0.tar.gz.publish.attestation"))
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", env.actions_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token(WORKFLOW))
        .env("SSL_CERT_FILE", &ca)
        .env_remove("UV_PUBLISH_TOKEN")
        .env_remove("UV_PUBLISH_USERNAME")
        .env_remove("UV_PUBLISH_PASSWORD"));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));

    // The index: PEP 691 JSON with hashes, size, upload time, requires-python and the
    // PEP 658 metadata of the wheel; PEP 503 names redirect to the normalised one.
    let index = env.simple_json("hello-vouch");
    assert_eq!(index["meta"]["api-version"], "1.3");
    assert_eq!(index["versions"], serde_json::json!(["0.1.0"]));
    let files = index["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{index}");
    let wheel_bytes = std::fs::read(dist.join("hello_vouch-0.1.0-py3-none-any.whl")).unwrap();
    let wheel_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wheel_bytes));
    let wheel = files
        .iter()
        .find(|f| f["filename"] == "hello_vouch-0.1.0-py3-none-any.whl")
        .unwrap();
    assert_eq!(wheel["hashes"]["sha256"], wheel_sha.as_str());
    assert_eq!(wheel["size"], wheel_bytes.len());
    assert_eq!(wheel["requires-python"], ">=3.8");
    assert_eq!(wheel["yanked"], false);
    assert!(wheel["core-metadata"]["sha256"].is_string(), "{wheel}");
    let (status, metadata) = env.curl(&[&format!("{}.metadata", wheel["url"].as_str().unwrap())]);
    assert_eq!(status, 200);
    assert!(metadata.contains("Name: hello-vouch"), "{metadata}");
    let (status, _) = env.curl(&[
        "-o",
        "/dev/null",
        &format!("{}/simple/Hello_Vouch/", env.url),
    ]);
    assert_eq!(status, 308);
    let (status, html) = env.curl(&[&format!("{}/simple/hello-vouch/", env.url)]);
    assert_eq!(status, 200);
    assert!(html.contains(&format!("#sha256={wheel_sha}")), "{html}");

    // The provenance: linked from both pages, served by the Integrity API, verified by
    // pypi-attestations + sigstore-python and by vouch verify pypi --index.
    let provenance_url = wheel["provenance"].as_str().unwrap().to_owned();
    assert!(
        provenance_url.ends_with(
            "/integrity/hello-vouch/0.1.0/hello_vouch-0.1.0-py3-none-any.whl/provenance"
        ),
        "{wheel}"
    );
    assert!(
        html.contains(&format!("data-provenance=\"{provenance_url}\"")),
        "{html}"
    );
    env.check_provenance(&wheel_path, &provenance_url);
    let sdist_entry = files
        .iter()
        .find(|f| f["filename"] == "hello_vouch-0.1.0.tar.gz")
        .unwrap();
    env.check_provenance(&sdist_path, sdist_entry["provenance"].as_str().unwrap());
    let out = env.verify_index(&wheel_path, &format!("https://github.com/{REPOSITORY}"));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = env.verify_index(&wheel_path, "https://github.com/octo/other");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error[PEP740_E011]"),
        "{out:?}"
    );

    // pip, hash-checked, into a fresh venv.
    let pip_venv = tmp.path().join("pip-venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&pip_venv));
    let reqs = tmp.path().join("requirements.txt");
    std::fs::write(
        &reqs,
        format!("hello-vouch==0.1.0 --hash=sha256:{wheel_sha}\n"),
    )
    .unwrap();
    run(Command::new(pip_venv.join("bin/pip"))
        .args([
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--cert",
        ])
        .arg(&ca)
        .arg("--index-url")
        .arg(format!("{}/simple/", env.url))
        .arg("-r")
        .arg(&reqs)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("PIP_CERT", &ca)
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_CONFIG_FILE")
        .env("PIP_CONFIG_FILE", "/dev/null"));
    let out = run(Command::new(pip_venv.join("bin/python"))
        .args(["-c", "import hello_vouch; print(hello_vouch.GREETING)"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from vouch"
    );

    // uv pip, into another fresh venv.
    let uv_venv = tmp.path().join("uv-venv");
    run(Command::new(venv_bin("uv"))
        .args(["venv", "--offline"])
        .arg(&uv_venv));
    run(Command::new(venv_bin("uv"))
        .args(["pip", "install", "--no-cache", "--python"])
        .arg(uv_venv.join("bin/python"))
        .arg("--index-url")
        .arg(format!("{}/simple/", env.url))
        .arg("hello-vouch==0.1.0")
        .env("SSL_CERT_FILE", &ca));
    let out = run(Command::new(uv_venv.join("bin/python"))
        .args(["-c", "import hello_vouch; print(hello_vouch.GREETING)"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from vouch"
    );

    // The same bytes again: accepted, nothing changes (PyPI's idempotent re-upload).
    let (status, minted) = env.mint(&env.ci_token(WORKFLOW));
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["success"], true);
    let token = minted["token"].as_str().unwrap().to_owned();
    let (status, body) = env.upload(
        &token,
        &dist.join("hello_vouch-0.1.0-py3-none-any.whl"),
        &[],
    );
    assert_eq!(status, 200, "{body}");

    // Other bytes under a taken name: refused, nothing stored.
    let before = env.stored_files();
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let rebuilt = build_project(&other, "other bytes");
    let (status, body) = env.upload(
        &token,
        &rebuilt.join("hello_vouch-0.1.0-py3-none-any.whl"),
        &[],
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("PYPI_E004")),
        "{body}"
    );
    // An attestation for other bytes: a new file name, attested, then its bytes
    // replaced by another build's: refused at upload naming the subject digest check,
    // nothing stored.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let fresh_dist = build_project(&fresh, "attested");
    let renamed = fresh.join("hello_vouch-0.1.0-2-py3-none-any.whl");
    // `renamed` uploaded with its attestation: refused (PYPI_E008) naming `check`.
    let refused_attested = |check: &str| {
        let attestation =
            std::fs::read_to_string(format!("{}.publish.attestation", renamed.display())).unwrap();
        let (status, body) = env.upload(
            &token,
            &renamed,
            &[&format!("attestations=[{}]", attestation.trim())],
        );
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("PYPI_E008")),
            "{body}"
        );
        assert!(body["detail"].as_str().unwrap().contains(check), "{body}");
    };
    std::fs::copy(
        fresh_dist.join("hello_vouch-0.1.0-py3-none-any.whl"),
        &renamed,
    )
    .unwrap();
    assert_eq!(
        env.stored_files(),
        before,
        "a refused re-upload stored something"
    );
    env.attest(&[&renamed]);
    // Signing logs entries (CT, Rekor v1): the upload below must add nothing more.
    let before = env.stored_files();
    std::fs::copy(rebuilt.join("hello_vouch-0.1.0-py3-none-any.whl"), &renamed).unwrap();
    refused_attested("PEP740_E007");
    assert_eq!(
        env.stored_files(),
        before,
        "a refused upload stored something"
    );
    // An attestation of these bytes signed by another workflow of the repository (not
    // the one the upload token carries): refused naming the identity check.
    std::fs::remove_file(format!("{}.publish.attestation", renamed.display())).unwrap();
    env.attest_as(".github/workflows/other.yml", &[&renamed]);
    let before = env.stored_files();
    refused_attested("VERIFY_E024");
    // Junk is refused too.
    let (status, body) = env.upload(
        &token,
        &renamed,
        &["attestations=[{\"version\":1,\"verification_material\":{},\"envelope\":{}}]"],
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("PYPI_E008")),
        "{body}"
    );
    assert_eq!(
        env.stored_files(),
        before,
        "a refused upload stored something"
    );
    assert_eq!(
        env.simple_json("hello-vouch")["files"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // twine uploads with a minted token (a new version).
    let v2 = tmp.path().join("v2");
    std::fs::create_dir_all(&v2).unwrap();
    let v2dist = build_project(&v2, "hello again");
    let wheel2 = v2dist.join("hello_vouch-0.1.0-py3-none-any.whl");
    let renamed2 = v2.join("hello_vouch-0.1.0-1-py3-none-any.whl");
    std::fs::copy(&wheel2, &renamed2).unwrap();
    run(Command::new(venv_bin("twine"))
        .args([
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
        ])
        .arg(format!("{}/legacy/", env.url))
        .arg("--cert")
        .arg(&ca)
        .arg(&renamed2)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("TWINE_USERNAME", "__token__")
        .env("TWINE_PASSWORD", &token));
    let files = env.simple_json("hello-vouch")["files"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(files, 3);
}
