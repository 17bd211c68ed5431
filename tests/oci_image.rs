//! Container images (issue 17) against real OCI registries on loopback: Debian's
//! `docker-registry` (CNCF distribution 2.8, no referrers API, so cosign's
//! `sha256-<hex>` tag fallback carries the referrers), ferro-oci-server (crates.io, the
//! OCI 1.1 referrers API), and distribution behind `shim` (a referrers index and a
//! bearer-token challenge). `vouch sign image` (referrers and `--legacy-tag`), `vouch
//! attest image` and `vouch verify image` against `vouch serve --dev`; the real cosign v3
//! bundle attached as a referrer of its digest; the legacy `.sig` and `.att` tags with
//! Rekor v1 SETs (vouch's, and a real public-good one); every refusal asserted by its
//! code.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod common_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use vouch_testkit::process::ChildGuard;

use serde_json::{json, Value};
use vouch_oci::cosign::{COSIGN_SIGN_PREDICATE, OCI_MANIFEST, SIMPLE_SIGNING_MEDIA_TYPE};
use vouch_oci::{Client, ImageRef};

use common_support::{REF as GIT_REF, REPOSITORY, WORKFLOW};

/// A `docker-registry` child on a loopback port, killed on drop.
struct Registry {
    child: ChildGuard,
    addr: String,
    root: PathBuf,
}

/// Finds (or, as root, installs) Debian's docker-registry.
fn registry_binary() -> PathBuf {
    let bin = PathBuf::from("/usr/bin/docker-registry");
    if !bin.exists() {
        // CI runs as root; a developer without root installs it by hand.
        let root = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&root.stdout).trim(),
            "0",
            "docker-registry is missing: apt-get install docker-registry"
        );
        // Test binaries run in parallel: one installs, the others wait on the lock.
        let ok = Command::new("flock")
            .args(["/tmp/vouch-docker-registry-install.lock", "sh", "-c"])
            .arg("test -x /usr/bin/docker-registry || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry; }")
            .status()
            .unwrap();
        assert!(ok.success(), "installing docker-registry failed");
    }
    bin
}

fn start_registry(dir: &Path) -> Registry {
    let bin = registry_binary();
    let port = vouch_testkit::free_port();
    let root = dir.join("registry");
    std::fs::create_dir_all(&root).unwrap();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            root.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut registry = Registry {
        child: ChildGuard(child),
        addr,
        root,
    };
    // The port was free when probed; a registry that lost it to another test exits.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        registry.child.try_wait().unwrap().is_none(),
        "docker-registry exited (port taken?)"
    );
    registry
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Pushes a tiny image (config blob, one layer, an OCI manifest) under `tag`; returns
/// its digest.
fn push_image(registry: &str, repo: &str, tag: &str, layer: &[u8]) -> String {
    let image = ImageRef::parse(&format!("{registry}/{repo}:{tag}")).unwrap();
    let client = Client::new(&image, false, true).unwrap();
    rt().block_on(async {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_digest = client.push_blob(config).await.unwrap();
        let layer_digest = client.push_blob(layer).await.unwrap();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        });
        let (digest, _) = client
            .push_manifest(tag, OCI_MANIFEST, manifest.to_string().as_bytes())
            .await
            .unwrap();
        digest
    })
}

/// Pushes under the legacy tag `tag` (`sha256-<hex>.sig` or `.att`) a manifest of one
/// `media_type` layer holding `payload`, with `annotations`, as cosign's legacy scheme
/// stores signatures and attestations.
fn push_legacy_tag(
    client: &Client,
    tag: &str,
    media_type: &str,
    payload: &[u8],
    annotations: Value,
) {
    rt().block_on(async {
        let empty = client.push_blob(b"{}").await.unwrap();
        let layer = client.push_blob(payload).await.unwrap();
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": media_type, "digest": layer, "size": payload.len(),
                        "annotations": annotations}],
        });
        client
            .push_manifest(tag, OCI_MANIFEST, manifest.to_string().as_bytes())
            .await
            .unwrap();
    })
}

/// An identity no test signs as.
const EVIL: &str = "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main";

fn vouch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    // No developer's docker credentials leak into the test.
    c.env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("VOUCH_REGISTRY_USERNAME");
    c
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> Value {
    assert!(out.status.success(), "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Asserts a refusal (exit 1) whose --json error code is `code`.
fn refused(out: Output, code: &str) -> Value {
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], code, "{}", show(&out));
    v
}

struct Instance {
    server: serve_support::Server,
    trust: PathBuf,
    identity: String,
    issuer: String,
}

impl Instance {
    fn start(dir: &Path) -> Self {
        let server = serve_support::start(&dir.join("data"), &[]);
        let trust = dir.join("trust-config.json");
        let out = vouch()
            .args(["trust-config", "--server", &server.url, "--out"])
            .arg(&trust)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        Instance {
            identity: format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{GIT_REF}"),
            issuer: format!("{}/oidc", server.url),
            server,
            trust,
        }
    }

    fn token(&self) -> String {
        common_support::token(&self.server.url)
    }

    fn sign(&self, image: &str) -> Value {
        self.sign_with(image, &[])
    }

