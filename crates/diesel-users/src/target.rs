//! `database.url` → which backend, and what to hand its driver.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::{Backend, SetupError};

/// A database URL this crate speaks, parsed once: `sqlite://PATH`, `sqlite::memory:`,
/// `postgres://` / `postgresql://`, `mysql://` / `mariadb://`. Ask it which [`Backend`] it
/// means; hand it to [`crate::DieselUsers::connect`] and [`crate::run_migrations`].
///
/// `Debug` shows the backend only: a server URL may carry a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub(crate) Target);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, SetupError> {
        parse(url).map(Self)
    }

    pub fn backend(&self) -> Backend {
        match self.0 {
            Target::Postgres(_) => Backend::Postgres,
            Target::Mysql(_) => Backend::Mysql,
            Target::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = SetupError;
    fn from_str(url: &str) -> Result<Self, SetupError> {
        Self::parse(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?}, ..)", self.backend())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Postgres(String),
    Mysql(String),
    Sqlite(SqliteTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteTarget {
    /// A file path as diesel's SQLite driver takes it.
    File(String),
    Memory,
}

fn parse(url: &str) -> Result<Target, SetupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres(url.to_owned()));
    }
    if url.starts_with("mysql://") {
        return Ok(Target::Mysql(url.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("mariadb://") {
        // mysql_async speaks to MariaDB but only knows the `mysql` scheme.
        return Ok(Target::Mysql(format!("mysql://{rest}")));
    }
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(SetupError::UnsupportedUrl);
    };
    match rest {
        "" => Err(SetupError::UnsupportedUrl),
        ":memory:" => Ok(Target::Sqlite(SqliteTarget::Memory)),
        path => Ok(Target::Sqlite(SqliteTarget::File(path.to_owned()))),
    }
}

/// SQLite creates the file but not its directory (the default is `data/yanzheng.db`).
pub(crate) fn create_parent_dirs(path: &str) -> Result<(), SetupError> {
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            SetupError::Connect(anyhow::Error::new(e).context(format!(
                "creating the directory {} for the SQLite database",
                dir.display()
            )))
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(
            parse("postgres://u:p@h/db").unwrap(),
            Target::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(
            parse("postgresql://h/db").unwrap(),
            Target::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            parse("mysql://root@h:3306/db").unwrap(),
            Target::Mysql("mysql://root@h:3306/db".into())
        );
        assert_eq!(
            parse("mariadb://root@h/db").unwrap(),
            Target::Mysql("mysql://root@h/db".into())
        );
        assert_eq!(
            parse("sqlite://data/yanzheng.db").unwrap(),
            Target::Sqlite(SqliteTarget::File("data/yanzheng.db".into()))
        );
        assert_eq!(
            parse("sqlite:///var/lib/yz.db").unwrap(),
            Target::Sqlite(SqliteTarget::File("/var/lib/yz.db".into()))
        );
        assert_eq!(
            parse("sqlite::memory:").unwrap(),
            Target::Sqlite(SqliteTarget::Memory)
        );
        assert_eq!(
            parse("sqlite://:memory:").unwrap(),
            Target::Sqlite(SqliteTarget::Memory)
        );
    }

    #[test]
    fn a_parsed_url_names_its_backend_and_hides_its_password() {
        let url = DatabaseUrl::parse("mariadb://root:hunter2@h/db").unwrap();
        assert_eq!(url.backend(), Backend::Mysql);
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            "sqlite::memory:".parse::<DatabaseUrl>().unwrap().backend(),
            Backend::Sqlite
        );
    }

    #[test]
    fn unknown_schemes_are_refused_without_echoing_the_url() {
        for url in [
            "redis://h",
            "http://secret@h",
            "sqlite://",
            "",
            "data/yz.db",
        ] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, SetupError::UnsupportedUrl), "{url}");
        }
        assert!(!parse("oracle://user:hunter2@h")
            .unwrap_err()
            .to_string()
            .contains("hunter2"));
    }
}
