//! The service under test: the real binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

/// Operator token every test service is started with.
pub const OPERATOR: &str = "test-operator-token-0123456789abcdef";
/// Auditor token every test service is started with.
pub const AUDITOR: &str = "test-auditor-token-0123456789abcdef";

/// How to start the service.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    pub smtp_url: Option<String>,
    pub sms_gateway_url: Option<String>,
    /// Further command-line arguments.
    pub args: Vec<String>,
    /// Further environment variables.
    pub env: Vec<(String, String)>,
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

/// The PostgreSQL server the postgres runs use (a fresh schema per service).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// The shared secret every postgres-backed test service gets (a shared store
/// needs one; see `StoreArgs::require_shared_secret`).
pub const SHARED_SECRET: &str = "e2e-shared-secret-0123456789abcdef0123";

/// Whether this copy of the harness runs its services on PostgreSQL: the
/// `on_postgres` test target includes every test file again as a module, so
/// its harness lives under `on_postgres::…`.
pub fn on_postgres() -> bool {
    module_path!().starts_with("on_postgres::")
}

/// A connection string naming a fresh schema on the test server.
pub fn fresh_postgres_url() -> String {
    let base =
        std::env::var("TWOSTEP_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let separator = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{separator}schema=twostep_e2e_{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// Runs `work` on a runtime of its own, on a thread of its own, so that
/// synchronous helpers can use the async store from inside async tests.
fn on_own_runtime<T: Send + 'static, F>(work: impl FnOnce() -> F + Send + 'static) -> T
where
    F: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    })
    .join()
    .unwrap()
}

/// Every event of the PostgreSQL store at `url`, read through the store trait.
pub fn read_postgres_events(url: &str) -> Vec<StoredEvent> {
    use time::format_description::well_known::Rfc3339;
    use twostep_store::EventStore;
    let url = url.to_owned();
    let events = on_own_runtime(move || async move {
        let store = twostep_store::postgres::PostgresStore::open(&url)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL is needed for the postgres runs: {err}"));
        let mut events = Vec::new();
        loop {
            let after = events
                .last()
                .map_or(0, |e: &twostep_store::RecordedEvent| e.position);
            let page = store.read_all(after, 1_000).await.unwrap();
            if page.is_empty() {
                return events;
            }
            events.extend(page);
        }
    });
    events
        .into_iter()
        .map(|e| StoredEvent {
            position: e.position as i64,
            event_id: e.event_id.to_string(),
            stream: e.stream,
            version: e.version as i64,
            event_type: e.event_type,
            schema_version: i64::from(e.schema_version),
            recorded_at: e.recorded_at.format(&Rfc3339).unwrap(),
            data: e.data,
            metadata: serde_json::to_value(&e.metadata).unwrap(),
        })
        .collect()
}

/// Every row of the `events` table at `url`, as PostgreSQL prints it: what
/// someone reading the database directly would see.
pub fn dump_postgres_rows(url: &str) -> Vec<u8> {
    let url = url.to_owned();
    on_own_runtime(move || async move {
        let (base, query) = url.split_once('?').unwrap();
        let schema = query
            .split('&')
            .find_map(|p| p.strip_prefix("schema="))
            .unwrap();
        let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let rows = client
            .query(
                &format!("SELECT e::text FROM {schema}.events e ORDER BY position"),
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .flat_map(|row| {
                let mut line = row.get::<_, String>(0).into_bytes();
                line.push(b'\n');
                line
            })
            .collect()
    })
}

/// Drops a test schema (and its events).
pub fn drop_postgres_schema(url: &str) {
    let url = url.to_owned();
    on_own_runtime(move || async move {
        if let Err(err) = twostep_store::postgres::PostgresStore::drop_schema(&url).await {
            eprintln!("could not drop the test schema: {err}");
        }
    });
}

/// An event read back from the store.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: i64,
    pub event_id: String,
    pub stream: String,
    pub version: i64,
    pub event_type: String,
    pub schema_version: i64,
    pub recorded_at: String,
    pub data: Value,
    pub metadata: Value,
}

pub struct Service {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    options: ServiceOptions,
    http: reqwest::Client,
    pub stdout_lines: Vec<String>,
    starts: usize,
    /// The store's connection string when the service runs on PostgreSQL.
    pub store_url: Option<String>,
    /// Whether dropping this service drops the schema of `store_url`.
    owns_schema: bool,
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_twostep-under-test")
}

impl Service {
    /// Starts the service on a fresh data directory.
    pub async fn start(options: ServiceOptions) -> Self {
        let store_url = on_postgres().then(fresh_postgres_url);
        Self::start_on(options, store_url, true).await
    }

    /// Starts the service on a fresh data directory and the PostgreSQL store
    /// at `store_url` (or the embedded store if `None`); drops the schema
    /// when dropped if `owns_schema`.
    pub async fn start_on(
        options: ServiceOptions,
        store_url: Option<String>,
        owns_schema: bool,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_path_buf();
        let mut service = Self {
            child: None,
            base: String::new(),
            data_dir,
            _dir: Some(dir),
            options,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            stdout_lines: Vec::new(),
            starts: 0,
            store_url,
            owns_schema,
        };
        service.spawn().await;
        service
    }

