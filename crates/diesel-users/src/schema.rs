//! The `users` table as diesel sees it. PostgreSQL stores `created_at` as `timestamptz`;
//! MySQL (`DATETIME(6)`, UTC session) and SQLite (UTC text) as a plain timestamp. Both read
//! into a UTC `time::PrimitiveDateTime`.

pub(crate) mod pg {
    diesel::table! {
        users (id) {
            id -> BigInt,
            mobile -> Varchar,
            password_hash -> Text,
            created_at -> Timestamptz,
        }
    }
}

pub(crate) mod common {
    diesel::table! {
        users (id) {
            id -> BigInt,
            mobile -> Varchar,
            password_hash -> Text,
            created_at -> Timestamp,
        }
    }
}
