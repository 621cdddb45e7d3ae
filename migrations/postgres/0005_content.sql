-- Reading what collaborators send: photo dimensions, and the fingerprints
-- that recognise re-sent and copied articles (R12).

ALTER TABLE attachments ADD COLUMN width BIGINT;
ALTER TABLE attachments ADD COLUMN height BIGINT;

-- One fingerprint per ticket, of its latest version: `digest` of the
-- normalized text and attachments (identical re-sends), `signature` the
-- MinHash of its word shingles (near copies), empty when too short.
CREATE TABLE fingerprints (
    ticket_id  BIGINT PRIMARY KEY REFERENCES tickets (id),
    version    BIGINT NOT NULL,
    digest     TEXT   NOT NULL,
    signature  TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX fingerprints_digest ON fingerprints (digest);
