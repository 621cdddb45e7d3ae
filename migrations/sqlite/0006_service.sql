-- Operating the service: members disabled at the console (R2: revoked at
-- once, whatever the config file says), and what became of quarantined
-- messages.

CREATE TABLE member_states (
    email       TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    disabled_by TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);

ALTER TABLE messages ADD COLUMN handled_at INTEGER;
ALTER TABLE messages ADD COLUMN handled_by TEXT NOT NULL DEFAULT '';

-- The health check's proof that the database takes writes.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL
);
