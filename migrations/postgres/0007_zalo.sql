-- The Zalo Official Account channel: webhook events stored before they are
-- acknowledged, the OA's tokens (the refresh token is single-use: the new
-- one is stored at once), Zalo users and their link to a member, and the
-- channel of outgoing messages.

CREATE TABLE zalo_events (
    id          BIGSERIAL PRIMARY KEY,
    -- Zalo's msg_id, or name:user:timestamp for events without one: a
    -- redelivered event is recognized by it.
    event_key   TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    -- The raw request body, in the archive.
    sha256      TEXT    NOT NULL,
    event_at    BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    -- pending (waiting for the sender's quiet window), done, ignored
    state       TEXT    NOT NULL DEFAULT 'pending',
    -- The parsed event (JSON) and what became of it.
    parsed      TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX zalo_events_pending ON zalo_events (state, user_id, received_at);

CREATE TABLE zalo_tokens (
    id            BIGINT PRIMARY KEY,
    access_token  TEXT    NOT NULL,
    refresh_token TEXT    NOT NULL,
    expires_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE zalo_users (
    user_id      TEXT    PRIMARY KEY,
    -- The member this Zalo account belongs to, once linked (R4).
    email        TEXT    NOT NULL DEFAULT '',
    linked_at    BIGINT,
    -- A pending link: the address asked for, the code's hash and expiry.
    link_email   TEXT    NOT NULL DEFAULT '',
    link_code    TEXT    NOT NULL DEFAULT '',
    link_expires BIGINT NOT NULL DEFAULT 0,
    link_tries   BIGINT NOT NULL DEFAULT 0,
    last_seen    BIGINT NOT NULL
);

-- The Zalo user a ticket's sender wrote from: the sender's mail goes there.
ALTER TABLE tickets ADD COLUMN sender_zalo TEXT NOT NULL DEFAULT '';
-- email or zalo (recipient is then a Zalo user id).
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
CREATE INDEX outbox_channel_due ON outbox (channel, status, next_attempt_at);
