// Verifies one Sigstore bundle with sigstore-js (@sigstore/verify, pinned in
// package-lock.json) against a client trust config's trustedRoot, for an exact
// identity and issuer. Run by tests/sigstore_js_interop.rs:
//
//   node verify.mjs TRUST_CONFIG BUNDLE ARTIFACT IDENTITY ISSUER
//
// ARTIFACT is the signed file for a message-signature bundle, or "-" for a DSSE
// bundle (the statement travels in the envelope). Prints one JSON line:
// {"verified": true, "identity": ...} or {"verified": false, "code": ..., "message": ...};
// exits 0 or 1 accordingly (2 on a usage error).
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [trustConfigPath, bundlePath, artifactPath, identity, issuer] = process.argv.slice(2);
if (!issuer) {
  console.error('usage: node verify.mjs TRUST_CONFIG BUNDLE ARTIFACT|- IDENTITY ISSUER');
  process.exit(2);
}
const config = JSON.parse(readFileSync(trustConfigPath, 'utf8'));
const root = TrustedRoot.fromJSON(config.trustedRoot);
const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
const artifact = artifactPath === '-' ? undefined : readFileSync(artifactPath);
try {
  const verifier = new Verifier(toTrustMaterial(root), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
    timestampThreshold: 1,
  });
  const signer = verifier.verify(toSignedEntity(bundle, artifact), {
    subjectAlternativeName: identity,
    extensions: { issuer },
  });
  console.log(JSON.stringify({ verified: true, identity: signer.identity }));
} catch (e) {
  console.log(JSON.stringify({ verified: false, code: e.code ?? null, message: String(e.message) }));
  process.exit(1);
}
