//! Independent JOSE check: records signed before and after two key rotations must
//! verify with Python's `joserfc` (pinned in `scripts/py-venv.sh`) using ONLY the served
//! key set, and joserfc must reject tampered tokens. Fails, never skips, when Python or
//! the virtual environment is unavailable: DESIGN.md makes this interop the test of truth.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use vouch_integrity::{
    sign_record, verify_record, AssetEntry, IntegrityRecord, KeySet, RegistrySigningKey,
    SignedRecord, Subject,
};

/// Verifies every `good-*.jws` (payload must equal the matching `.json`) and requires
/// every `bad-*.jws` to be rejected; prints one line per token and exits non-zero on any
/// surprise.
const CHECK_PY: &str = r#"
import json, pathlib, sys, warnings
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# RFC 9864 deprecates the polymorphic "EdDSA" name; joserfc warns but supports it.
warnings.simplefilter("ignore")
d = pathlib.Path(sys.argv[1])
keys = KeySet.import_key_set(json.loads((d / "registry-key.json").read_text()))
failures = 0
for path in sorted(d.glob("good-*.jws")):
    token = path.read_text()
    try:
        obj = jws.deserialize_compact(token, keys, algorithms=["EdDSA"])
    except Exception as e:
        print(f"FAIL {path.name}: rejected: {e!r}")
        failures += 1
        continue
    expected = (d / (path.stem + ".json")).read_bytes()
    if obj.payload != expected or obj.protected.get("typ") != "vouch-integrity+jws":
        print(f"FAIL {path.name}: payload or header differs")
        failures += 1
    else:
        print(f"ok {path.name} kid={obj.protected['kid']}")
for path in sorted(d.glob("bad-*.jws")):
    try:
        jws.deserialize_compact(path.read_text(), keys, algorithms=["EdDSA"])
    except JoseError as e:
        print(f"ok {path.name} rejected: {type(e).__name__}")
        continue
    except Exception as e:
        print(f"FAIL {path.name}: unexpected exception {e!r}")
        failures += 1
        continue
    print(f"FAIL {path.name}: accepted")
    failures += 1
sys.exit(1 if failures else 0)
"#;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn record(key: &RegistrySigningKey, n: u64) -> IntegrityRecord {
    IntegrityRecord {
        kid: key.kid(),
        issued_at: UNIX_EPOCH + Duration::from_secs(1_795_316_400 + n * 86_400),
        registry: "https://registry.example".into(),
        subject: Subject::Release {
            id: format!("acme/tool@v1.0.{n}"),
        },
        version: format!("v1.0.{n}"),
        manifest_sha256: [n as u8; 32],
        assets: vec![AssetEntry::of_bytes(
            &format!("tool-{n}.tar.gz"),
            format!("asset {n} \u{20ac}").as_bytes(),
        )],
    }
}

fn payload(signed: &SignedRecord) -> Vec<u8> {
    let segment = signed.jws().split('.').nth(1).unwrap();
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

#[test]
fn joserfc_verifies_records_across_two_rotations_with_only_the_key_set() {
    let root = workspace_root();
    let setup = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .status()
        .expect("bash must be available to create the Python venv");
    assert!(setup.success(), "scripts/py-venv.sh failed: {setup}");

    let (k1, k2, k3) = (
        RegistrySigningKey::generate().unwrap(),
        RegistrySigningKey::generate().unwrap(),
        RegistrySigningKey::generate().unwrap(),
    );
    let mut keys = KeySet::new(k1.public_key().clone());
    let before = sign_record(&record(&k1, 1), &k1).unwrap();
    keys.rotate(k2.public_key().clone(), UNIX_EPOCH + Duration::from_secs(1))
        .unwrap();
    let middle = sign_record(&record(&k2, 2), &k2).unwrap();
    keys.rotate(k3.public_key().clone(), UNIX_EPOCH + Duration::from_secs(2))
        .unwrap();
    let after = sign_record(&record(&k3, 3), &k3).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let jwks = keys.to_jwks();
    std::fs::write(dir.path().join("registry-key.json"), &jwks).unwrap();
    for (name, signed) in [("good-1", &before), ("good-2", &middle), ("good-3", &after)] {
        // Our own verifier, through the same served key set, first.
        let served = KeySet::from_jwks(jwks.as_bytes()).unwrap();
        assert_eq!(&verify_record(signed.jws(), &served).unwrap(), signed);
        std::fs::write(dir.path().join(format!("{name}.jws")), signed.jws()).unwrap();
        std::fs::write(dir.path().join(format!("{name}.json")), payload(signed)).unwrap();
    }

    // Tampered: a payload byte changed (signature no longer matches) and a flipped
    // signature bit; both must be rejected by joserfc as well as by us.
    let parts: Vec<&str> = before.jws().split('.').collect();
    let mut body = payload(&before);
    let pos = body.iter().position(|b| *b == b'1').unwrap();
    body[pos] = b'2';
    let bad_payload = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(&body),
        parts[2]
    );
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 0x01;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    for (name, token) in [("bad-payload", &bad_payload), ("bad-signature", &bad_sig)] {
        assert_eq!(
            verify_record(token, &keys).unwrap_err().code(),
            "INTEGRITY_E021"
        );
        std::fs::write(dir.path().join(format!("{name}.jws")), token).unwrap();
    }

    let python = root.join("target/py-venv/bin/python");
    let out = Command::new(&python)
        .arg("-c")
        .arg(CHECK_PY)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "joserfc verification failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok good-")).count(),
        3,
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok bad-")).count(),
        2,
        "{stdout}"
    );
    for k in [&k1, &k2, &k3] {
        assert!(stdout.contains(&format!("kid={}", k.kid())), "{stdout}");
    }
}
