-- The portal's tables that bientap writes (docs/site-schema.md).
-- Times are Unix seconds (UTC).

CREATE TABLE categories (
    id    INTEGER PRIMARY KEY,
    slug  VARCHAR(200) NOT NULL UNIQUE,
    name  VARCHAR(200) NOT NULL
);

CREATE TABLE articles (
    id                INTEGER PRIMARY KEY,
    origin            VARCHAR(40)  NOT NULL UNIQUE,
    slug              VARCHAR(250) NOT NULL UNIQUE,
    title             VARCHAR(500) NOT NULL,
    summary           TEXT         NOT NULL,
    body_html         TEXT         NOT NULL,
    author            VARCHAR(300) NOT NULL,
    source            VARCHAR(300) NOT NULL,
    category_id       INTEGER REFERENCES categories (id),
    reference_news    INTEGER      NOT NULL DEFAULT 0,
    reference_notice  TEXT         NOT NULL,
    credit_line       TEXT         NOT NULL,
    status            VARCHAR(20)  NOT NULL,
    version           INTEGER      NOT NULL,
    approved_by       VARCHAR(320) NOT NULL,
    approved_at       BIGINT       NOT NULL,
    published_at      BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    unpublished_at    BIGINT,
    unpublish_reason  TEXT         NOT NULL
);
CREATE INDEX articles_status_published ON articles (status, published_at);

CREATE TABLE media (
    id             INTEGER PRIMARY KEY,
    article_id     INTEGER      NOT NULL REFERENCES articles (id),
    position       INTEGER      NOT NULL,
    sha256         CHAR(64)     NOT NULL,
    file_name      VARCHAR(100) NOT NULL,
    original_name  VARCHAR(300) NOT NULL,
    content_type   VARCHAR(100) NOT NULL,
    url            VARCHAR(600) NOT NULL,
    is_image       INTEGER      NOT NULL,
    width          INTEGER,
    height         INTEGER,
    UNIQUE (article_id, position)
);

CREATE TABLE publication_log (
    id          INTEGER PRIMARY KEY,
    article_id  INTEGER      NOT NULL REFERENCES articles (id),
    origin      VARCHAR(40)  NOT NULL,
    action      VARCHAR(20)  NOT NULL,
    at          BIGINT       NOT NULL,
    by_whom     VARCHAR(320) NOT NULL,
    reason      TEXT         NOT NULL,
    title       VARCHAR(500) NOT NULL,
    version     INTEGER      NOT NULL,
    body_sha256 CHAR(64)     NOT NULL
);
CREATE INDEX publication_log_origin ON publication_log (origin, id);
