#![allow(clippy::unwrap_used, clippy::expect_used)]
//! No secret at rest: after a whole run (licences, users, access
//! confirmations, logins with codes by e-mail and SMS, wrong codes and
//! passwords, a password reset, sessions, a report, logouts) no password,
//! code, session token, confirmation or reset token, or report token the test
//! saw is in the event store file, the read-model file (each with its WAL)
//! or the service's logs — while the service runs, and after it stopped.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};
mod support;

use support::probes::{
    base64_std, base64url_decode, caught_up, contains_bytes, contains_standalone, data_file_bytes,
    hex_of,
};
use support::{Service, ServiceOptions, SmsReceiver, SmtpServer, code_in, param_in};

/// How a secret is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Anywhere (long secrets).
    Anywhere,
    /// Not between ASCII letters or digits (codes: a 6-digit run may occur inside longer numbers).
    Standalone,
}

/// Every secret value the test saw, with where it came from.
#[derive(Default)]
struct Secrets {
    seen: Vec<(String, String, Match)>,
}

impl Secrets {
    fn add(&mut self, label: &str, value: &str, how: Match) {
        self.seen.push((label.to_owned(), value.to_owned(), how));
    }

    fn password(&mut self, label: &str, password: &str) {
        self.add(&format!("password {label}"), password, Match::Anywhere);
    }

    fn code(&mut self, label: &str, code: &str) {
        assert_eq!(code.len(), 6, "{label}: {code}");
        self.add(&format!("code {label}"), code, Match::Standalone);
    }

    /// A token `{prefix}_{base64url(owner ‖ id ‖ secret)}`: the whole token,
    /// the part after the prefix, and the 32 secret bytes as hex and base64.
    fn token(&mut self, label: &str, token: &str) {
        let (prefix, body) = token
            .split_once('_')
            .unwrap_or_else(|| panic!("{label}: not a token: {token}"));
        assert!(["tss", "tsp", "tsr"].contains(&prefix), "{label}: {token}");
        let bytes =
            base64url_decode(body).unwrap_or_else(|| panic!("{label}: not base64url: {token}"));
        assert_eq!(bytes.len(), 64, "{label}: owner, id and a 256-bit secret");
        let secret = &bytes[32..];
        self.add(&format!("token {label}"), token, Match::Anywhere);
        self.add(
            &format!("token {label} (after the prefix)"),
            body,
            Match::Anywhere,
        );
        self.add(
            &format!("token {label} (secret, hex)"),
            &hex_of(secret),
            Match::Anywhere,
        );
        self.add(
            &format!("token {label} (secret, base64)"),
            base64_std(secret).trim_end_matches('='),
            Match::Anywhere,
        );
        self.add(
            &format!("token {label} (secret, base64url)"),
            &body[body.len() - 42..],
            Match::Anywhere,
        );
    }

    /// Every `(secret, file)` where a secret is found.
    fn found_in(&self, files: &[(String, Vec<u8>)]) -> Vec<String> {
        let mut found = Vec::new();
        for (label, value, how) in &self.seen {
            for (file, bytes) in files {
                let hit = match how {
                    Match::Anywhere => contains_bytes(bytes, value.as_bytes()),
                    Match::Standalone => contains_standalone(bytes, value.as_bytes()),
                };
                if hit {
                    found.push(format!("{label} ({value}) in {file}"));
                }
            }
        }
        found
    }
}

/// The whole run, and what it saw.
struct Run {
    smtp: SmtpServer,
    sms: SmsReceiver,
    service: Service,
    secrets: Secrets,
    codes_seen: usize,
    sessions_seen: usize,
}

impl Run {
    async fn start() -> Self {
        let smtp = SmtpServer::start();
        let sms = SmsReceiver::start().await;
        let options = ServiceOptions {
            smtp_url: Some(smtp.url()),
            sms_gateway_url: Some(sms.url()),
            ..Default::default()
        };
        let service = Service::start(options).await;
        Self {
            smtp,
            sms,
            service,
            secrets: Secrets::default(),
            codes_seen: 0,
            sessions_seen: 0,
        }
    }

    /// A user whose access is confirmed with `password`.
    async fn user(&mut self, licence: &str, login: &str, mobile: Option<&str>, password: &str) {
        let email = format!("{login}@example.com");
        let created = self
            .service
            .create_user(licence, login, &email, mobile)
            .await;
        assert_eq!(created.status, 201, "{}", created.raw);
        let token = param_in(&self.smtp.nth_to(&email, 1).await.body(), "token").unwrap();
        self.secrets
            .token(&format!("access confirmation of {login}"), &token);
        self.secrets.password(login, password);
        let confirmed = self
            .service
            .post(
                "/v1/access/confirm",
                json!({ "token": token, "password": password }),
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.raw);
    }