    fn sign_with(&self, image: &str, extra: &[&str]) -> Value {
        ok(vouch()
            .args(["sign", "image", image, "--json", "--trust-config"])
            .arg(&self.trust)
            .args(["--identity-token", &self.token()])
            .args(extra)
            .output()
            .unwrap())
    }

    fn attest(&self, image: &str, predicate: &Path, t: &str) -> Value {
        self.attest_with(image, predicate, t, &[])
    }

    fn attest_with(&self, image: &str, predicate: &Path, t: &str, extra: &[&str]) -> Value {
        ok(vouch()
            .args([
                "attest",
                "image",
                image,
                "--json",
                "--type",
                t,
                "--predicate",
            ])
            .arg(predicate)
            .arg("--trust-config")
            .arg(&self.trust)
            .args(["--identity-token", &self.token()])
            .args(extra)
            .output()
            .unwrap())
    }

    fn verify(&self, image: &str, identity: &str, extra: &[&str]) -> Output {
        vouch()
            .args(["verify", "image", image, "--json"])
            .args(["--certificate-identity", identity])
            .args(["--certificate-oidc-issuer", &self.issuer])
            .arg("--trusted-root")
            .arg(&self.trust)
            .args(extra)
            .output()
            .unwrap()
    }
}

/// The file holding `bytes` in a registry's filesystem storage (found by content, so
/// the same for distribution's layout and ferro-oci-server's).
fn stored_blob(root: &Path, bytes: &[u8]) -> PathBuf {
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if std::fs::metadata(&path).unwrap().len() == bytes.len() as u64
                && std::fs::read(&path).unwrap() == bytes
            {
                return path;
            }
        }
    }
    panic!("no file under {} holds the blob", root.display());
}

/// The Sigstore bundles attached to `digest` (referrers API, else the referrers tag): (referrer manifest
/// digest, bundle layer digest, bundle bytes).
fn referrer_bundles(registry: &str, repo: &str, digest: &str) -> Vec<(String, String, Vec<u8>)> {
    let image = ImageRef::parse(&format!("{registry}/{repo}@{digest}")).unwrap();
    let client = Client::new(&image, false, false).unwrap();
    rt().block_on(async {
        let tag = format!("sha256-{}", digest.trim_start_matches("sha256:"));
        let index = match client.referrers(digest).await.unwrap() {
            Some(index) => index,
            None => client.manifest(&tag).await.unwrap().unwrap().json,
        };
        let mut out = Vec::new();
        for d in index["manifests"].as_array().unwrap() {
            let m = d["digest"].as_str().unwrap();
            let manifest = client.manifest(m).await.unwrap().unwrap();
            let layer = manifest.json["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .to_owned();
            let bytes = client.blob(&layer, 1 << 24).await.unwrap();
            out.push((m.to_owned(), layer, bytes));
        }
        out
    })
}

#[test]
fn sign_attest_and_verify_with_and_without_a_referrers_api() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let v = Instance::start(dir.path());
    // distribution 2.8 itself: no referrers API, the sha256-<hex> tag carries them.
    scenario(&v, &reg.addr, &reg.root, "demo/app", dir.path(), false);
    // The same registry behind the referrers index of `shim`: the referrers API path.
    let (shim_addr, _shim) = shim::start(&reg.addr);
    scenario(&v, &shim_addr, &reg.root, "demo/shim", dir.path(), true);
    drop(reg);
}

/// The same cases on a registry that implements the OCI 1.1 referrers API itself:
/// ferro-oci-server (crates.io; passes the distribution-spec 1.1 conformance suite),
/// served from this process over a filesystem blob store. It answers `OCI-Subject` and
/// `GET /v2/<name>/referrers/<digest>`, so nothing goes through the tag schema.
#[test]
fn sign_attest_and_verify_on_a_registry_with_the_referrers_api() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("ferro");
    let (addr, _ferro) = ferro::start(&storage);
    let v = Instance::start(dir.path());
    scenario(&v, &addr, &storage, "demo/ferro", dir.path(), true);
}