    fn log_path(&self, start: usize) -> PathBuf {
        self.data_dir.join(format!("service-{start}.log"))
    }

    async fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).unwrap();
        let mut command = Command::new(binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data_dir)
            .args([
                "--public-url",
                "https://app.example.test",
                "--log-format",
                "json",
                "--login-rate-per-minute",
                "0",
            ])
            .env("TWOSTEP_OPERATOR_TOKEN", OPERATOR)
            .env("TWOSTEP_AUDITOR_TOKEN", AUDITOR)
            // Tests send many parallel password steps from 127.0.0.1. Set
            // through the environment so that a test's own
            // `--login-in-flight-per-client` flag takes precedence.
            .env("TWOSTEP_LOGIN_IN_FLIGHT_PER_CLIENT", "0")
            .env(
                "RUST_LOG",
                "debug,hyper=info,h2=info,rustls=info,reqwest=info",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(url) = &self.store_url {
            command
                .args(["--store", "postgres", "--store-url", url])
                .env("TWOSTEP_SECRET", SHARED_SECRET);
        }
        if let Some(url) = &self.options.smtp_url {
            command.args(["--smtp-url", url]);
        }
        if let Some(url) = &self.options.sms_gateway_url {
            command.args(["--sms-gateway-url", url]);
        }
        command.args(&self.options.args);
        for (key, value) in &self.options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match lines_rx.recv_timeout(remaining) {
                Ok(line) => {
                    let address = line.strip_prefix("listening on ").map(str::to_owned);
                    self.stdout_lines.push(line);
                    if let Some(address) = address {
                        self.base = address;
                        break;
                    }
                }
                Err(_) => panic!("the service did not start; log:\n{}", self.logs()),
            }
        }
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(reply) = self.http.get(format!("{}/readyz", self.base)).send().await
                && reply.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the service never became ready");
    }

    /// Stops the process gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Starts again after `kill` or `stop`.
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    /// Every log line written so far, over every start.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .filter_map(|n| std::fs::read_to_string(self.log_path(n)).ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let raw = response.text().await.unwrap();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Reply { status, body, raw }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.call(Method::GET, path, None, bearer).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), None).await
    }

    pub async fn operator(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, body, Some(OPERATOR)).await
    }

    pub async fn auditor(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, Some(AUDITOR)).await
    }

    /// Registers a licence and switches 2FA on with `channel` and a policy patch.
    pub async fn licence_with_2fa(&self, name: &str, channel: &str, policy: Value) {
        let created = self
            .operator(Method::POST, "/v1/licences", Some(json!({ "name": name })))
            .await;
        assert_eq!(created.status, 201, "{}", created.raw);
        let path = format!("/v1/licences/{name}/two-factor");
        let enabled = self
            .operator(
                Method::PUT,
                &path,
                Some(json!({ "channel": channel, "policy": policy })),
            )
            .await;
        assert_eq!(enabled.status, 200, "{}", enabled.raw);
    }

    /// Creates a user and returns the reply.
    pub async fn create_user(
        &self,
        licence: &str,
        login: &str,
        email: &str,
        mobile: Option<&str>,
    ) -> Reply {
        let body = json!({ "login": login, "email": email, "mobile": mobile });
        self.operator(
            Method::POST,
            &format!("/v1/licences/{licence}/users"),
            Some(body),
        )
        .await
    }

    /// The password step.
    pub async fn password_step(&self, licence: &str, login: &str, password: &str) -> Reply {
        self.post(
            "/v1/login/password",
            json!({ "licence": licence, "login": login, "password": password }),
        )
        .await
    }

    /// The code step.
    pub async fn code_step(&self, challenge_id: &str, code: &str) -> Reply {
        self.post(
            "/v1/login/code",
            json!({ "challenge_id": challenge_id, "code": code }),
        )
        .await
    }

    /// Every event in the store, in global order (read-only, while the service runs).
    pub fn events(&self) -> Vec<StoredEvent> {
        match &self.store_url {
            Some(url) => read_postgres_events(url),
            None => read_events(&self.data_dir.join("events.sqlite3")),
        }
    }

    /// Events of one type.
    pub fn events_of(&self, event_type: &str) -> Vec<StoredEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .collect()
    }
}

/// Reads every event of an embedded store file.
pub fn read_events(path: &Path) -> Vec<StoredEvent> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut statement = conn
        .prepare("SELECT position, event_id, stream, version, event_type, schema_version, recorded_at, data, metadata FROM events ORDER BY position")
        .unwrap();
    statement
        .query_map([], |row| {
            Ok(StoredEvent {
                position: row.get(0)?,
                event_id: row.get(1)?,
                stream: row.get(2)?,
                version: row.get(3)?,
                event_type: row.get(4)?,
                schema_version: row.get(5)?,
                recorded_at: row.get(6)?,
                data: serde_json::from_str(&row.get::<_, String>(7)?).unwrap_or(Value::Null),
                metadata: serde_json::from_str(&row.get::<_, String>(8)?).unwrap_or(Value::Null),
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        if self.owns_schema
            && let Some(url) = &self.store_url
        {
            drop_postgres_schema(url);
        }
    }
}
