-- TOKEN_ENC_KEY rotation (`vouch admin rotate-token-enc-key`) re-seals every registry
-- key under the new key. 0002's trigger forbade any change to `sealed`; this one
-- permits exactly one more kind of update: `sealed` changes while kid, public_key,
-- instance_id, created_at and retired_at all stay as they were (retired keys included,
-- so their private halves stay usable under the new key). Why that is safe: the public
-- key is what verifiers trust and it cannot change; the server only accepts a sealed
-- seed that reproduces the row's kid and public key (INTEGRITY_E102 otherwise), and
-- the envelope binds the instance id and kid, so a re-seal can re-wrap the same key
-- but never substitute another one. Retiring is allowed as before; nothing else is.
DROP TRIGGER registry_keys_retire_only;
CREATE TRIGGER registry_keys_retire_or_reseal BEFORE UPDATE ON registry_keys
WHEN NEW.kid IS NOT OLD.kid OR NEW.public_key IS NOT OLD.public_key
  OR NEW.instance_id IS NOT OLD.instance_id OR NEW.created_at IS NOT OLD.created_at
  OR (NEW.retired_at IS NOT OLD.retired_at
      AND (OLD.retired_at IS NOT NULL OR NEW.sealed IS NOT OLD.sealed))
BEGIN SELECT RAISE(ABORT, 'registry keys only ever get retired or re-sealed'); END;