/// Everything the issue's first Done-when line asks, on one registry.
fn scenario(v: &Instance, addr: &str, storage: &Path, repo: &str, dir: &Path, api: bool) {
    let a_digest = push_image(
        addr,
        repo,
        "v1",
        format!("layer of image A in {repo}").as_bytes(),
    );
    let b_digest = push_image(
        addr,
        repo,
        "other",
        format!("layer of image B in {repo}").as_bytes(),
    );
    let a_tag = format!("{addr}/{repo}:v1");
    let a_ref = format!("{addr}/{repo}@{a_digest}");
    let b_ref = format!("{addr}/{repo}@{b_digest}");

    // Nothing attached yet: OCI_E009, exit 1.
    refused(v.verify(&a_ref, &v.identity, &[]), "OCI_E009");

    // Sign by tag: resolved once, attached under the referrers tag (no referrers API).
    let signed = v.sign(&a_tag);
    assert_eq!(signed["digest"], a_digest.as_str());
    let via = if api {
        "referrers API".to_owned()
    } else {
        format!("tag sha256-{}", a_digest.trim_start_matches("sha256:"))
    };
    assert_eq!(signed["attached_via"], via.as_str());

    // Verify by tag and by digest with the signer's identity.
    let report = ok(v.verify(&a_tag, &v.identity, &[]));
    assert_eq!(report["verified"], true);
    let looked = if api {
        "referrers API".to_owned()
    } else {
        format!("tag sha256-{}", a_digest.trim_start_matches("sha256:"))
    };
    assert_eq!(report["looked_in"][0], looked.as_str());
    assert_eq!(report["digest"], a_digest.as_str());
    assert_eq!(report["resolved_from_tag"], true);
    assert_eq!(
        report["signatures"][0]["signer"]["identity"],
        v.identity.as_str()
    );
    let report = ok(v.verify(&a_ref, &v.identity, &[]));
    assert_eq!(report["resolved_from_tag"], false);

    // A multi-arch index: its digest is what is signed; --platform reports a child.
    let index = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": a_digest, "size": 1,
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    });
    let client = Client::new(&ImageRef::parse(&a_tag).unwrap(), false, true).unwrap();
    rt().block_on(client.push_manifest(
        "multi",
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    ))
    .unwrap();
    let multi = format!("{addr}/{repo}:multi");
    v.sign(&multi);
    let report = ok(v.verify(&multi, &v.identity, &["--platform", "linux/amd64"]));
    assert_eq!(report["platform"]["digest"], a_digest.as_str());
    let out = v.verify(&multi, &v.identity, &["--platform", "linux/s390x"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let v_err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v_err["error"]["code"], "OCI_E013");

    // Another identity: VERIFY_E024.
    refused(v.verify(&a_ref, EVIL, &[]), "VERIFY_E024");

    // An SPDX attestation: passes with cosign's name and with its URI, fails with another type.
    let spdx = dir.join("spdx.json");
    std::fs::write(
        &spdx,
        br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"demo","dataLicense":"CC0-1.0"}"#,
    )
    .unwrap();
    let attested = v.attest(&a_ref, &spdx, "spdxjson");
    assert_eq!(attested["predicate_type"], "https://spdx.dev/Document");
    let report = ok(v.verify(&a_ref, &v.identity, &["--type", "spdxjson"]));
    let verified: Vec<&Value> = report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verified"] == true)
        .collect();
    assert_eq!(verified.len(), 1, "{report}");
    assert_eq!(verified[0]["predicate"]["spdxVersion"], "SPDX-2.3");
    ok(v.verify(
        &a_ref,
        &v.identity,
        &["--type", "https://spdx.dev/Document"],
    ));
    refused(
        v.verify(&a_ref, &v.identity, &["--type", "cyclonedx"]),
        "OCI_E012",
    );
    // An unknown short name is refused before any request.
    let out = v.verify(&a_ref, &v.identity, &["--type", "sbom"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let unknown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(unknown["error"]["code"], "OCI_E017");

    // A signature for another digest: A's bundle attached to B verifies nowhere.
    let bundles = referrer_bundles(addr, repo, &a_digest);
    assert_eq!(bundles.len(), 2, "the signature and the attestation");
    let b_image = ImageRef::parse(&b_ref).unwrap();
    let b_client = Client::new(&b_image, false, true).unwrap();
    rt().block_on(vouch_oci::attach(
        &b_client,
        OCI_MANIFEST,
        &b_digest,
        100,
        &bundles[0].2,
        COSIGN_SIGN_PREDICATE,
    ))
    .unwrap();
    refused(v.verify(&b_ref, &v.identity, &[]), "VERIFY_E011");

    // A tampered layer: the signature bundle's bytes changed in the registry's storage.
    let path = stored_blob(storage, &bundles[0].2);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.iter().position(|b| *b == b'{').unwrap();
    bytes[at] = b' ';
    std::fs::write(&path, &bytes).unwrap();
    let report = refused(v.verify(&a_ref, &v.identity, &[]), "OCI_E006");
    assert!(report["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&bundles[0].1));
}

#[test]
fn a_real_cosign_bundle_attached_as_a_referrer_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let digest = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let bundle = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/oci/kubewarden-controller-v1.34.0.sigstore.json"),
    )
    .unwrap();
    // The image manifest itself is not in the vector; a digest reference is never
    // resolved, so the referrer alone is what is read.
    let image_ref = format!("{}/kubewarden/kubewarden-controller@{digest}", reg.addr);
    let image = ImageRef::parse(&image_ref).unwrap();
    let client = Client::new(&image, false, true).unwrap();
    rt().block_on(vouch_oci::attach(
        &client,
        "application/vnd.oci.image.index.v1+json",
        digest,
        1000,
        &bundle,
        COSIGN_SIGN_PREDICATE,
    ))
    .unwrap();
    let verify = |identity: &str| {
        vouch()
            .args(["verify", "image", &image_ref, "--json"])
            .args(["--certificate-identity", identity])
            .args([
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .output()
            .unwrap()
    };
    let report = ok(verify(
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0",
    ));
    assert_eq!(report["verified"], true);
    assert_eq!(report["trust_root"], "sigstore public-good (embedded)");
    // The text report names the image digest, the signer and where it looked.
    let text = vouch()
        .args(["verify", "image", &image_ref])
        .args([
            "--certificate-identity-regexp",
            "https://github.com/kubewarden/.*",
        ])
        .args([
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ])
        .output()
        .unwrap();
    assert!(text.status.success(), "{}", show(&text));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(&format!("verified: {image_ref}")),
        "{text}"
    );
    assert!(text.contains("signed by https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"), "{text}");
    assert!(text.contains("looked in:  tag sha256-c811"), "{text}");
    refused(
        verify("https://github.com/kubewarden/kubewarden-controller/.github/workflows/ci.yml@refs/tags/v1.34.0"),
        "VERIFY_E024",
    );
}

/// The anonymous bearer-token flow (as GHCR and Docker Hub answer a 401): the cosign
/// bundle pushed and verified through a registry that wants a token for every call.
#[test]
fn a_registry_that_wants_a_bearer_token_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let (addr, _shim, scopes) = shim::start_with_token(&reg.addr);
    let digest = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let bundle = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/oci/kubewarden-controller-v1.34.0.sigstore.json"),
    )
    .unwrap();
    let image_ref = format!("{addr}/kubewarden/kubewarden-controller@{digest}");
    let client = Client::new(&ImageRef::parse(&image_ref).unwrap(), false, true).unwrap();
    let (_, via) = rt()
        .block_on(vouch_oci::attach(
            &client,
            OCI_MANIFEST,
            digest,
            1000,
            &bundle,
            COSIGN_SIGN_PREDICATE,
        ))
        .unwrap();
    assert_eq!(via, "referrers API");
    let report = ok(vouch()
        .args(["verify", "image", &image_ref, "--json"])
        .args(["--certificate-identity", "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"])
        .args(["--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"])
        .output()
        .unwrap());
    // One 401, one token request, the referrers request again, one manifest, one blob.
    assert_eq!(report["http_requests"], 5, "{report}");
    let scopes = scopes.lock().unwrap().clone();
    assert_eq!(
        scopes,
        [
            "repository:kubewarden/kubewarden-controller:pull,push",
            "repository:kubewarden/kubewarden-controller:pull"
        ]
    );
}

