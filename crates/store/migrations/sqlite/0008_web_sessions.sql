-- Administrator web sessions and their CSRF tokens, shared by every node behind a load
-- balancer (they lived in one process's memory before). `key` is the hex SHA-256 of
-- the cookie value: the cookie itself is never stored, so a database reader cannot
-- present it. `csrf` is stored as issued (every form of the session renders it; it is
-- useless without the cookie). Times are unix milliseconds of the serving node's
-- clock; a row is live while both deadlines are in the future, a condition every
-- query states in SQL, and rows past either deadline are deleted on the next sign-in.
-- Version 0008: 0007 is reserved for the sequencer lease (the runner applies any
-- missing version, in order, whatever the gaps).
CREATE TABLE web_sessions (
    key TEXT PRIMARY KEY NOT NULL,
    token_id BIGINT NOT NULL,
    label TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);
CREATE INDEX web_sessions_idle ON web_sessions (idle_expires_at);
-- The one message a session's next page shows (the result of the last action),
-- taken (deleted) by the request that shows it.
CREATE TABLE web_session_flashes (
    session_key TEXT PRIMARY KEY NOT NULL REFERENCES web_sessions (key) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    code TEXT,
    text TEXT NOT NULL
);
