//! `twostep projections install`: installs (or updates) the KurrentDB
//! server-side projections of `projections/kurrentdb/*.js` through the
//! server's HTTP projections API.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use twostep_store::kurrentdb;

/// A server-side projection: its name on the server and its JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerProjection {
    /// Name on the server.
    pub name: &'static str,
    /// The JavaScript query.
    pub query: &'static str,
}

/// Every server-side projection twostep ships.
pub const SERVER_PROJECTIONS: &[ServerProjection] = &[
    ServerProjection {
        name: "twostep-login-history",
        query: include_str!("../../../projections/kurrentdb/twostep-login-history.js"),
    },
    ServerProjection {
        name: "twostep-security-alerts",
        query: include_str!("../../../projections/kurrentdb/twostep-security-alerts.js"),
    },
    ServerProjection {
        name: "twostep-locks",
        query: include_str!("../../../projections/kurrentdb/twostep-locks.js"),
    },
];

/// How long one HTTP request to the server may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP method of the projections API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
}

/// One request to the projections API, built without sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Body (the JavaScript query), if any.
    pub body: Option<&'static str>,
}

/// Creates a continuous projection that may emit links, enabled, tracking
/// the streams it emits (answers 201, or 409 when the name exists).
pub fn create_request(base: &str, projection: &ServerProjection) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        url: format!(
            "{base}/projections/continuous?name={}&type=js&enabled=true&emit=true&trackemittedstreams=true",
            projection.name
        ),
        body: Some(projection.query),
    }
}

/// Replaces the query of an existing projection.
pub fn update_request(base: &str, projection: &ServerProjection) -> ApiRequest {
    ApiRequest {
        method: Method::Put,
        url: format!(
            "{base}/projection/{}/query?type=js&emit=true",
            projection.name
        ),
        body: Some(projection.query),
    }
}

/// Enables a projection (running it again after an update).
pub fn enable_request(base: &str, projection: &ServerProjection) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        url: format!("{base}/projection/{}/command/enable", projection.name),
        body: None,
    }
}

/// What installing one projection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// It did not exist and was created.
    Created,
    /// It existed; its query was replaced and it was enabled.
    Updated,
}

/// Installs every projection on the server of `store_url`, printing one line each.
pub fn run(store_url: &str) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let installer = Installer::new(store_url)?;
        for projection in SERVER_PROJECTIONS {
            let installed = installer.install(projection).await?;
            let what = match installed {
                Installed::Created => "created",
                Installed::Updated => "updated",
            };
            println!("{}: {what}", projection.name);
        }
        println!(
            "{} projections installed on {}",
            SERVER_PROJECTIONS.len(),
            installer.base
        );
        Ok(())
    })
}

struct Installer {
    http: reqwest::Client,
    base: String,
    credentials: Option<(String, String)>,
}

impl Installer {
    fn new(store_url: &str) -> anyhow::Result<Installer> {
        let settings = kurrentdb::settings(store_url)?;
        let base = kurrentdb::http_base(&settings)?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .danger_accept_invalid_certs(!settings.is_tls_certificate_verification_enabled())
            .build()
            .context("building the HTTP client")?;
        Ok(Installer {
            http,
            base,
            credentials: kurrentdb::credentials(store_url),
        })
    }

    async fn install(&self, projection: &ServerProjection) -> anyhow::Result<Installed> {
        let created = self.send(&create_request(&self.base, projection)).await?;
        match created {
            status if status.is_success() => return Ok(Installed::Created),
            StatusCode::CONFLICT => {}
            status => bail!(self.refusal(projection, "creating", status)),
        }
        let updated = self.send(&update_request(&self.base, projection)).await?;
        if !updated.is_success() {
            bail!(self.refusal(projection, "updating", updated));
        }
        let enabled = self.send(&enable_request(&self.base, projection)).await?;
        if !enabled.is_success() {
            bail!(self.refusal(projection, "enabling", enabled));
        }
        Ok(Installed::Updated)
    }

    fn refusal(&self, projection: &ServerProjection, doing: &str, status: StatusCode) -> String {
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " (projections need an admin or ops user: put user:password@ in --store-url)"
            }
            StatusCode::NOT_FOUND => " (are projections enabled? KURRENTDB_RUN_PROJECTIONS=All)",
            _ => "",
        };
        format!(
            "{doing} projection {} on {}: the server answered {status}{hint}",
            projection.name, self.base
        )
    }

    async fn send(&self, request: &ApiRequest) -> anyhow::Result<StatusCode> {
        let mut builder = match request.method {
            Method::Post => self.http.post(&request.url),
            Method::Put => self.http.put(&request.url),
        };
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/javascript")
                .body(body);
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.basic_auth(user, Some(password));
        }
        let response = builder
            .send()
            .await
            .with_context(|| format!("KurrentDB's HTTP API at {} does not answer", self.base))?;
        Ok(response.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGINS: ServerProjection = SERVER_PROJECTIONS[0];

    #[test]
    fn create_asks_for_an_enabled_emitting_continuous_projection() {
        assert_eq!(
            create_request("http://localhost:2113", &LOGINS),
            ApiRequest {
                method: Method::Post,
                url: "http://localhost:2113/projections/continuous?name=twostep-login-history&type=js&enabled=true&emit=true&trackemittedstreams=true".into(),
                body: Some(LOGINS.query),
            }
        );
    }

    #[test]
    fn update_replaces_the_query_then_enables() {
        assert_eq!(
            update_request("https://node1:2113", &LOGINS),
            ApiRequest {
                method: Method::Put,
                url: "https://node1:2113/projection/twostep-login-history/query?type=js&emit=true"
                    .into(),
                body: Some(LOGINS.query),
            }
        );
        assert_eq!(
            enable_request("https://node1:2113", &LOGINS),
            ApiRequest {
                method: Method::Post,
                url: "https://node1:2113/projection/twostep-login-history/command/enable".into(),
                body: None,
            }
        );
    }

    #[test]
    fn the_embedded_queries_are_the_files() {
        let names: Vec<_> = SERVER_PROJECTIONS.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "twostep-login-history",
                "twostep-security-alerts",
                "twostep-locks"
            ]
        );
        assert!(
            LOGINS
                .query
                .contains("linkTo(\"audit-logins-\" + state.licence, event)")
        );
        assert!(
            SERVER_PROJECTIONS[1]
                .query
                .contains("fromCategories([\"licence\", \"account\"])")
        );
        assert!(
            SERVER_PROJECTIONS[2]
                .query
                .contains("linkTo(\"audit-locks\", event)")
        );
        for projection in SERVER_PROJECTIONS {
            // Emitted streams must stay out of the prefixes twostep reads.
            for prefix in kurrentdb::STREAM_PREFIXES {
                assert!(
                    !projection.query.contains(&format!("linkTo(\"{prefix}")),
                    "{} emits into {prefix}…",
                    projection.name
                );
            }
        }
    }

    #[test]
    fn the_base_url_follows_the_connection_string() {
        let settings =
            kurrentdb::settings("esdb://admin:changeit@db.example:2113?tls=false").expect("parses");
        assert_eq!(
            kurrentdb::http_base(&settings).ok(),
            Some("http://db.example:2113".to_string())
        );
    }

    #[test]
    fn a_bad_store_url_is_a_clear_error() {
        match Installer::new("postgres://localhost/test") {
            Err(error) => assert_eq!(
                error.to_string(),
                "unknown scheme postgres:// for the kurrentdb store: use kurrentdb:// or esdb://"
            ),
            Ok(_) => panic!("a postgres URL was accepted"),
        }
    }
}