#[test]
fn the_legacy_sig_tag_is_read_and_its_claims_checked() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let a = push_image(&reg.addr, "legacy/app", "v1", b"legacy A");
    let b = push_image(&reg.addr, "legacy/app", "v2", b"legacy B");
    let a_ref = format!("{}/legacy/app@{a}", reg.addr);
    let image = ImageRef::parse(&a_ref).unwrap();
    let client = Client::new(&image, false, true).unwrap();
    let sig_tag = format!("sha256-{}.sig", a.trim_start_matches("sha256:"));
    // A .sig layer whose docker-manifest-digest names image B, another with a certificate
    // annotation that is not a certificate.
    let push_sig = |payload: Vec<u8>, annotations: Value| {
        push_legacy_tag(
            &client,
            &sig_tag,
            "application/vnd.dev.cosign.simplesigning.v1+json",
            &payload,
            annotations,
        )
    };
    let verify = || {
        vouch()
            .args(["verify", "image", &a_ref, "--json"])
            .args([
                "--certificate-identity",
                "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
            ])
            .args([
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .output()
            .unwrap()
    };
    // A referrer the index calls a Sigstore bundle whose layer is something else: the
    // index's artifactType is not trusted, so nothing is found (OCI_E009).
    rt().block_on(async {
        let empty = client.push_blob(b"{}").await.unwrap();
        let layer = client.push_blob(b"not a bundle").await.unwrap();
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 12}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": a, "size": 1},
        });
        let bytes = manifest.to_string().into_bytes();
        let (m, _) = client
            .push_manifest(&vouch_oci::sha256_digest(&bytes), OCI_MANIFEST, &bytes)
            .await
            .unwrap();
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": m, "size": bytes.len(),
                           "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]});
        let tag = format!("sha256-{}", a.trim_start_matches("sha256:"));
        client
            .push_manifest(&tag, "application/vnd.oci.image.index.v1+json", index.to_string().as_bytes())
            .await
            .unwrap();
    });
    let report = refused(verify(), "OCI_E009");
    assert_eq!(report["signatures"].as_array().unwrap().len(), 0);

    let sig = json!({"dev.cosignproject.cosign/signature": "MEUCIQ=="});
    push_sig(
        vouch_oci::cosign::simple_signing_payload(&image.name(), &b),
        sig.clone(),
    );
    let report = refused(verify(), "OCI_E011");
    assert!(report["signatures"][0]["source"]
        .as_str()
        .unwrap()
        .contains(".sig"));
    let mut tampered = sig.clone();
    tampered["dev.sigstore.cosign/certificate"] =
        json!("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n");
    push_sig(
        vouch_oci::cosign::simple_signing_payload(&image.name(), &a),
        tampered,
    );
    refused(verify(), "OCI_E016");
    // A referrer whose bundle blob is over the 16 MiB cap is refused without reading it all.
    let huge = vec![b' '; vouch_oci::MAX_SIGNATURE_BLOB_BYTES + 1];
    rt().block_on(vouch_oci::attach(
        &client,
        OCI_MANIFEST,
        &a,
        100,
        &huge,
        COSIGN_SIGN_PREDICATE,
    ))
    .unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["signatures"][0]["error"]["code"], "OCI_E005",
        "{report}"
    );
}

