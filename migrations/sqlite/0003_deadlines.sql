-- Deadlines on working days: publication limits (R14), reminder state,
-- and board-level scheduled jobs (R17, R23).

ALTER TABLE tickets ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN event_date TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN publish_due INTEGER;
ALTER TABLE tickets ADD COLUMN alert_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN next_alert_at INTEGER;

CREATE INDEX tickets_next_alert ON tickets (next_alert_at) WHERE next_alert_at IS NOT NULL;
CREATE INDEX tickets_assignee ON tickets (assignee, state, due_at);
CREATE INDEX tickets_assignee_role ON tickets (assignee_role, state, due_at);

CREATE TABLE jobs (
    name     TEXT    PRIMARY KEY,
    next_at  INTEGER NOT NULL
);
