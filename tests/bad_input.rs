#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Bad input of any shape gets a 4xx JSON error `{error, message}` — never a
//! 500, never a body that is not JSON, never a hang — and changes nothing:
//! one table of cases over every endpoint, then the store is intact and a
//! normal login still works.

use reqwest::Method;
use serde_json::{Value, json};
mod support;

use support::probes::{caught_up, confirmed_over_smtp, send};
use support::service::{AUDITOR, OPERATOR};
use support::{PASSWORD, Service, ServiceOptions, SmtpServer, code_in};

/// One request and the error it must get.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    method: Method,
    path: String,
    bearer: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    status: u16,
    error: &'static str,
    /// The `field` the error must name.
    field: Option<&'static str>,
    /// Text the message must contain (e.g. the name of a missing field).
    mentions: Option<String>,
    /// Input values that must not come back in the answer.
    not_echoed: Vec<String>,
}

fn case(name: impl Into<String>, method: Method, path: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.into(),
        bearer: None,
        content_type: None,
        body: None,
        status: 0,
        error: "",
        field: None,
        mentions: None,
        not_echoed: Vec::new(),
    }
}

impl Case {
    fn bearer(self, token: Option<&str>) -> Self {
        Self {
            bearer: token.map(str::to_owned),
            ..self
        }
    }
    fn json(self, body: &str) -> Self {
        self.raw(Some("application/json"), body.as_bytes().to_vec())
    }
    fn raw(self, content_type: Option<&str>, body: Vec<u8>) -> Self {
        Self {
            content_type: content_type.map(str::to_owned),
            body: Some(body),
            ..self
        }
    }
    fn expect(self, status: u16, error: &'static str) -> Self {
        Self {
            status,
            error,
            ..self
        }
    }
    fn field(self, field: &'static str) -> Self {
        Self {
            field: Some(field),
            ..self
        }
    }
    fn mentions(self, text: &str) -> Self {
        Self {
            mentions: Some(text.to_owned()),
            ..self
        }
    }
    fn not_echoing(mut self, text: &str) -> Self {
        self.not_echoed.push(text.to_owned());
        self
    }

    /// Sends the request; `Err` says what was wrong with the answer.
    async fn check(&self, service: &Service) -> Result<(), String> {
        let authorization = self.bearer.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        if let Some(value) = &self.content_type {
            headers.push(("content-type", value));
        }
        let reply = send(
            &service.base,
            self.method.clone(),
            &self.path,
            &headers,
            self.body.clone(),
        )
        .await?;
        let shown = reply.raw.chars().take(300).collect::<String>();
        let content_type = reply.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err(format!(
                "{} with Content-Type {content_type:?}: {shown}",
                reply.status
            ));
        }
        let (Some(error), Some(message)) =
            (reply.body["error"].as_str(), reply.body["message"].as_str())
        else {
            return Err(format!(
                "{}: not an {{error, message}} object: {shown}",
                reply.status
            ));
        };
        if (reply.status, error) != (self.status, self.error) {
            return Err(format!(
                "expected {} {}, got {} {error}: {shown}",
                self.status, self.error, reply.status
            ));
        }
        if message.trim().is_empty() {
            return Err(format!("empty message: {shown}"));
        }
        if let Some(field) = self.field
            && reply.body["field"] != field
        {
            return Err(format!("expected field {field:?}: {shown}"));
        }
        if let Some(text) = &self.mentions
            && !message.contains(text.as_str())
        {
            return Err(format!("the message does not mention {text:?}: {shown}"));
        }
        if let Some(echoed) = self
            .not_echoed
            .iter()
            .find(|t| reply.raw.contains(t.as_str()))
        {
            return Err(format!("the answer echoes {echoed:?}: {shown}"));
        }
        Ok(())
    }
}

