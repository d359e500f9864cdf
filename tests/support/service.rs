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

/// An event read back from the embedded store's file.
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
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_twostep-under-test")
}

impl Service {
    /// Starts the service on a fresh data directory.
    pub async fn start(options: ServiceOptions) -> Self {
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

    /// Every event in the store file, in global order (read-only, while the service runs).
    pub fn events(&self) -> Vec<StoredEvent> {
        read_events(&self.data_dir.join("events.sqlite3"))
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
    }
}
