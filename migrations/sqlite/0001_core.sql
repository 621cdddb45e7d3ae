-- Mail room core: every input, tickets, their versions and history.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    sender_addr     TEXT    NOT NULL,
    sender_name     TEXT    NOT NULL DEFAULT '',
    sender_member   INTEGER NOT NULL DEFAULT 0,
    sender_unit     TEXT    NOT NULL DEFAULT '',
    channel         TEXT    NOT NULL DEFAULT 'email',
    received_at     INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    first_message   INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX tickets_state_due ON tickets (state, due_at);

CREATE TABLE ticket_counters (
    year      INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL
);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT    NOT NULL UNIQUE,
    message_id   TEXT,
    size         INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    arrived_at   INTEGER NOT NULL,
    arrival_from TEXT    NOT NULL,
    ingested_at  INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    from_addr    TEXT    NOT NULL DEFAULT '',
    from_name    TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    ticket_id    INTEGER REFERENCES tickets (id),
    reason       TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_kind ON messages (kind, id);
CREATE INDEX messages_ticket ON messages (ticket_id);

CREATE TABLE versions (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    number      INTEGER NOT NULL,
    message_id  INTEGER NOT NULL REFERENCES messages (id),
    body_html   TEXT    NOT NULL,
    body_text   TEXT    NOT NULL,
    notes       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (ticket_id, number)
);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    version_id    INTEGER NOT NULL REFERENCES versions (id),
    position      INTEGER NOT NULL,
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    content_id    TEXT    NOT NULL DEFAULT '',
    inline        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (version_id, position)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    message_id  INTEGER REFERENCES messages (id),
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_ticket ON events (ticket_id, id);

CREATE TABLE mailbox_state (
    mailbox       TEXT    PRIMARY KEY,
    uid_validity  INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL
);

CREATE TABLE pending_moves (
    mailbox       TEXT    NOT NULL,
    uid_validity  INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid_validity, uid)
);