/// An endpoint that takes a JSON body.
struct BodyEndpoint {
    method: Method,
    path: &'static str,
    bearer: Option<&'static str>,
    /// A body it accepts.
    valid: Value,
    /// A required field (absent: every field is optional).
    required: Option<&'static str>,
    /// The body with a value of the wrong type, and that value as the answer would show it.
    wrong_type: (Value, &'static str),
}

fn body_endpoints() -> Vec<BodyEndpoint> {
    let op = Some(OPERATOR);
    vec![
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/licences",
            bearer: op,
            valid: json!({ "name": "Zeta" }),
            required: Some("name"),
            wrong_type: (json!({ "name": 4242 }), "4242"),
        },
        BodyEndpoint {
            method: Method::PUT,
            path: "/v1/licences/Acme/two-factor",
            bearer: op,
            valid: json!({ "channel": "email" }),
            required: Some("channel"),
            wrong_type: (json!({ "channel": "carrier-pigeon" }), "carrier-pigeon"),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/licences/Acme/users",
            bearer: op,
            valid: json!({ "login": "zed", "email": "zed@example.com" }),
            required: Some("email"),
            wrong_type: (
                json!({ "login": "zed", "email": ["zed@example.com"] }),
                "zed@example.com",
            ),
        },
        BodyEndpoint {
            method: Method::PUT,
            path: "/v1/licences/Acme/users/alice",
            bearer: op,
            valid: json!({ "active": true }),
            required: None,
            wrong_type: (json!({ "active": "maybe-later" }), "maybe-later"),
        },
        BodyEndpoint {
            method: Method::DELETE,
            path: "/v1/licences/Acme/users/alice/lockout",
            bearer: op,
            valid: json!({ "reason": "checked by phone" }),
            required: Some("reason"),
            wrong_type: (json!({ "reason": 31337 }), "31337"),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/access/confirm",
            bearer: None,
            valid: json!({ "token": "tsp_x", "password": PASSWORD }),
            required: Some("password"),
            wrong_type: (
                json!({ "token": "tsp_x", "password": 12_345_678 }),
                "12345678",
            ),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/password/reminder",
            bearer: None,
            valid: json!({ "licence": "Acme", "login": "alice" }),
            required: Some("login"),
            wrong_type: (json!({ "licence": "Acme", "login": 987_654 }), "987654"),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/login/password",
            bearer: None,
            valid: json!({ "licence": "Acme", "login": "alice", "password": PASSWORD }),
            required: Some("password"),
            wrong_type: (
                json!({ "licence": "Acme", "login": "alice", "password": 12_345_678 }),
                "12345678",
            ),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/login/code",
            bearer: None,
            valid: json!({ "challenge_id": "ch_x", "code": "123456" }),
            required: Some("challenge_id"),
            wrong_type: (json!({ "challenge_id": "ch_x", "code": 123_456 }), "123456"),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/v1/security/unrequested-code",
            bearer: None,
            valid: json!({ "report_token": "tsr_x" }),
            required: Some("report_token"),
            wrong_type: (json!({ "report_token": 7_777_777 }), "7777777"),
        },
    ]
}

/// Every shape of bad body, for every endpoint that takes one.
fn body_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for e in body_endpoints() {
        let at = |what: &str| {
            case(
                format!("{} {}: {what}", e.method, e.path),
                e.method.clone(),
                e.path,
            )
            .bearer(e.bearer)
        };
        let valid = e.valid.to_string();
        cases.push(
            at("malformed JSON")
                .json("{ not json }")
                .expect(400, "bad_request"),
        );
        cases.push(
            at("truncated JSON")
                .json(&valid[..valid.len() - 3])
                .expect(400, "bad_request"),
        );
        cases.push(
            at("trailing garbage")
                .json(&format!("{valid} trailing"))
                .expect(400, "bad_request"),
        );
        cases.push(
            at("invalid UTF-8")
                .raw(
                    Some("application/json"),
                    vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
                )
                .expect(400, "bad_request"),
        );
        cases.push(at("empty body").json("").expect(400, "bad_request"));
        cases.push(at("an empty array").json("[]").expect(422, "invalid_body"));
        let positional = Value::Array(e.valid.as_object().unwrap().values().cloned().collect());
        cases.push(
            at("the fields as an array")
                .json(&positional.to_string())
                .expect(422, "invalid_body"),
        );
        cases.push(at("a string").json("\"hello\"").expect(422, "invalid_body"));
        cases.push(at("null").json("null").expect(422, "invalid_body"));
        let first = e.valid.as_object().unwrap().keys().next().unwrap();
        let nested = format!(
            "{{\"{first}\": {}1{}}}",
            "{\"x\": ".repeat(2000),
            "}".repeat(2000)
        );
        cases.push(
            at("deeply nested")
                .json(&nested)
                .expect(422, "invalid_body"),
        );
        cases.push(
            at("no Content-Type")
                .raw(None, valid.clone().into_bytes())
                .expect(415, "unsupported_media_type"),
        );
        cases.push(
            at("text/plain")
                .raw(Some("text/plain"), valid.clone().into_bytes())
                .expect(415, "unsupported_media_type"),
        );
        cases.push(
            at("a form")
                .raw(
                    Some("application/x-www-form-urlencoded"),
                    b"a=1&b=2".to_vec(),
                )
                .expect(415, "unsupported_media_type"),
        );
        let (wrong, echo) = &e.wrong_type;
        cases.push(
            at("wrong type")
                .json(&wrong.to_string())
                .expect(422, "invalid_body")
                .not_echoing(echo),
        );
        if let Some(field) = e.required {
            let mut missing = e.valid.clone();
            missing.as_object_mut().unwrap().remove(field);
            cases.push(
                at("missing field")
                    .json(&missing.to_string())
                    .expect(422, "invalid_body")
                    .mentions(field),
            );
        }
        let mut unknown = e.valid.clone();
        unknown
            .as_object_mut()
            .unwrap()
            .insert("surprise".into(), json!("s3cret-in-the-wrong-place"));
        cases.push(
            at("unknown field")
                .json(&unknown.to_string())
                .expect(422, "invalid_body")
                .mentions("surprise")
                .not_echoing("s3cret-in-the-wrong-place"),
        );
        let huge = format!("{{\"padding\": \"{}\"}}", "a".repeat(1 << 20));
        cases.push(at("1 MiB body").json(&huge).expect(413, "body_too_large"));
    }
    cases
}

