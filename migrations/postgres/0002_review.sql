-- Review by e-mail: who a ticket waits for, decisions, and the outbox.

ALTER TABLE tickets ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN assignee_role TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN route_approver TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN changes_stage TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN reference_news BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN decided_at BIGINT;
ALTER TABLE tickets ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN decision_note TEXT NOT NULL DEFAULT '';

ALTER TABLE events ADD COLUMN verified TEXT NOT NULL DEFAULT '';

CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    kind             TEXT    NOT NULL,
    ticket_id        BIGINT REFERENCES tickets (id),
    recipient        TEXT    NOT NULL,
    message_id       TEXT    NOT NULL UNIQUE,
    stage            TEXT    NOT NULL DEFAULT '',
    subject          TEXT    NOT NULL,
    body_text        TEXT    NOT NULL,
    body_html        TEXT    NOT NULL DEFAULT '',
    attachments      TEXT    NOT NULL DEFAULT '[]',
    reply_to         TEXT    NOT NULL DEFAULT '',
    in_reply_to      TEXT    NOT NULL DEFAULT '',
    answers_message  BIGINT REFERENCES messages (id),
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT    NOT NULL DEFAULT '',
    sent_at          BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
CREATE INDEX outbox_ticket ON outbox (ticket_id);
