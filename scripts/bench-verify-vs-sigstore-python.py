"""Verify one Sigstore bundle in a loop in one Python process with sigstore-python
(offline: the trusted root comes from a file, no TUF, no network) and print one JSON
object with verifies per second. Each iteration parses the bundle JSON and verifies the
artifact bytes, as `vouch bench verify` does.

usage: python bench-verify-vs-sigstore-python.py BUNDLE ARTIFACT TRUSTED_ROOT IDENTITY ISSUER SECONDS
"""

import json
import sys
import time
from importlib.metadata import version

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity


def main() -> None:
    bundle_path, artifact_path, root_path, identity, issuer, seconds = sys.argv[1:7]
    seconds = float(seconds)
    bundle_json = open(bundle_path, "rb").read()
    artifact = open(artifact_path, "rb").read()
    verifier = Verifier(trusted_root=TrustedRoot.from_file(root_path))
    policy = Identity(identity=identity, issuer=issuer)

    # One untimed verification: it must pass, and it warms caches as vouch's does.
    verifier.verify_artifact(artifact, Bundle.from_json(bundle_json), policy)

    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        verifier.verify_artifact(artifact, Bundle.from_json(bundle_json), policy)
        done += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "verifies_per_s": round(done / elapsed, 1),
        "threads": 1,
        "verifies": done,
        "seconds": round(elapsed, 3),
        "sigstore_python": version("sigstore"),
    }))


if __name__ == "__main__":
    main()
