// Verifies one managed-key Sigstore bundle with sigstore-js (@sigstore/verify, pinned in
// package-lock.json) against a client trust config's trustedRoot and a PEM public key.
// sigstore-js finds the key by the bundle's `publicKey.hint`: the key is offered under
// base64(SHA-256(DER SubjectPublicKeyInfo)), the hint cosign and sigstore-go write, so a
// bundle with another hint is refused. Run by tests/sign_key.rs:
//
//   node verify-key.mjs TRUST_CONFIG BUNDLE ARTIFACT PUBLIC_KEY_PEM
//
// Prints one JSON line: {"verified": true, "hint": ...} or {"verified": false, "code":
// ..., "message": ...}; exits 0 or 1 accordingly (2 on a usage error).
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [trustConfigPath, bundlePath, artifactPath, keyPath] = process.argv.slice(2);
if (!keyPath) {
  console.error('usage: node verify-key.mjs TRUST_CONFIG BUNDLE ARTIFACT PUBLIC_KEY_PEM');
  process.exit(2);
}
const config = JSON.parse(readFileSync(trustConfigPath, 'utf8'));
const root = TrustedRoot.fromJSON(config.trustedRoot);
const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
const der = createPublicKey(readFileSync(keyPath, 'utf8')).export({ type: 'spki', format: 'der' });
const hint = createHash('sha256').update(der).digest('base64');
try {
  const verifier = new Verifier(toTrustMaterial(root, { [hint]: { rawBytes: der } }), {
    tlogThreshold: 1,
    ctlogThreshold: 0,
    timestampThreshold: 1,
  });
  verifier.verify(toSignedEntity(bundle, readFileSync(artifactPath)));
  console.log(JSON.stringify({ verified: true, hint }));
} catch (e) {
  console.log(JSON.stringify({ verified: false, code: e.code ?? null, message: String(e.message) }));
  process.exit(1);
}