/// The bench of docs/performance.md ("Container images"): an image with 10 signatures
/// and 5 attestations on a loopback docker-registry; `vouch_oci::verify_image` (what
/// `vouch verify image` calls) timed over 20 runs, with its HTTP request count.
/// `cargo nextest run -p vouch --test oci_image --run-ignored only`
#[test]
#[ignore = "a benchmark: run it on purpose"]
fn bench_verify_image_with_10_signatures_and_5_attestations() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let v = Instance::start(dir.path());
    let (ferro_addr, _ferro) = ferro::start(&dir.path().join("ferro"));
    let spdx = dir.path().join("spdx.json");
    std::fs::write(
        &spdx,
        br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}"#,
    )
    .unwrap();
    let runtime = rt();
    for (label, addr) in [
        ("distribution 2.8 (tag schema)", reg.addr.as_str()),
        ("ferro-oci-server (referrers API)", ferro_addr.as_str()),
    ] {
        let digest = push_image(addr, "bench/app", "v1", label.as_bytes());
        let image = format!("{addr}/bench/app@{digest}");
        for _ in 0..10 {
            v.sign(&image);
        }
        for _ in 0..5 {
            v.attest(&image, &spdx, "spdxjson");
        }
        for wanted in [None, Some("spdxjson".to_owned())] {
            let req = vouch_oci::VerifyImageRequest {
                image: image.clone(),
                policy: vouch_verify::PolicySpec::exact(
                    Some(v.identity.clone()),
                    Some(v.issuer.clone()),
                    None,
                ),
                trust: vouch_verify::TrustSpec {
                    staging: false,
                    trusted_root: Some(v.trust.clone()),
                },
                predicate_type: wanted.clone(),
                ..Default::default()
            };
            let runs = 20;
            let start = Instant::now();
            let mut report = None;
            for _ in 0..runs {
                report = Some(runtime.block_on(vouch_oci::verify_image(&req)).unwrap());
            }
            let per = start.elapsed() / runs;
            let report = report.unwrap();
            let passed = report.verdicts.iter().filter(|v| v.result.is_ok()).count();
            eprintln!(
                "{label}, --type {wanted:?}: {per:?} per verification, {} HTTP requests, {} signatures examined, {passed} verified",
                report.requests,
                report.verdicts.len()
            );
            assert!(report.passed());
            // The issue's target: one referrers request plus one per signature manifest
            // and blob (and, without a referrers API, the sha256-<hex> tag after its 404).
            let examined = report.verdicts.len() as u64;
            assert_eq!(examined, 15);
            let lookups = if report.looked.iter().any(|l| l == "referrers API") {
                1
            } else {
                2
            };
            assert_eq!(report.requests, lookups + 2 * examined, "{label}");
        }
        // The comparison: the 10 signature bundles verified offline, already in memory
        // (what is left once the registry round trips are gone).
        let bundles: Vec<Vec<u8>> = referrer_bundles(addr, "bench/app", &digest)
            .into_iter()
            .map(|(_, _, b)| b)
            .filter(|b| {
                vouch_oci::cosign::bundle_predicate_type(b).as_deref()
                    == Some(COSIGN_SIGN_PREDICATE)
            })
            .collect();
        // The fixed cost of one call: the HTTP client (TLS roots) and the trust root.
        let start = Instant::now();
        for _ in 0..runs_setup() {
            let _c = Client::new(
                &ImageRef::parse(&format!("{addr}/bench/app@{digest}")).unwrap(),
                false,
                false,
            )
            .unwrap();
            let root = vouch_verify::TrustRoot::from_file(&v.trust).unwrap();
            let _v = vouch_verify::Verifier::new(&root).unwrap();
        }
        eprintln!(
            "{label}: setup (HTTP client, trust root, verifier): {:?}",
            start.elapsed() / runs_setup()
        );
        let root = vouch_verify::TrustRoot::from_file(&v.trust).unwrap();
        let verifier = vouch_verify::Verifier::new(&root).unwrap();
        let policy =
            vouch_verify::PolicySpec::exact(Some(v.identity.clone()), Some(v.issuer.clone()), None)
                .build()
                .unwrap();
        let artifact = vouch_verify::Artifact::parse_digest(&digest).unwrap();
        let runs = 20;
        let start = Instant::now();
        for _ in 0..runs {
            for b in &bundles {
                let parsed = vouch_verify::ParsedBundle::from_json(b).unwrap();
                verifier.verify(&artifact, &parsed, &policy).unwrap();
            }
        }
        eprintln!(
            "{label}: the same {} signature bundles verified offline: {:?} per image",
            bundles.len(),
            start.elapsed() / runs
        );
    }
}

