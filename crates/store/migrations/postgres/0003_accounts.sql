-- vouch metadata schema v3 (PostgreSQL): accounts for a production install (issue 12).
-- Never edit once shipped: add a new file.

-- A disabled user keeps its rows (owned packages, bindings it created, the audit
-- trail), but none of its tokens authenticates any more.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- What a token may do: 'owner' (the packages its user owns, optionally narrowed to
-- the names in `packages`) or 'admin' (the admin API). Existing tokens are owner tokens.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'owner'
    CHECK (scope IN ('owner', 'admin'));
-- Owner tokens only: the package names (one per line) the token is limited to; NULL
-- means every package its user owns, and new names.
ALTER TABLE api_tokens ADD COLUMN packages TEXT;
