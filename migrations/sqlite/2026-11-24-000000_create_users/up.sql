-- Registered users. `mobile` is unique: a lost race on this index is reported as a duplicate.
-- `created_at` is UTC text with milliseconds ("YYYY-MM-DD HH:MM:SS.SSS").
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reuse an id (sessions name users by id)
    mobile        VARCHAR(11)  NOT NULL,
    password_hash TEXT         NOT NULL,
    created_at    TIMESTAMP    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    CONSTRAINT users_mobile_key UNIQUE (mobile)
);