/// The legacy `.att` scheme with real public-good material: the cosign vector's DSSE
/// envelope, certificate and Rekor v1 SET rewritten as the annotations cosign's legacy
/// tag carries (no inclusion proof: the SET is what a legacy layer has). It verifies
/// through `sha256-<hex>.att`, and a tampered SET annotation is refused.
#[test]
fn the_legacy_att_tag_verifies_with_its_set_and_refuses_a_tampered_annotation() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let digest = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let bundle: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/oci/kubewarden-controller-v1.34.0.sigstore.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let der = b64
        .decode(
            bundle["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let pem_body = b64.encode(der);
    let pem_lines: Vec<&str> = pem_body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        pem_lines.join("\n")
    );
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    let set = |integrated: i64| {
        json!({
            "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": integrated,
                "logIndex": entry["logIndex"].as_str().unwrap().parse::<u64>().unwrap(),
                "logID": hex_of(&b64.decode(entry["logId"]["keyId"].as_str().unwrap()).unwrap()),
            },
        })
        .to_string()
    };
    let integrated: i64 = entry["integratedTime"].as_str().unwrap().parse().unwrap();
    let envelope = bundle["dsseEnvelope"].to_string().into_bytes();
    let image_ref = format!("{}/kubewarden/kubewarden-controller@{digest}", reg.addr);
    let image = ImageRef::parse(&image_ref).unwrap();
    let client = Client::new(&image, false, true).unwrap();
    let att_tag = format!("sha256-{}.att", digest.trim_start_matches("sha256:"));
    let push_att = |annotations: Value| {
        push_legacy_tag(
            &client,
            &att_tag,
            "application/vnd.dsse.envelope.v1+json",
            &envelope,
            annotations,
        )
    };
    let verify = || {
        vouch()
            .args(["verify", "image", &image_ref, "--json", "--type", COSIGN_SIGN_PREDICATE])
            .args(["--certificate-identity", "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"])
            .args(["--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"])
            .output()
            .unwrap()
    };
    push_att(json!({
        "dev.sigstore.cosign/certificate": pem,
        "dev.sigstore.cosign/bundle": set(integrated),
    }));
    let report = ok(verify());
    assert!(report["signatures"][0]["source"]
        .as_str()
        .unwrap()
        .contains(".att"));
    assert_eq!(report["signatures"][0]["log_entries"][0]["kind"], "dsse");
    // The SET annotation's integrated time moved by a second: the SET no longer verifies.
    push_att(json!({
        "dev.sigstore.cosign/certificate": pem,
        "dev.sigstore.cosign/bundle": set(integrated + 1),
    }));
    refused(verify(), "VERIFY_E019");
}

/// `vouch sign image --legacy-tag` and `vouch attest image --legacy-tag`: what cosign 2.x
/// writes, signed against `vouch serve --dev` with a Rekor v1 entry, read back through
/// the legacy tags and verified with the SET; the claim and the SET are checked.
#[test]
fn legacy_tags_signed_by_vouch_verify_and_their_claims_and_set_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    legacy_tags_on(reg.addr.as_str(), dir.path());
}

/// The same legacy-tag cases on ferro-oci-server (a registry with the referrers API,
/// which vouch must not need for the legacy tags).
#[test]
fn legacy_tags_signed_by_vouch_on_a_registry_with_the_referrers_api() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _ferro) = ferro::start(&dir.path().join("ferro"));
    legacy_tags_on(&addr, dir.path());
}