/// Unknown paths, wrong methods, absurd path parameters.
fn routing_cases() -> Vec<Case> {
    let long = "x".repeat(10_000);
    let long_unicode = "ü".repeat(3_000);
    let mut cases = Vec::new();
    for path in [
        "/",
        "/v2/licences",
        "/v1/login",
        "/v1/licences/Acme/users/alice/unknown",
        "/v1/licences/Acme/two-factor/x",
        "/%00",
        "/v1/ünïcödé",
        "/v1//licences",
    ] {
        cases.push(
            case(format!("unknown path {path}"), Method::GET, path)
                .bearer(Some(OPERATOR))
                .expect(404, "not_found"),
        );
    }
    let wrong_methods = [
        (Method::PATCH, "/v1/licences"),
        (Method::GET, "/v1/licences"),
        (Method::GET, "/v1/login/password"),
        (Method::GET, "/v1/login/code"),
        (Method::PUT, "/v1/session"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/v1/licences/Acme"),
        (Method::POST, "/v1/licences/Acme/login-history"),
    ];
    for (method, path) in wrong_methods {
        cases.push(
            case(format!("{method} {path}"), method, path)
                .bearer(Some(OPERATOR))
                .expect(405, "method_not_allowed"),
        );
    }
    let audit = |name: String, path: String| case(name, Method::GET, path).bearer(Some(AUDITOR));
    cases.push(
        audit(
            "10,000-character licence".into(),
            format!("/v1/licences/{long}"),
        )
        .expect(404, "unknown_licence"),
    );
    cases.push(
        audit("NUL licence".into(), "/v1/licences/%00".into()).expect(404, "unknown_licence"),
    );
    cases.push(
        audit(
            "emoji licence".into(),
            "/v1/licences/🦀🦀/login-history".into(),
        )
        .expect(404, "unknown_licence"),
    );
    cases.push(
        audit("not UTF-8 licence".into(), "/v1/licences/%FF%FE".into()).expect(400, "bad_request"),
    );
    cases.push(
        audit(
            "NUL login".into(),
            "/v1/licences/Acme/users/%00/lockout".into(),
        )
        .expect(404, "unknown_user"),
    );
    cases.push(
        audit(
            "3,000 ü login".into(),
            format!("/v1/licences/Acme/users/{long_unicode}/active-code"),
        )
        .expect(404, "unknown_user"),
    );
    cases.push(
        audit(
            "RTL-override login".into(),
            "/v1/licences/Acme/users/%E2%80%AEalice/lockout".into(),
        )
        .expect(404, "unknown_user"),
    );
    cases.push(
        case(
            "two-factor of a NUL licence",
            Method::PUT,
            "/v1/licences/%00/two-factor",
        )
        .bearer(Some(OPERATOR))
        .json(r#"{"channel": "email"}"#)
        .expect(404, "unknown_licence"),
    );
    cases.push(
        case(
            "users of a 10,000-character licence",
            Method::POST,
            format!("/v1/licences/{long}/users"),
        )
        .bearer(Some(OPERATOR))
        .json(r#"{"login": "zed", "email": "zed@example.com"}"#)
        .expect(404, "unknown_licence"),
    );
    cases.push(
        case(
            "lift the lock of a 10,000-character login",
            Method::DELETE,
            format!("/v1/licences/Acme/users/{long}/lockout"),
        )
        .bearer(Some(OPERATOR))
        .json(r#"{"reason": "why not"}"#)
        .expect(404, "unknown_user"),
    );
    cases
}

/// Bad values in well-formed bodies and queries.
fn value_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let op = Some(OPERATOR);
    let out_of_bounds = [
        ("code_ttl_seconds", 0),
        ("code_ttl_seconds", 3601),
        ("resend_interval_seconds", 301),
        ("max_failed_codes", 0),
        ("max_failed_codes", 21),
        ("max_failed_passwords", 0),
        ("max_failed_passwords", 101),
        ("lock_seconds", 0),
        ("lock_seconds", 86_401),
        ("code_length", 5),
        ("code_length", 11),
        ("session_ttl_seconds", 59),
        ("session_ttl_seconds", 2_592_001),
    ];
    for (field, value) in out_of_bounds {
        let body = json!({ "channel": "email", "policy": { field: value } }).to_string();
        cases.push(
            case(
                format!("policy {field} = {value}"),
                Method::PUT,
                "/v1/licences/Acme/two-factor",
            )
            .bearer(op)
            .json(&body)
            .expect(422, "invalid_policy")
            .field(field)
            .mentions(field),
        );
    }
    for (what, policy) in [
        ("negative", r#"{"lock_seconds": -5}"#),
        ("over u64", r#"{"lock_seconds": 100000000000000000000000}"#),
        ("fractional", r#"{"code_length": 6.5}"#),
        ("a string", r#"{"code_length": "6"}"#),
        ("unknown field", r#"{"code_lifetime": 60}"#),
    ] {
        let body = format!(r#"{{"channel": "email", "policy": {policy}}}"#);
        cases.push(
            case(
                format!("policy {what}"),
                Method::PUT,
                "/v1/licences/Acme/two-factor",
            )
            .bearer(op)
            .json(&body)
            .expect(422, "invalid_body"),
        );
    }
    let users = "/v1/licences/Acme/users";
    for (what, body, field) in [
        (
            "empty login",
            r#"{"login": "  ", "email": "zed@example.com"}"#,
            "login",
        ),
        (
            "control character in login",
            r#"{"login": "ze\u0000d", "email": "zed@example.com"}"#,
            "login",
        ),
        (
            "not an e-mail",
            r#"{"login": "zed", "email": "not-an-email"}"#,
            "email",
        ),
        (
            "not a mobile",
            r#"{"login": "zed", "email": "zed@example.com", "mobile": "12"}"#,
            "mobile",
        ),
    ] {
        cases.push(
            case(format!("user: {what}"), Method::POST, users)
                .bearer(op)
                .json(body)
                .expect(422, "invalid_field")
                .field(field),
        );
    }
    cases.push(
        case("licence: empty name", Method::POST, "/v1/licences")
            .bearer(op)
            .json(r#"{"name": ""}"#)
            .expect(422, "invalid_field")
            .field("name"),
    );
    cases.push(
        case(
            "lift a lock: empty reason",
            Method::DELETE,
            "/v1/licences/Acme/users/alice/lockout",
        )
        .bearer(op)
        .json(r#"{"reason": "   "}"#)
        .expect(422, "invalid_field")
        .field("reason"),
    );
    let history = "/v1/licences/Acme/login-history";
    for (query, status, error, field) in [
        ("limit=0", 422, "invalid_field", Some("limit")),
        ("limit=1001", 422, "invalid_field", Some("limit")),
        ("limit=abc", 400, "bad_request", None),
        ("limit=-1", 400, "bad_request", None),
        ("limit=99999999999999999999999", 400, "bad_request", None),
        ("from=yesterday", 422, "invalid_field", Some("from")),
        ("to=2026-13-45T99:00:00Z", 422, "invalid_field", Some("to")),
        ("after=abc", 400, "bad_request", None),
        ("login=%00", 422, "invalid_field", Some("login")),
        ("colour=blue", 400, "bad_request", None),
        ("outcome=sucess", 422, "invalid_field", Some("outcome")),
    ] {
        let mut c = case(
            format!("history ?{query}"),
            Method::GET,
            format!("{history}?{query}"),
        )
        .bearer(Some(AUDITOR))
        .expect(status, error);
        if let Some(field) = field {
            c = c.field(field);
        }
        cases.push(c);
    }
    for (query, status, error) in [
        ("since=yesterday", 422, "invalid_field"),
        ("limit=0", 422, "invalid_field"),
        ("until=now", 400, "bad_request"),
    ] {
        let path = format!("/v1/licences/Acme/security-alerts?{query}");
        cases.push(
            case(format!("alerts ?{query}"), Method::GET, path)
                .bearer(Some(AUDITOR))
                .expect(status, error),
        );
    }
    let forged = format!("tss_{}", "A".repeat(86));
    for (what, bearer) in [
        ("garbage", "garbage"),
        ("a forged token", forged.as_str()),
        ("the operator token", OPERATOR),
    ] {
        for method in [Method::GET, Method::DELETE] {
            cases.push(
                case(
                    format!("{method} session with {what}"),
                    method,
                    "/v1/session",
                )
                .bearer(Some(bearer))
                .expect(401, "unauthenticated"),
            );
        }
    }
    let garbage_challenges = [
        "".to_owned(),
        "garbage".into(),
        "ch_".into(),
        "ch_!!!".into(),
        format!("ch_{}", "A".repeat(43)),
        "z".repeat(10_000),
    ];
    for challenge in garbage_challenges {
        let body = json!({ "challenge_id": challenge, "code": "123456" }).to_string();
        let name = format!(
            "code step on challenge {:?}",
            challenge.chars().take(20).collect::<String>()
        );
        cases.push(
            case(name, Method::POST, "/v1/login/code")
                .json(&body)
                .expect(401, "invalid_code")
                .not_echoing("123456"),
        );
    }
    for token in ["", "garbage", "tsp_", "tss_AAAA"] {
        let body = json!({ "token": token, "password": PASSWORD }).to_string();
        cases.push(
            case(
                format!("confirm with token {token:?}"),
                Method::POST,
                "/v1/access/confirm",
            )
            .json(&body)
            .expect(400, "invalid_token"),
        );
    }
    cases
}

#[tokio::test]
async fn bad_input_of_any_shape_gets_a_json_4xx_and_changes_nothing() {
    let smtp = SmtpServer::start();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    service
        .licence_with_2fa("Acme", "email", json!({ "resend_interval_seconds": 0 }))
        .await;
    confirmed_over_smtp(
        &service,
        &smtp,
        "Acme",
        "alice",
        "alice@example.com",
        None,
        PASSWORD,
    )
    .await;
    // An open challenge: malformed codes on it are refused without closing it.
    let step = service.password_step("Acme", "alice", PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.raw);
    let challenge = step.body["challenge_id"].as_str().unwrap().to_owned();
    let code = code_in(&smtp.nth_to("alice@example.com", 2).await.body(), 6).unwrap();

    caught_up(&service).await;
    let events_before = service.events();
    let licence_before = service.auditor("/v1/licences/Acme").await;

    let mut cases = body_cases();
    cases.extend(routing_cases());
    cases.extend(value_cases());
    for malformed in [
        "12345",
        "1234567",
        "12a456",
        "１２３４５６",
        "",
        "12 3456",
        "-12345",
    ] {
        let body = json!({ "challenge_id": challenge, "code": malformed }).to_string();
        cases.push(
            case(
                format!("malformed code {malformed:?}"),
                Method::POST,
                "/v1/login/code",
            )
            .json(&body)
            .expect(400, "malformed_code")
            .not_echoing(&code),
        );
    }
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(why) = c.check(&service).await {
            failures.push(format!("[{}] {why}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing was written, nothing changed, nothing broke.
    let events_after = service.events();
    let written: Vec<String> = events_after[events_before.len()..]
        .iter()
        .map(|e| format!("{} {}", e.event_type, e.data))
        .collect();
    assert!(
        written.is_empty(),
        "bad input wrote events:\n{}",
        written.join("\n")
    );
    assert_eq!(
        service.auditor("/v1/licences/Acme").await.body,
        licence_before.body
    );
    let metrics = service.auditor("/metrics").await;
    assert!(
        metrics
            .raw
            .contains("twostep_http_responses_total{class=\"5xx\"} 0\n"),
        "{}",
        metrics.raw
    );
    let logs = service.logs();
    assert!(!logs.contains("panicked"), "a handler panicked:\n{logs}");

    // The open challenge survived every malformed code, and the service works.
    let session = service.code_step(&challenge, &code).await;
    assert_eq!(
        (session.status, session.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        session.raw
    );
    let token = session.body["session_token"].as_str().unwrap();
    assert_eq!(
        service.get("/v1/session", Some(token)).await.body["login"],
        "alice"
    );
    let replayed = service.events();
    assert_eq!(
        replayed.len(),
        events_before.len() + 2,
        "CodeAccepted and SessionStarted"
    );
}
