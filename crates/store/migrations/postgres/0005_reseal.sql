-- TOKEN_ENC_KEY rotation (`vouch admin rotate-token-enc-key`) re-seals every registry
-- key under the new key. 0002's trigger forbade any change to `sealed`; this one
-- permits exactly one more kind of update: `sealed` changes while kid, public_key,
-- instance_id, created_at and retired_at all stay as they were (retired keys included,
-- so their private halves stay usable under the new key). Why that is safe: the public
-- key is what verifiers trust and it cannot change; the server only accepts a sealed
-- seed that reproduces the row's kid and public key (INTEGRITY_E102 otherwise), and
-- the envelope binds the instance id and kid, so a re-seal can re-wrap the same key
-- but never substitute another one. Retiring is allowed as before; nothing else is.
CREATE OR REPLACE FUNCTION vouch_registry_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'registry keys are never deleted';
    END IF;
    IF NEW.kid IS DISTINCT FROM OLD.kid
       OR NEW.public_key IS DISTINCT FROM OLD.public_key
       OR NEW.instance_id IS DISTINCT FROM OLD.instance_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (NEW.retired_at IS DISTINCT FROM OLD.retired_at
           AND (OLD.retired_at IS NOT NULL OR NEW.sealed IS DISTINCT FROM OLD.sealed)) THEN
        RAISE EXCEPTION 'registry keys only ever get retired or re-sealed';
    END IF;
    RETURN NEW;
END;
$$;
