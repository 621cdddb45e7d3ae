-- Unforgeable approval: every mail that invites someone to act carries a
-- token bound to the ticket, the person, the stage, the version they were
-- shown and the ticket's round; the round advances with every transition,
-- so a token stops working once its round is decided.

ALTER TABLE tickets ADD COLUMN round INTEGER NOT NULL DEFAULT 1;

-- What a mail's token was issued for ('' and 0 for mail without one).
ALTER TABLE outbox ADD COLUMN token TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_token ON outbox (ticket_id, token);

-- Who declassified a message released from quarantine (R10).
ALTER TABLE messages ADD COLUMN declassified_by TEXT NOT NULL DEFAULT '';