    /// A password step that sends a code; returns the challenge, the code and
    /// the report token, all recorded as secrets.
    async fn code_sent(
        &mut self,
        licence: &str,
        login: &str,
        password: &str,
        channel: &str,
    ) -> (String, String, String) {
        let step = self.service.password_step(licence, login, password).await;
        assert_eq!(
            (step.status, step.body["status"].as_str()),
            (200, Some("code_sent")),
            "{}",
            step.raw
        );
        self.codes_seen += 1;
        let text = match channel {
            "email" => {
                let email = format!("{login}@example.com");
                let count = self.smtp.to(&email).len();
                self.smtp.nth_to(&email, count.max(1)).await.body()
            }
            _ => {
                let mobile = self
                    .service
                    .auditor(&format!("/v1/licences/{licence}/users/{login}"))
                    .await
                    .body["mobile"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                self.sms.to(&mobile).last().unwrap().clone()
            }
        };
        let code = code_in(&text, 6).unwrap();
        let report = param_in(&text, "report").unwrap();
        let label = format!("#{} of {login}", self.codes_seen);
        self.secrets.code(&label, &code);
        self.secrets.token(&format!("report {label}"), &report);
        (
            step.body["challenge_id"].as_str().unwrap().to_owned(),
            code,
            report,
        )
    }

    /// A wrong code (recorded as a secret too: it was typed).
    async fn wrong_code(&mut self, challenge: &str, right: &str) {
        let wrong = format!(
            "{:06}",
            (right.parse::<u32>().unwrap() + 500_001) % 1_000_000
        );
        self.secrets
            .code(&format!("wrong guess for {right}"), &wrong);
        let reply = self.service.code_step(challenge, &wrong).await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (401, Some("invalid_code")),
            "{}",
            reply.raw
        );
    }

    async fn wrong_password(&mut self, licence: &str, login: &str, password: &str) {
        self.secrets
            .password(&format!("wrong one for {login}"), password);
        let reply = self.service.password_step(licence, login, password).await;
        assert_eq!(reply.status, 401, "{}", reply.raw);
    }

    /// The code step with the right code; returns the session token.
    async fn session(&mut self, challenge: &str, code: &str) -> String {
        let reply = self.service.code_step(challenge, code).await;
        assert_eq!(reply.status, 200, "{}", reply.raw);
        self.session_of(&reply.body)
    }

    fn session_of(&mut self, body: &Value) -> String {
        let token = body["session_token"].as_str().unwrap().to_owned();
        self.sessions_seen += 1;
        self.secrets
            .token(&format!("session #{}", self.sessions_seen), &token);
        token
    }

    async fn use_and_end(&self, session: &str) {
        assert_eq!(
            self.service.get("/v1/session", Some(session)).await.status,
            200
        );
        assert_eq!(
            self.service
                .call(Method::DELETE, "/v1/session", None, Some(session))
                .await
                .status,
            204
        );
        assert_eq!(
            self.service.get("/v1/session", Some(session)).await.status,
            401
        );
    }

    /// The files to scan: event store and read models (each with its WAL) and every log.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let dir: &Path = &self.service.data_dir;
        let mut files = match &self.service.store_url {
            Some(url) => vec![(
                "events (postgres rows)".to_owned(),
                support::service::dump_postgres_rows(url),
            )],
            None => data_file_bytes(dir, "events.sqlite3"),
        };
        files.extend(data_file_bytes(dir, "readmodels.sqlite3"));
        files.push(("logs".to_owned(), self.service.logs().into_bytes()));
        files
    }
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// Asserts the scan would see what it must not see: known non-secret values are there.
fn assert_scan_sees_the_data(files: &[(String, Vec<u8>)]) {
    let events: Vec<u8> = files
        .iter()
        .filter(|(n, _)| n.starts_with("events"))
        .flat_map(|(_, b)| b.clone())
        .collect();
    let models: Vec<u8> = files
        .iter()
        .filter(|(n, _)| n.starts_with("readmodels"))
        .flat_map(|(_, b)| b.clone())
        .collect();
    assert!(
        contains_bytes(&events, b"ann@example.com"),
        "the event store scan sees an e-mail address"
    );
    assert!(
        contains_bytes(&events, b"CodeIssued"),
        "the event store scan sees event types"
    );
    assert!(
        contains_bytes(&models, b"a***@example.com"),
        "the read-model scan sees masked destinations"
    );
    assert!(
        contains_bytes(file(files, "logs"), b"twostep serving"),
        "the log scan sees the logs"
    );
}

