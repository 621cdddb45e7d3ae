-- The portal's tables that bientap writes (docs/site-schema.md).
-- Times are Unix seconds (UTC).

CREATE TABLE categories (
    id    BIGINT AUTO_INCREMENT PRIMARY KEY,
    slug  VARCHAR(200) NOT NULL UNIQUE,
    name  VARCHAR(200) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE articles (
    id                BIGINT AUTO_INCREMENT PRIMARY KEY,
    origin            VARCHAR(40)  NOT NULL UNIQUE,
    slug              VARCHAR(250) NOT NULL UNIQUE,
    title             VARCHAR(500) NOT NULL,
    summary           TEXT         NOT NULL,
    body_html         MEDIUMTEXT         NOT NULL,
    author            VARCHAR(300) NOT NULL,
    source            VARCHAR(300) NOT NULL,
    category_id       BIGINT REFERENCES categories (id),
    reference_news    BIGINT      NOT NULL DEFAULT 0,
    reference_notice  TEXT         NOT NULL,
    credit_line       TEXT         NOT NULL,
    status            VARCHAR(20)  NOT NULL,
    version           BIGINT      NOT NULL,
    approved_by       VARCHAR(320) NOT NULL,
    approved_at       BIGINT       NOT NULL,
    published_at      BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    unpublished_at    BIGINT,
    unpublish_reason  TEXT         NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX articles_status_published ON articles (status, published_at);

CREATE TABLE media (
    id             BIGINT AUTO_INCREMENT PRIMARY KEY,
    article_id     BIGINT      NOT NULL REFERENCES articles (id),
    position       BIGINT      NOT NULL,
    sha256         CHAR(64)     NOT NULL,
    file_name      VARCHAR(100) NOT NULL,
    original_name  VARCHAR(300) NOT NULL,
    content_type   VARCHAR(100) NOT NULL,
    url            VARCHAR(600) NOT NULL,
    is_image       BIGINT      NOT NULL,
    width          BIGINT,
    height         BIGINT,
    UNIQUE (article_id, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE publication_log (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    article_id  BIGINT      NOT NULL REFERENCES articles (id),
    origin      VARCHAR(40)  NOT NULL,
    action      VARCHAR(20)  NOT NULL,
    at          BIGINT       NOT NULL,
    by_whom     VARCHAR(320) NOT NULL,
    reason      TEXT         NOT NULL,
    title       VARCHAR(500) NOT NULL,
    version     BIGINT      NOT NULL,
    body_sha256 CHAR(64)     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX publication_log_origin ON publication_log (origin, id);
