//! Connection strings: which schemes we accept, and what we may print.

use ::kurrentdb::ClientSettings;

use crate::StoreError;

/// A connection string the adapter cannot use (the message says why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

impl From<UrlError> for StoreError {
    fn from(err: UrlError) -> StoreError {
        StoreError::Invalid(err.0)
    }
}

/// Schemes the client understands; `esdb` is EventStoreDB's historical name.
const SCHEMES: &[&str] = &[
    "kurrentdb",
    "kurrentdb+discover",
    "kurrent",
    "kurrent+discover",
    "kdb",
    "kdb+discover",
    "esdb",
    "esdb+discover",
];

/// The connection string in the client's own scheme: `esdb://…` (and
/// `esdb+discover://…`) become `kurrentdb://…`, the rest is kept as written.
pub fn normalise(url: &str) -> Result<String, UrlError> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlError(
            "the kurrentdb store URL must look like kurrentdb://host:2113?tls=false (or esdb://…)"
                .into(),
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    if !SCHEMES.contains(&scheme.as_str()) {
        return Err(UrlError(format!(
            "unknown scheme {scheme}:// for the kurrentdb store: use kurrentdb:// or esdb://"
        )));
    }
    if rest.is_empty() || rest.starts_with(['/', '?']) {
        return Err(UrlError("the kurrentdb store URL names no host".into()));
    }
    let scheme = match scheme.as_str() {
        "esdb" => "kurrentdb",
        "esdb+discover" => "kurrentdb+discover",
        other => other,
    };
    Ok(format!("{scheme}://{rest}"))
}

/// Parses a connection string into the client's settings.
pub fn settings(url: &str) -> Result<ClientSettings, UrlError> {
    let normalised = normalise(url)?;
    normalised.parse::<ClientSettings>().map_err(|err| {
        UrlError(format!(
            "bad kurrentdb connection string {}: {err}",
            redact(url)
        ))
    })
}

/// The connection string without its user name and password, for logs and errors.
pub fn redact(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    let had_user = hosts.len() != authority.len();
    format!(
        "{scheme}://{}{hosts}{tail}",
        if had_user { "***@" } else { "" }
    )
}

/// User name and password written in the connection string (`user:pass@`),
/// for the HTTP API; `None` when there are none.
pub fn credentials(url: &str) -> Option<(String, String)> {
    let (_, rest) = url.trim().split_once("://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (userinfo, _) = rest[..authority_end].rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((percent_decode(user), percent_decode(password)))
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = if bytes[i] == b'%' {
            text.get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        } else {
            None
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The base URL of the node's HTTP API (projections, UI), from the first host.
pub fn http_base(settings: &ClientSettings) -> Result<String, UrlError> {
    let host = settings
        .hosts()
        .first()
        .ok_or_else(|| UrlError("the kurrentdb store URL names no host".into()))?;
    let scheme = if settings.is_secure_mode_enabled() {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{}:{}", host.host, host.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esdb_urls_become_kurrentdb_urls() {
        assert_eq!(
            normalise("esdb://localhost:2113?tls=false").ok(),
            Some("kurrentdb://localhost:2113?tls=false".to_string())
        );
        assert_eq!(
            normalise("ESDB+discover://cluster.example:2113").ok(),
            Some("kurrentdb+discover://cluster.example:2113".to_string())
        );
        assert_eq!(
            normalise(" kurrentdb://a:2113,b:2113,c:2113?tls=false ").ok(),
            Some("kurrentdb://a:2113,b:2113,c:2113?tls=false".to_string())
        );
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_refused() {
        for bad in [
            "postgres://localhost/db",
            "localhost:2113",
            "kurrentdb://",
            "kurrentdb://?tls=false",
            "http://localhost:2113",
        ] {
            assert!(normalise(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn settings_read_hosts_and_tls() {
        let insecure = settings("esdb://localhost:2113?tls=false").expect("parses");
        assert!(!insecure.is_secure_mode_enabled());
        assert_eq!(insecure.hosts().len(), 1);
        assert_eq!(insecure.hosts()[0].host, "localhost");
        assert_eq!(insecure.hosts()[0].port, 2113);
        assert_eq!(
            http_base(&insecure).ok(),
            Some("http://localhost:2113".to_string())
        );

        let cluster =
            settings("kurrentdb://node1:2113,node2:2123,node3:2133?tls=true").expect("parses");
        assert_eq!(cluster.hosts().len(), 3);
        assert_eq!(cluster.hosts()[2].port, 2133);
        assert_eq!(
            http_base(&cluster).ok(),
            Some("https://node1:2113".to_string())
        );
    }

    #[test]
    fn redaction_hides_the_user_and_password() {
        assert_eq!(
            redact("kurrentdb://admin:changeit@localhost:2113?tls=false"),
            "kurrentdb://***@localhost:2113?tls=false"
        );
        assert_eq!(redact("esdb://localhost:2113"), "esdb://localhost:2113");
        assert_eq!(redact("nonsense"), "<not a URL>");
    }

    #[test]
    fn credentials_come_from_the_user_info() {
        assert_eq!(
            credentials("kurrentdb://admin:chan%40geit@localhost:2113?tls=false"),
            Some(("admin".to_string(), "chan@geit".to_string()))
        );
        assert_eq!(credentials("kurrentdb://localhost:2113?tls=false"), None);
        assert_eq!(
            credentials("kurrentdb://ops@localhost:2113"),
            Some(("ops".to_string(), String::new()))
        );
    }

    #[test]
    fn bad_settings_do_not_echo_the_password() {
        match settings("kurrentdb://admin:hunter2@localhost:2113?tls=maybe") {
            Err(UrlError(message)) => {
                assert!(!message.contains("hunter2"), "{message}");
                assert!(message.contains("***@localhost:2113"), "{message}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