/// Signs and attests with `--legacy-tag` on the registry at `addr` and checks every
/// claim, the payload digest and the SET annotation.
fn legacy_tags_on(addr: &str, dir: &Path) {
    let v = Instance::start(dir);
    let a = push_image(addr, "legacy/signed", "v1", b"legacy signed A");
    let b = push_image(addr, "legacy/signed", "v2", b"legacy signed B");
    let a_ref = format!("{addr}/legacy/signed@{a}");
    let b_ref = format!("{addr}/legacy/signed@{b}");
    let a_sig = format!("sha256-{}.sig", a.trim_start_matches("sha256:"));
    let b_sig = format!("sha256-{}.sig", b.trim_start_matches("sha256:"));
    let client = Client::new(&ImageRef::parse(&a_ref).unwrap(), false, true).unwrap();
    let manifest = |tag: &str| rt().block_on(client.manifest(tag)).unwrap().unwrap();

    // Signed by tag: the tag is resolved once, the layer goes to sha256-<hex>.sig.
    let signed = v.sign_with(&format!("{addr}/legacy/signed:v1"), &["--legacy-tag"]);
    assert_eq!(signed["digest"], a.as_str());
    assert_eq!(signed["attached_via"], format!("tag {a_sig} (1 layer)"));
    assert_eq!(signed["predicate_type"], SIMPLE_SIGNING_MEDIA_TYPE);

    // The layer is cosign's: a simple-signing payload naming A, and the annotations.
    let m = manifest(&a_sig);
    assert_eq!(m.digest, signed["referrer"].as_str().unwrap());
    let layer = &m.json["layers"][0];
    assert_eq!(layer["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
    let payload = rt()
        .block_on(client.blob(layer["digest"].as_str().unwrap(), 1 << 20))
        .unwrap();
    assert_eq!(
        vouch_oci::cosign::simple_signing_digest(&payload).unwrap(),
        a
    );
    let ann = &layer["annotations"];
    assert!(!ann["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .is_empty());
    for pem in [
        "dev.sigstore.cosign/certificate",
        "dev.sigstore.cosign/chain",
    ] {
        assert!(
            ann[pem]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\n"),
            "{pem}"
        );
    }
    let set: Value =
        serde_json::from_str(ann["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
    assert!(set["SignedEntryTimestamp"].is_string(), "{set}");
    assert!(set["Payload"]["integratedTime"].is_i64(), "{set}");
    assert!(set["Payload"]["logIndex"].is_i64(), "{set}");
    assert_eq!(set["Payload"]["logID"].as_str().unwrap().len(), 64, "{set}");
    assert!(set["Payload"]["body"].is_string(), "{set}");

    // It verifies with the signer's identity, from the .sig tag (no referrer exists).
    let report = ok(v.verify(&a_ref, &v.identity, &[]));
    let first = &report["signatures"][0];
    assert_eq!(first["source"], format!("tag {a_sig} layer 0"), "{report}");
    assert_eq!(first["log_entries"][0]["kind"], "hashedrekord", "{report}");
    assert_eq!(first["signer"]["identity"], v.identity.as_str());
    // ... and not with another identity.
    refused(v.verify(&a_ref, EVIL, &[]), "VERIFY_E024");

    // A second signature is appended to the same image, as cosign does.
    let again = v.sign_with(&a_ref, &["--legacy-tag"]);
    assert_eq!(again["attached_via"], format!("tag {a_sig} (2 layers)"));
    let report = ok(v.verify(&a_ref, &v.identity, &[]));
    let verified = report["signatures"].as_array().unwrap();
    assert_eq!(verified.len(), 2, "{report}");
    assert!(verified.iter().all(|s| s["verified"] == true), "{report}");

    // A's signatures under B's .sig tag: a valid signature whose payload's
    // docker-manifest-digest names A is refused for B before any cryptography.
    let two = manifest(&a_sig);
    rt().block_on(client.push_manifest(&b_sig, OCI_MANIFEST, &two.bytes))
        .unwrap();
    let report = refused(v.verify(&b_ref, &v.identity, &[]), "OCI_E011");
    assert!(
        report["error"]["message"].as_str().unwrap().contains(&a),
        "{report}"
    );

    // A tampered SET: the first layer alone, its SET annotation changed.
    let tampered = |change: &dyn Fn(&mut Value)| {
        let mut m = two.json.clone();
        let mut set: Value = serde_json::from_str(
            m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        change(&mut set);
        m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"] = json!(set.to_string());
        let only_first = json!([m["layers"][0].clone()]);
        m["layers"] = only_first;
        rt().block_on(client.push_manifest(&a_sig, OCI_MANIFEST, m.to_string().as_bytes()))
            .unwrap();
        refused(v.verify(&a_ref, &v.identity, &[]), "VERIFY_E019")
    };
    // The integrated time moved by a second: the SET no longer covers the entry.
    tampered(&|set| {
        let t = set["Payload"]["integratedTime"].as_i64().unwrap();
        set["Payload"]["integratedTime"] = json!(t + 1);
    });
    // The other signature's SET: a genuine SET, over another entry.
    let other: Value = serde_json::from_str(
        two.json["layers"][1]["annotations"]["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    tampered(&|set| set["SignedEntryTimestamp"] = other["SignedEntryTimestamp"].clone());

    // cosign 2.x's attestations: a DSSE layer under sha256-<hex>.att with its SET.
    let spdx = dir.join("spdx.json");
    std::fs::write(
        &spdx,
        br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}"#,
    )
    .unwrap();
    let attested = v.attest_with(&a_ref, &spdx, "spdxjson", &["--legacy-tag"]);
    let a_att = format!("sha256-{}.att", a.trim_start_matches("sha256:"));
    assert_eq!(attested["attached_via"], format!("tag {a_att} (1 layer)"));
    let att = manifest(&a_att);
    assert_eq!(
        att.json["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(
        att.json["layers"][0]["annotations"]["predicateType"],
        "https://spdx.dev/Document"
    );
    let report = ok(v.verify(&a_ref, &v.identity, &["--type", "spdxjson"]));
    let first = &report["signatures"][0];
    assert_eq!(first["source"], format!("tag {a_att} layer 0"), "{report}");
    assert_eq!(first["log_entries"][0]["kind"], "dsse", "{report}");
    assert_eq!(first["predicate"]["spdxVersion"], "SPDX-2.3", "{report}");
    refused(
        v.verify(&a_ref, &v.identity, &["--type", "cyclonedx"]),
        "OCI_E012",
    );
}

fn runs_setup() -> u32 {
    20
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-worker runtime and a loopback listener bound on it, with its address: for a
/// server run from the test process (keep the runtime while it is used).
fn loopback_runtime() -> (tokio::runtime::Runtime, tokio::net::TcpListener, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (rt, listener, addr)
}

/// ferro-oci-server 1.x (crates.io), served from the test process.
mod ferro {
    use std::path::Path;

    /// Starts the registry over a filesystem blob store in `storage`; keep the runtime
    /// while it is used.
    pub fn start(storage: &Path) -> (String, tokio::runtime::Runtime) {
        let (rt, listener, addr) = super::loopback_runtime();
        let config =
            ferro_oci_server::Config::from_raw(Some(addr.clone()), Some(storage.to_path_buf()));
        let app = ferro_oci_server::build_app(config.blob_store().unwrap());
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, rt)
    }
}

/// A proxy in front of the real docker-registry that records each manifest pushed with
/// a `subject`, answers the push with `OCI-Subject` (as the distribution spec's
/// registries do), serves `GET /v2/<name>/referrers/<digest>` and, with a token, answers
/// every call without one with a bearer challenge (as GHCR and Docker Hub do).
/// Everything else, storage and digests included, is distribution 2.8's. The referrers
/// API itself is tested against ferro-oci-server; the shim keeps the same cases running
/// on distribution's storage behind a referrers index, and the token flow.
mod shim {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, Uri};
    use axum::response::Response;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};

    type Index = Arc<Mutex<HashMap<(String, String), Vec<Value>>>>;

    #[derive(Clone)]
    struct Shim {
        upstream: String,
        http: reqwest::Client,
        index: Index,
        /// With a token: every registry call needs `Bearer <token>`, got from `/token`
        /// (which records the scopes asked for), as GHCR and Docker Hub answer.
        auth: Option<(String, Arc<Mutex<Vec<String>>>)>,
        addr: String,
    }

    /// Starts the shim for the registry at `upstream`; keep the runtime while it is used.
    pub fn start(upstream: &str) -> (String, tokio::runtime::Runtime) {
        let (addr, rt, _) = start_with(upstream, None);
        (addr, rt)
    }

    /// The shim behind an anonymous bearer-token challenge; returns the scopes asked for.
    pub fn start_with_token(
        upstream: &str,
    ) -> (String, tokio::runtime::Runtime, Arc<Mutex<Vec<String>>>) {
        start_with(upstream, Some("anonymous-token-1".to_owned()))
    }

    fn start_with(
        upstream: &str,
        token: Option<String>,
    ) -> (String, tokio::runtime::Runtime, Arc<Mutex<Vec<String>>>) {
        let (rt, listener, addr) = super::loopback_runtime();
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let state = Shim {
            auth: token.map(|t| (t, scopes.clone())),
            addr: addr.clone(),
            upstream: upstream.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            index: Index::default(),
        };
        let app = axum::Router::new().fallback(handle).with_state(state);
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, rt, scopes)
    }

    async fn handle(
        State(s): State<Shim>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path().to_owned();
        if let Some((token, scopes)) = &s.auth {
            if path == "/token" {
                let query = uri.query().unwrap_or("");
                let scope = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("scope="))
                    .unwrap_or("")
                    .replace("%3A", ":")
                    .replace("%2C", ",")
                    .replace("%2F", "/");
                let ok = query.contains("service=shim") && scope.starts_with("repository:");
                scopes.lock().unwrap().push(scope);
                let (status, body) = match ok {
                    true => (200, json!({"token": token}).to_string()),
                    false => (400, "{}".to_owned()),
                };
                return Response::builder()
                    .status(status)
                    .body(Body::from(body))
                    .unwrap();
            }
            let expected = format!("Bearer {token}");
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
            {
                let challenge =
                    format!("Bearer realm=\"http://{}/token\",service=\"shim\"", s.addr);
                return Response::builder()
                    .status(401)
                    .header("www-authenticate", challenge)
                    .body(Body::from("{}"))
                    .unwrap();
            }
        }
        let repo_of = |marker: &str| {
            path.strip_prefix("/v2/")
                .and_then(|r| r.split_once(marker))
                .map(|(name, rest)| (name.to_owned(), rest.to_owned()))
        };
        if method == Method::GET {
            if let Some(key) = repo_of("/referrers/") {
                let list = s
                    .index
                    .lock()
                    .unwrap()
                    .get(&key)
                    .cloned()
                    .unwrap_or_default();
                let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": list});
                return Response::builder()
                    .status(200)
                    .header("content-type", "application/vnd.oci.image.index.v1+json")
                    .body(Body::from(index.to_string()))
                    .unwrap();
            }
        }
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let mut req = s
            .http
            .request(
                method.clone(),
                format!("http://{}{path}{query}", s.upstream),
            )
            .body(body.clone());
        for name in ["content-type", "accept", "authorization"] {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v);
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let mut out = Response::builder().status(status.as_u16());
        for (k, v) in resp.headers() {
            if k != "transfer-encoding" && k != "content-length" {
                out = out.header(k, v);
            }
        }
        if method == Method::PUT && status.as_u16() == 201 {
            let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if let (Some((name, _)), Some(subject)) =
                (repo_of("/manifests/"), doc["subject"]["digest"].as_str())
            {
                let descriptor = json!({
                    "mediaType": doc["mediaType"],
                    "digest": format!("sha256:{:x}", Sha256::digest(&body)),
                    "size": body.len(),
                    "artifactType": doc["artifactType"],
                    "annotations": doc["annotations"],
                });
                s.index
                    .lock()
                    .unwrap()
                    .entry((name, subject.to_owned()))
                    .or_default()
                    .push(descriptor);
                out = out.header("OCI-Subject", subject);
            }
        }
        out.body(Body::from(resp.bytes().await.unwrap())).unwrap()
    }
}
