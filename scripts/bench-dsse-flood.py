#!/usr/bin/env python3
"""Sends the worst DSSE entries vouch's limits allow to POST /api/v2/log/entries, from
THREADS keep-alive connections for SECONDS seconds, and prints one JSON line of counts.

Worst case: the most signatures and verifiers a request may carry (8 and 8), P-384
keys (the costliest verification vouch accepts), and every signature valid only for
the last verifier, so the server makes 64 signature checks per request before it
accepts it. Loopback only; bounded in time; stops by itself.

    bench-dsse-flood.py URL SECONDS THREADS
"""
import base64
import http.client
import json
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MAX_SIGNATURES = 8
MAX_VERIFIERS = 8
STATEMENT = (
    b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":'
    b'{"sha256":"00"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}'
)
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def worst_request() -> bytes:
    keys = [ec.generate_private_key(ec.SECP384R1()) for _ in range(MAX_VERIFIERS)]
    b64 = lambda b: base64.b64encode(b).decode()
    verifiers = [
        {
            "publicKey": {
                "rawBytes": b64(
                    k.public_key().public_bytes(
                        serialization.Encoding.DER,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                )
            },
            "keyDetails": "PKIX_ECDSA_P384_SHA_384",
        }
        for k in keys
    ]
    message = pae(PAYLOAD_TYPE, STATEMENT)
    sigs = [
        {"sig": b64(keys[-1].sign(message, ec.ECDSA(hashes.SHA384()))), "keyid": ""}
        for _ in range(MAX_SIGNATURES)
    ]
    return json.dumps(
        {
            "dsseRequestV002": {
                "envelope": {
                    "payload": b64(STATEMENT),
                    "payloadType": PAYLOAD_TYPE,
                    "signatures": sigs,
                },
                "verifiers": verifiers,
            }
        }
    ).encode()


def main() -> None:
    url, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench-dsse-flood: loopback targets only")
    body = worst_request()
    deadline = time.monotonic() + seconds
    counts: dict = {}
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while time.monotonic() < deadline:
            try:
                conn.request(
                    "POST",
                    "/api/v2/log/entries",
                    body,
                    {"Content-Type": "application/json"},
                )
                r = conn.getresponse()
                r.read()
                key = str(r.status)
            except Exception as e:  # a refused or closed connection: count and reconnect
                key = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            with lock:
                counts[key] = counts.get(key, 0) + 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = sum(counts.values())
    print(
        json.dumps(
            {
                "request_bytes": len(body),
                "signature_checks_per_request": MAX_SIGNATURES * MAX_VERIFIERS,
                "threads": threads,
                "seconds": seconds,
                "requests": total,
                "requests_per_s": round(total / seconds, 1),
                "statuses": counts,
            }
        )
    )


if __name__ == "__main__":
    main()
