-- Registered users. `mobile` is unique: a lost race on this index is reported as a duplicate.
-- `created_at` is UTC: the adapter sets `time_zone = '+00:00'` on every connection.
CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    mobile        VARCHAR(11)  NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    CONSTRAINT users_mobile_key UNIQUE (mobile)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
