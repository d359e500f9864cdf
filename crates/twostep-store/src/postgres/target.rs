//! The connection string: a libpq-style `postgres://` URL plus our own
//! `schema=` parameter, stripped before the URL reaches the driver.

use std::str::FromStr;

use tokio_postgres::error::SqlState;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket};

use crate::StoreError;

/// The schema used when the connection string names none.
pub const DEFAULT_SCHEMA: &str = "public";

/// The longest schema name accepted (the notification channel adds a prefix
/// to it and must stay within PostgreSQL's 63-byte identifiers).
const MAX_SCHEMA_LEN: usize = 48;

/// Where the store lives: a server, a database and a schema in it.
#[derive(Clone)]
pub(crate) struct Target {
    config: Config,
    schema: String,
    /// `host:port/database`, for messages (never the password).
    label: String,
}

impl Target {
    /// Parses `postgres://user@host:port/db?schema=name&…`.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let invalid = |why: String| StoreError::Invalid(format!("bad --store-url: {why}"));
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "a postgres store URL starts with postgres:// or postgresql://".into(),
            ));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.strip_prefix("schema=") {
                Some(name) => schema = Some(name.to_owned()),
                None => rest.push(pair),
            }
        }
        let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        check_schema_name(&schema).map_err(invalid)?;
        let driver_url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        // The driver's own message may quote the URL, password included.
        let mut config = Config::from_str(&driver_url).map_err(|_| {
            invalid("not a valid connection string (postgres://user@host:port/database)".into())
        })?;
        let search_path = format!("-c search_path={schema}");
        let options = match config.get_options() {
            Some(given) => format!("{given} {search_path}"),
            None => search_path,
        };
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("twostep");
        }
        let label = label(&config);
        Ok(Target {
            config,
            schema,
            label,
        })
    }

    /// The schema holding the tables.
    pub(crate) fn schema(&self) -> &str {
        &self.schema
    }

    /// `host:port/database schema`, for messages.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The channel appends notify and the listener listens on.
    pub(crate) fn channel(&self) -> String {
        format!("twostep_{}", self.schema)
    }

    /// A connection whose driver task runs on the runtime.
    pub(crate) async fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) = self.connect_raw().await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::warn!(error = %err, "a postgres connection ended");
            }
        });
        Ok(client)
    }

    /// A connection whose driver the caller polls (to receive notifications).
    pub(crate) async fn connect_raw(
        &self,
    ) -> Result<(Client, Connection<Socket, NoTlsStream>), StoreError> {
        self.config.connect(NoTls).await.map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {}",
                self.label,
                describe(&err)
            ))
        })
    }
}

fn label(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Lowercase letters, digits and `_`, not starting with a digit: the name is
/// then safe to splice into SQL and needs no quoting.
fn check_schema_name(schema: &str) -> Result<(), String> {
    let valid_start = schema
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let valid_rest = schema
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid_start && valid_rest && schema.len() <= MAX_SCHEMA_LEN && !schema.starts_with("pg_") {
        Ok(())
    } else {
        Err(format!(
            "schema={schema:?}: a schema name is 1 to {MAX_SCHEMA_LEN} lowercase letters, digits \
             or _, starts with a letter or _, and does not start with pg_"
        ))
    }
}

/// A driver error in one line: the server's message when there is one.
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// A driver error as a store error: everything is worth retrying except a
/// server refusing what we stored.
pub(crate) fn pg_error(err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&SqlState::DATA_CORRUPTED) {
        StoreError::Corrupt(describe(&err))
    } else {
        StoreError::Unavailable(format!("postgres: {}", describe(&err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_stripped_and_becomes_the_search_path() {
        let target =
            Target::parse("postgres://root@127.0.0.1:5432/test?schema=tenant_a&connect_timeout=5")
                .expect("a valid URL");
        assert_eq!(target.schema(), "tenant_a");
        assert_eq!(target.label(), "127.0.0.1:5432/test");
        assert_eq!(target.channel(), "twostep_tenant_a");
        assert_eq!(target.config.get_options(), Some("-c search_path=tenant_a"));
        assert_eq!(
            target.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
    }

    #[test]
    fn without_a_schema_parameter_the_public_schema_is_used() {
        let target = Target::parse("postgresql://root@localhost/test").expect("a valid URL");
        assert_eq!(target.schema(), "public");
    }

    #[test]
    fn unsafe_schema_names_are_refused() {
        for bad in [
            "Tenant",
            "a-b",
            "a;drop",
            "1a",
            "",
            "pg_catalog",
            &"a".repeat(49),
        ] {
            let url = format!("postgres://root@localhost/test?schema={bad}");
            assert!(
                matches!(Target::parse(&url), Err(StoreError::Invalid(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_the_password() {
        let Err(StoreError::Invalid(why)) = Target::parse("mysql://u:hunter2@h/db") else {
            panic!("a mysql URL should be refused");
        };
        assert!(!why.contains("hunter2"), "{why}");
        let Err(StoreError::Invalid(why)) = Target::parse("postgres://u:hunter2@h:notaport/db")
        else {
            panic!("a bad port should be refused");
        };
        assert!(!why.contains("hunter2"), "{why}");
    }
}
