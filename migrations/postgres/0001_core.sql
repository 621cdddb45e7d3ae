-- Mail room core: every input, tickets, their versions and history.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE tickets (
    id              BIGSERIAL PRIMARY KEY,
    code            TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    sender_addr     TEXT    NOT NULL,
    sender_name     TEXT    NOT NULL DEFAULT '',
    sender_member   BIGINT NOT NULL DEFAULT 0,
    sender_unit     TEXT    NOT NULL DEFAULT '',
    channel         TEXT    NOT NULL DEFAULT 'email',
    received_at     BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    first_message   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX tickets_state_due ON tickets (state, due_at);

CREATE TABLE ticket_counters (
    year      BIGINT PRIMARY KEY,
    last_seq  BIGINT NOT NULL
);

CREATE TABLE messages (
    id           BIGSERIAL PRIMARY KEY,
    sha256       TEXT    NOT NULL UNIQUE,
    message_id   TEXT,
    size         BIGINT NOT NULL,
    source       TEXT    NOT NULL,
    arrived_at   BIGINT NOT NULL,
    arrival_from TEXT    NOT NULL,
    ingested_at  BIGINT NOT NULL,
    kind         TEXT    NOT NULL,
    from_addr    TEXT    NOT NULL DEFAULT '',
    from_name    TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    ticket_id    BIGINT REFERENCES tickets (id),
    reason       TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_kind ON messages (kind, id);
CREATE INDEX messages_ticket ON messages (ticket_id);

CREATE TABLE versions (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    number      BIGINT NOT NULL,
    message_id  BIGINT NOT NULL REFERENCES messages (id),
    body_html   TEXT    NOT NULL,
    body_text   TEXT    NOT NULL,
    notes       TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    UNIQUE (ticket_id, number)
);

CREATE TABLE attachments (
    id            BIGSERIAL PRIMARY KEY,
    version_id    BIGINT NOT NULL REFERENCES versions (id),
    position      BIGINT NOT NULL,
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT    NOT NULL,
    content_id    TEXT    NOT NULL DEFAULT '',
    inline        BIGINT NOT NULL DEFAULT 0,
    UNIQUE (version_id, position)
);

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    at          BIGINT NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    message_id  BIGINT REFERENCES messages (id),
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_ticket ON events (ticket_id, id);

CREATE TABLE mailbox_state (
    mailbox       TEXT    PRIMARY KEY,
    uid_validity  BIGINT NOT NULL,
    last_uid      BIGINT NOT NULL
);

CREATE TABLE pending_moves (
    mailbox       TEXT    NOT NULL,
    uid_validity  BIGINT NOT NULL,
    uid           BIGINT NOT NULL,
    PRIMARY KEY (mailbox, uid_validity, uid)
);