#[tokio::test]
async fn no_secret_the_run_used_is_stored_or_logged_in_clear() {
    let mut run = Run::start().await;
    let policy = json!({ "resend_interval_seconds": 0, "max_failed_codes": 5 });
    run.service
        .licence_with_2fa("Mailco", "email", policy.clone())
        .await;
    run.service.licence_with_2fa("Textco", "sms", policy).await;
    let plain = run
        .service
        .operator(
            Method::POST,
            "/v1/licences",
            Some(json!({ "name": "Plainco" })),
        )
        .await;
    assert_eq!(plain.status, 201, "{}", plain.raw);

    run.user("Mailco", "ann", None, "ann's first passphrase")
        .await;
    run.user(
        "Textco",
        "bob",
        Some("+32470555222"),
        "bob's very own passphrase",
    )
    .await;
    run.user("Plainco", "cid", None, "cid: no second factor here")
        .await;

    // E-mail codes: a wrong password, a wrong code, a session used and ended.
    run.wrong_password("Mailco", "ann", "ann's wrong guess")
        .await;
    let (challenge, code, _) = run
        .code_sent("Mailco", "ann", "ann's first passphrase", "email")
        .await;
    run.wrong_code(&challenge, &code).await;
    let (challenge, code, _) = run
        .code_sent("Mailco", "ann", "ann's first passphrase", "email")
        .await;
    let session = run.session(&challenge, &code).await;
    run.use_and_end(&session).await;

    // A password reset, a reported code, then a session with the new password.
    let reminder = run
        .service
        .post(
            "/v1/password/reminder",
            json!({ "licence": "Mailco", "login": "ann" }),
        )
        .await;
    assert_eq!(reminder.status, 202);
    let count = run.smtp.to("ann@example.com").len();
    let reset = param_in(
        &run.smtp.nth_to("ann@example.com", count + 1).await.body(),
        "token",
    )
    .unwrap();
    run.secrets.token("password reset of ann", &reset);
    let new_password = "ann's second passphrase";
    run.secrets.password("ann (after the reset)", new_password);
    let set = run
        .service
        .post(
            "/v1/access/confirm",
            json!({ "token": reset, "password": new_password }),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.raw);
    let (_, _, report) = run.code_sent("Mailco", "ann", new_password, "email").await;
    let reported = run
        .service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": report }),
        )
        .await;
    assert_eq!(reported.status, 202, "{}", reported.raw);
    let (challenge, code, _) = run.code_sent("Mailco", "ann", new_password, "email").await;
    let kept_session = run.session(&challenge, &code).await;
    assert_eq!(
        run.service
            .get("/v1/session", Some(&kept_session))
            .await
            .status,
        200
    );

    // SMS codes: a wrong code, then a session, ended.
    let (challenge, code, _) = run
        .code_sent("Textco", "bob", "bob's very own passphrase", "sms")
        .await;
    run.wrong_code(&challenge, &code).await;
    let (challenge, code, _) = run
        .code_sent("Textco", "bob", "bob's very own passphrase", "sms")
        .await;
    let session = run.session(&challenge, &code).await;
    run.use_and_end(&session).await;

    // No second factor: the password step starts the session.
    let step = run
        .service
        .password_step("Plainco", "cid", "cid: no second factor here")
        .await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        step.raw
    );
    let session = run.session_of(&step.body);
    run.use_and_end(&session).await;
    caught_up(&run.service).await;

    // Codes are stored as keyed digests only.
    let issued = run.service.events_of("CodeIssued");
    assert_eq!(issued.len(), run.codes_seen);
    let fields: BTreeSet<&str> = issued[0]
        .data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "challenge_id",
        "channel",
        "code_digest",
        "code_id",
        "code_length",
        "destination",
        "expires_at",
        "issued_at",
        "report_digest",
        "route_epoch",
        "superseded",
    ];
    assert_eq!(
        fields,
        expected.into_iter().collect(),
        "CodeIssued holds no code, only its digest"
    );
    for event in &issued {
        for digest in ["code_digest", "report_digest"] {
            let value = event.data[digest].as_str().unwrap();
            assert!(
                value.len() == 64
                    && value
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{digest}: {value}"
            );
        }
    }
    // Passwords are argon2id PHC strings with at least the OWASP parameters.
    for event in run.service.events_of("PasswordSet") {
        let hash = event.data["password_hash"].as_str().unwrap();
        let params: Vec<&str> = hash.split('$').collect();
        assert_eq!(params[1], "argon2id", "{hash}");
        let cost: Vec<u64> = params[3]
            .split(',')
            .map(|p| p.split_once('=').unwrap().1.parse().unwrap())
            .collect::<Vec<_>>();
        assert!(cost[0] >= 19_456 && cost[1] >= 2 && cost[2] >= 1, "{hash}");
    }

    // The scan, while the service runs (WAL files in use) …
    assert!(
        run.secrets.seen.len() > 60,
        "{} secrets",
        run.secrets.seen.len()
    );
    let files = run.files();
    assert_scan_sees_the_data(&files);
    let found = run.secrets.found_in(&files);
    assert!(
        found.is_empty(),
        "secrets in clear while running:\n{}",
        found.join("\n")
    );
    // … the logs are JSON lines …
    let logs = run.service.logs();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
            "not a JSON log line: {line}"
        );
    }
    // … and after a graceful stop (WAL checkpointed into the main files).
    run.service.stop();
    let files = run.files();
    assert_scan_sees_the_data(&files);
    let found = run.secrets.found_in(&files);
    assert!(
        found.is_empty(),
        "secrets in clear after the stop:\n{}",
        found.join("\n")
    );
}
