-- Unforgeable approval: every mail that invites someone to act carries a
-- token bound to the ticket, the person, the stage, the version they were
-- shown and the ticket's round; the round advances with every transition,
-- so a token stops working once its round is decided.

ALTER TABLE tickets ADD COLUMN round BIGINT NOT NULL DEFAULT 1;

-- What a mail's token was issued for ('' and 0 for mail without one).
ALTER TABLE outbox ADD COLUMN token TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN round BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_token ON outbox (ticket_id, token);

-- Who declassified a message released from quarantine (R10).
ALTER TABLE messages ADD COLUMN declassified_by TEXT NOT NULL DEFAULT '';

-- Tickets open at the upgrade: their round counts the transitions so far,
-- and mail sent before the upgrade (tokens over ticket, member and stage
-- only) is honoured in that round alone: the first transition after the
-- upgrade ends it.
ALTER TABLE tickets ADD COLUMN legacy_round BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET round = 1 + (
    SELECT COUNT(*) FROM events
    WHERE events.ticket_id = tickets.id
      AND events.kind IN ('forwarded', 'approved', 'rejected', 'changes_requested', 'reassigned',
                          'new_version', 'published', 'unpublished', 'takedown_requested'));
UPDATE tickets SET legacy_round = round;
