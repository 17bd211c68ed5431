"""Builds TUF repositories with python-tuf (an independent implementation) for vouch's TUF attack tests, and serves one over HTTP.

    tuf_repos.py build OUT   writes OUT/<scenario>/ for every scenario below
    tuf_repos.py serve DIR   serves DIR/current (a symlink the test re-points) on 127.0.0.1,
                             printing "PORT <n>" once listening

Scenarios (all share one root v1; "good" is what the client trusts first):
    good           root v1, timestamp v2, snapshot v2, targets v2 with trusted_root.json
    ts_rollback    timestamp v1 (older than the trusted v2)
    snap_rollback  timestamp v3 pinning snapshot v1 (older than the trusted v2)
    freeze         timestamp v3, expired an hour ago
    mix_and_match  timestamp v3 pinning a snapshot v3 whose served bytes differ from the pin
    bad_threshold  2.root.json requiring 2 of 2 root keys, signed by one
    oversized      targets v3 listing a new trusted_root.json, served 4 KiB longer than listed
    wrong_target   targets v3 listing a new trusted_root.json, served with other bytes of its length
    root_version   a root v3 served as 2.root.json
    no_trusted_root targets v3 listing no trusted_root.json
    malformed      a timestamp.json that is not JSON
"""

import datetime
import http.server
import os
import shutil
import sys

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
LATER = NOW + datetime.timedelta(days=30)
PAST = NOW - datetime.timedelta(hours=1)
SER = JSONSerializer(compact=False)
TRUSTED_ROOT = b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [], "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []}\n'

keys = {name: CryptoSigner.generate_ed25519() for name in ["root", "root2", "targets", "snapshot", "timestamp"]}


def signed(obj, *signers):
    md = Metadata(obj)
    for s in signers:
        md.sign(s, append=True)
    return md.to_bytes(SER)


def root_v1():
    r = Root(version=1, expires=LATER, consistent_snapshot=True)
    for role in ["root", "targets", "snapshot", "timestamp"]:
        r.add_key(keys[role].public_key, role)
    return r


def targets(version, content=TRUSTED_ROOT):
    t = Targets(version=version, expires=LATER)
    t.targets["trusted_root.json"] = TargetFile.from_data("trusted_root.json", content, ["sha256"])
    return signed(t, keys["targets"])


def snapshot(version, targets_version):
    s = Snapshot(version=version, expires=LATER)
    s.meta["targets.json"] = MetaFile(version=targets_version)
    return signed(s, keys["snapshot"])


def timestamp(version, snapshot_version, snapshot_bytes, expires=LATER):
    t = Timestamp(version=version, expires=expires)
    t.snapshot_meta = MetaFile.from_data(snapshot_version, snapshot_bytes, ["sha256"])
    return signed(t, keys["timestamp"])


def write(d, files):
    os.makedirs(os.path.join(d, "targets"), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def build(out):
    import hashlib

    root1 = signed(root_v1(), keys["root"])
    tr_name = "targets/" + hashlib.sha256(TRUSTED_ROOT).hexdigest() + ".trusted_root.json"
    base = {"1.root.json": root1, "root.json": root1}
    t2 = targets(2)
    s2 = snapshot(2, 2)
    good = dict(base, **{"2.targets.json": t2, "2.snapshot.json": s2, tr_name: TRUSTED_ROOT,
                        "timestamp.json": timestamp(2, 2, s2)})
    write(os.path.join(out, "good"), good)

    s1 = snapshot(1, 2)
    write(os.path.join(out, "ts_rollback"), dict(good, **{"1.snapshot.json": s1, "timestamp.json": timestamp(1, 1, s1)}))
    write(os.path.join(out, "snap_rollback"), dict(good, **{"1.snapshot.json": s1, "timestamp.json": timestamp(3, 1, s1)}))
    write(os.path.join(out, "freeze"), dict(good, **{"timestamp.json": timestamp(3, 2, s2, expires=PAST)}))

    s3 = snapshot(3, 2)
    other = snapshot(3, 2)  # same version, signed again: different bytes than the pin
    other = other.replace(b'"version": 3', b'"version": 3 ', 1)
    write(os.path.join(out, "mix_and_match"), dict(good, **{"3.snapshot.json": other, "timestamp.json": timestamp(3, 3, s3)}))

    r2 = root_v1()
    r2.version = 2
    r2.add_key(keys["root2"].public_key, "root")
    r2.roles["root"].threshold = 2
    write(os.path.join(out, "bad_threshold"), dict(good, **{"2.root.json": signed(r2, keys["root"])}))

    newer = TRUSTED_ROOT.replace(b"[]}", b"[] }")
    t3 = targets(3, newer)
    s3b = snapshot(3, 3)
    write(os.path.join(out, "oversized"), dict(good, **{
        "3.targets.json": t3, "3.snapshot.json": s3b, "timestamp.json": timestamp(3, 3, s3b),
        "targets/" + hashlib.sha256(newer).hexdigest() + ".trusted_root.json": newer + b" " * 4096,
    }))
    build_more(out, good, tr_name, s2)


def build_more(out, good, tr_name, s2):
    import hashlib

    # Same length, other bytes: the hash check refuses it.
    newer = TRUSTED_ROOT.replace(b"[]}", b"[0]")
    t3 = targets(3, newer)
    s3 = snapshot(3, 3)
    write(os.path.join(out, "wrong_target"), dict(good, **{
        "3.targets.json": t3, "3.snapshot.json": s3, "timestamp.json": timestamp(3, 3, s3),
        "targets/" + hashlib.sha256(newer).hexdigest() + ".trusted_root.json": TRUSTED_ROOT.replace(b"[]}", b"[1]"),
    }))

    r3 = root_v1()
    r3.version = 3
    write(os.path.join(out, "root_version"), dict(good, **{"2.root.json": signed(r3, keys["root"])}))

    t = Targets(version=3, expires=LATER)
    s3 = snapshot(3, 3)
    write(os.path.join(out, "no_trusted_root"), dict(good, **{
        "3.targets.json": signed(t, keys["targets"]), "3.snapshot.json": s3, "timestamp.json": timestamp(3, 3, s3),
    }))

    write(os.path.join(out, "malformed"), dict(good, **{"timestamp.json": b"{not json"}))


def serve(d):
    current = os.path.join(d, "current")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=os.path.realpath(current), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "build":
        shutil.rmtree(sys.argv[2], ignore_errors=True)
        build(sys.argv[2])
    else:
        serve(sys.argv[2])
