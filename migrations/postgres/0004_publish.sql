-- Publishing: who wrote it and where it came from (R8), when it goes out,
-- where it went.

ALTER TABLE tickets ADD COLUMN author TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN publish_at BIGINT;
ALTER TABLE tickets ADD COLUMN published_at BIGINT;
ALTER TABLE tickets ADD COLUMN slug TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN url TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN publish_error TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN publish_attempts BIGINT NOT NULL DEFAULT 0;

CREATE INDEX tickets_publish_at ON tickets (publish_at) WHERE publish_at IS NOT NULL;
ALTER TABLE tickets ADD COLUMN takedown_at BIGINT;
ALTER TABLE tickets ADD COLUMN takedown_reason TEXT NOT NULL DEFAULT '';
