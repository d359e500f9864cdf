#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The auditors' side: the login history of a licence step by step (with the
//! client's address and user agent), its filters and cursor paging, the
//! lockout and active-code read models, health, readiness and metrics, and
//! which `X-Forwarded-For` hops are believed.

use std::collections::BTreeSet;

use serde_json::{Value, json};
mod support;

use support::probes::{
    RawReply, audit_view, caught_up, confirmed_over_smtp, instant_key, password_step_with,
    post_with, query_value, send,
};
use support::service::AUDITOR;
use support::{PASSWORD, Service, ServiceOptions, SmtpServer, code_in};

const LICENCE: &str = "Acme";
const AGENT: &str = "audit-trail-test/1.0 (e2e)";
const HISTORY: &str = "/v1/licences/Acme/login-history";

async fn acme(args: &[&str]) -> (SmtpServer, Service) {
    let smtp = SmtpServer::start();
    let args = args.iter().map(|a| (*a).to_owned()).collect();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        args,
        ..Default::default()
    })
    .await;
    let policy =
        json!({ "resend_interval_seconds": 0, "max_failed_codes": 2, "lock_seconds": 3600 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    for login in ["alice", "bob"] {
        confirmed_over_smtp(
            &service,
            &smtp,
            LICENCE,
            login,
            &format!("{login}@example.com"),
            None,
            PASSWORD,
        )
        .await;
    }
    (smtp, service)
}

/// The password step from our user agent.
async fn password(service: &Service, login: &str, password: &str) -> RawReply {
    password_step_with(service, LICENCE, login, password, &[("user-agent", AGENT)]).await
}

/// The password step that sends a code: `(challenge, code, answer)`.
async fn code_sent(service: &Service, smtp: &SmtpServer, login: &str) -> (String, String, Value) {
    let step = password(service, login, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    let mail = smtp.to(&format!("{login}@example.com")).pop().unwrap();
    let code = code_in(&mail.body(), 6).unwrap();
    (
        step.body["challenge_id"].as_str().unwrap().to_owned(),
        code,
        step.body,
    )
}

async fn code_step(service: &Service, challenge: &str, code: &str) -> RawReply {
    let body = json!({ "challenge_id": challenge, "code": code });
    post_with(service, "/v1/login/code", &body, &[("user-agent", AGENT)]).await
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

fn entries(page: &Value) -> &Vec<Value> {
    page["entries"].as_array().unwrap()
}

fn positions(entries: &[Value]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect()
}

/// The whole history (one page), once the read models caught up.
async fn whole_history(service: &Service, query: &str) -> Vec<Value> {
    let page = audit_view(service, &format!("{HISTORY}?limit=1000{query}")).await;
    assert_eq!(page["next_after"], Value::Null, "one page holds it all");
    entries(&page).clone()
}

#[tokio::test]
async fn the_login_history_tells_every_step_in_order_and_filters_and_pages() {
    let (smtp, service) = acme(&[]).await;
    let setup_head = caught_up(&service).await;
    let alice_lockout = "/v1/licences/Acme/users/alice/lockout";
    let alice_code = "/v1/licences/Acme/users/alice/active-code";
    let none = audit_view(&service, alice_code).await;
    assert_eq!(
        none,
        json!({ "active": false, "code_id": null, "issued_at": null, "expires_at": null, "channel": null })
    );

    // alice: a wrong password, a wrong code, then a success.
    assert_eq!(
        password(&service, "alice", "not alice's password")
            .await
            .status,
        401
    );
    let lockout = audit_view(&service, alice_lockout).await;
    assert_eq!(lockout["failed_passwords_in_a_row"], 1, "{lockout}");
    let (challenge, code, _) = code_sent(&service, &smtp, "alice").await;
    assert_eq!(
        code_step(&service, &challenge, &wrong(&code)).await.status,
        401
    );
    let (challenge, code, answer) = code_sent(&service, &smtp, "alice").await;
    let active = audit_view(&service, alice_code).await;
    let issued = service.events_of("CodeIssued").pop().unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["code_id"], issued.data["code_id"]);
    assert_eq!(
        (&active["channel"], &active["issued_at"]),
        (&json!("email"), &issued.data["issued_at"])
    );
    assert_eq!(active["expires_at"], answer["code_expires_at"]);
    assert_eq!(
        active.as_object().unwrap().len(),
        5,
        "nothing but the five fields: {active}"
    );
    assert!(
        !active.to_string().contains(&code),
        "never the code: {active}"
    );
    let lockout = audit_view(&service, alice_lockout).await;
    assert_eq!(
        (
            &lockout["failed_passwords_in_a_row"],
            &lockout["failed_codes_in_a_row"]
        ),
        (&json!(0), &json!(1)),
        "{lockout}"
    );
    assert_eq!(code_step(&service, &challenge, &code).await.status, 200);
    let spent = audit_view(&service, alice_code).await;
    assert_eq!(
        (&spent["active"], &spent["code_id"]),
        (&json!(false), &issued.data["code_id"]),
        "{spent}"
    );
    let lockout = audit_view(&service, alice_lockout).await;
    let cleared = json!({ "locked": false, "locked_until": null, "lock_cause": null, "failed_codes_in_a_row": 0, "failed_passwords_in_a_row": 0 });
    assert_eq!(lockout, cleared);

    // bob: two wrong codes lock him; the right password then tells him so.
    for _ in 0..2 {
        let (challenge, code, _) = code_sent(&service, &smtp, "bob").await;
        assert_eq!(
            code_step(&service, &challenge, &wrong(&code)).await.status,
            401
        );
    }
    let locked = password(&service, "bob", PASSWORD).await;
    assert_eq!(
        (locked.status, locked.body["error"].as_str()),
        (423, Some("account_locked")),
        "{}",
        locked.raw
    );
    let bob = audit_view(&service, "/v1/licences/Acme/users/BOB/lockout").await;
    let expected_bob = json!({
        "locked": true, "locked_until": locked.body["locked_until"], "lock_cause": "codes",
        "failed_codes_in_a_row": 2, "failed_passwords_in_a_row": 0,
    });
    assert_eq!(bob, expected_bob);

    // The script, step by step, after the setup.
    let script = entries(
        &audit_view(
            &service,
            &format!("{HISTORY}?after={setup_head}&limit=1000"),
        )
        .await,
    )
    .clone();
    let steps: Vec<(&str, &str, &str)> = script
        .iter()
        .map(|e| {
            (
                e["login"].as_str().unwrap(),
                e["step"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let sent = |login| {
        [
            (login, "password", "code_sent"),
            (login, "code", "code_issued"),
            (login, "delivery", "delivered"),
        ]
    };
    // The first right password of each user comes from an address not seen before.
    let mut expected = vec![
        ("alice", "password", "invalid_credentials"),
        ("alice", "password", "new_client_address"),
    ];
    expected.extend(sent("alice"));
    expected.extend([
        ("alice", "code", "invalid_code"),
        ("alice", "alert", "alert_raised"),
    ]);
    expected.extend(sent("alice"));
    expected.extend([
        ("alice", "code", "code_accepted"),
        ("alice", "session", "authenticated"),
        ("bob", "password", "new_client_address"),
    ]);
    expected.extend(sent("bob"));
    expected.extend([
        ("bob", "code", "invalid_code"),
        ("bob", "alert", "alert_raised"),
    ]);
    expected.extend(sent("bob"));
    expected.extend([
        ("bob", "code", "invalid_code"),
        ("bob", "lock", "locked"),
        ("bob", "alert", "alert_raised"),
    ]);
    expected.push(("bob", "password", "account_locked"));
    assert_eq!(steps, expected);
    for entry in &script {
        assert_eq!(
            (entry["client_ip"].as_str(), entry["user_agent"].as_str()),
            (Some("127.0.0.1"), Some(AGENT)),
            "{entry}"
        );
    }
    let reasons: Vec<&str> = script.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "wrong_password",
            "wrong_code",
            "wrong_code_after_right_password",
            "wrong_code",
            "wrong_code_after_right_password",
            "wrong_code",
            "codes",
            "account_locked_by_codes"
        ]
    );
    let script_positions = positions(&script);
    assert!(
        script_positions.windows(2).all(|w| w[0] < w[1]),
        "in order: {script_positions:?}"
    );

    let all = whole_history(&service, "").await;
    let setup = all
        .iter()
        .filter(|e| e["position"].as_u64().unwrap() <= setup_head)
        .count();
    assert_eq!(
        positions(&all)[setup..],
        script_positions[..],
        "the setup, then the script"
    );

    // login= takes any spelling.
    let alice_only: Vec<u64> = positions(
        &all.iter()
            .filter(|e| e["login"] == "alice")
            .cloned()
            .collect::<Vec<_>>(),
    );
    for spelling in ["alice", " ALICE ", "ａｌｉｃｅ"] {
        let filtered = whole_history(&service, &format!("&login={}", query_value(spelling))).await;
        assert_eq!(positions(&filtered), alice_only, "login={spelling:?}");
    }
    // outcome=
    let invalid = whole_history(&service, "&outcome=invalid_code").await;
    let logins: Vec<&str> = invalid
        .iter()
        .map(|e| e["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["alice", "bob", "bob"]);
    let both = whole_history(&service, "&outcome=invalid_code&login=bob").await;
    assert_eq!(positions(&both), positions(&invalid[1..]));
    // from= (inclusive) and to= (exclusive).
    let from = script[0]["at"].as_str().unwrap();
    let to = script.iter().find(|e| e["login"] == "bob").unwrap()["at"]
        .as_str()
        .unwrap();
    let window: Vec<u64> = positions(
        &all.iter()
            .filter(|e| {
                let at = instant_key(e["at"].as_str().unwrap());
                at >= instant_key(from) && at < instant_key(to)
            })
            .cloned()
            .collect::<Vec<_>>(),
    );
    let filtered = whole_history(
        &service,
        &format!("&from={}&to={}", query_value(from), query_value(to)),
    )
    .await;
    assert_eq!(positions(&filtered), window);
    let bob_first = script.iter().find(|e| e["login"] == "bob").unwrap()["position"]
        .as_u64()
        .unwrap();
    assert!(
        window.contains(&script_positions[0]),
        "from is inclusive: {window:?}"
    );
    assert!(
        window.iter().all(|p| *p < bob_first),
        "to is exclusive: {window:?}"
    );

    // Paging with limit=2 visits every entry exactly once.
    let mut visited = Vec::new();
    let mut after: Option<u64> = None;
    let mut pages = 0;
    loop {
        let cursor = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page = audit_view(&service, &format!("{HISTORY}?limit=2{cursor}")).await;
        let got = positions(entries(&page));
        assert!(got.len() <= 2, "{page}");
        visited.extend(got);
        pages += 1;
        assert!(pages <= all.len() + 1, "paging never ends");
        match page["next_after"].as_u64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(visited, positions(&all), "each entry once, in order");
    let unique: BTreeSet<u64> = visited.iter().copied().collect();
    assert_eq!(unique.len(), visited.len());
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (smtp, service) = acme(&[]).await;
    assert_eq!(password(&service, "alice", "wrong").await.status, 401);
    let (challenge, code, _) = code_sent(&service, &smtp, "alice").await;
    assert_eq!(
        code_step(&service, &challenge, &wrong(&code)).await.status,
        401
    );
    let (challenge, code, _) = code_sent(&service, &smtp, "alice").await;
    assert_eq!(code_step(&service, &challenge, "12345").await.status, 400);
    assert_eq!(code_step(&service, &challenge, &code).await.status, 200);

    let healthz = service.get("/healthz", None).await;
    assert_eq!(
        (healthz.status, &healthz.body),
        (200, &json!({ "status": "ok" })),
        "{}",
        healthz.raw
    );
    let head = caught_up(&service).await;
    let store = if support::service::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let readyz = service.auditor("/readyz").await;
    assert_eq!(readyz.status, 200, "{}", readyz.raw);
    assert_eq!(
        readyz.body,
        json!({
            "status": "ok",
            "store": store,
            "head": head,
            "projection_lag": 0
        })
    );
    // Without the token, only whether it is ready: the head moves with every
    // login step and would tell, say, whether a reminder found a user.
    let public = service.get("/readyz", None).await;
    assert_eq!(
        (public.status, &public.body),
        (200, &json!({ "status": "ok", "store": store })),
        "{}",
        public.raw
    );
    let anonymous_metrics = service.get("/metrics", None).await;
    assert_eq!(
        (
            anonymous_metrics.status,
            anonymous_metrics.body["error"].as_str()
        ),
        (401, Some("unauthorized")),
        "{}",
        anonymous_metrics.raw
    );
    assert_eq!(head, service.events().last().unwrap().position as u64);

    let metrics = send(
        &service.base,
        reqwest::Method::GET,
        "/metrics",
        &[("authorization", &format!("Bearer {AUDITOR}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        metrics.headers
    );
    for line in [
        "# TYPE twostep_password_steps_total counter",
        "twostep_password_steps_total{outcome=\"code_sent\"} 2",
        "twostep_password_steps_total{outcome=\"invalid_credentials\"} 1",
        "twostep_password_steps_total{outcome=\"account_locked\"} 0",
        "twostep_code_steps_total{outcome=\"authenticated\"} 1",
        "twostep_code_steps_total{outcome=\"invalid_code\"} 1",
        "twostep_code_steps_total{outcome=\"malformed_code\"} 1",
        &format!("twostep_store_head_position {head}"),
        "twostep_projection_lag_events 0",
    ] {
        assert!(
            metrics.raw.lines().any(|l| l == line),
            "no line {line:?} in:\n{}",
            metrics.raw
        );
    }
}

/// The client address recorded for one wrong password sent with `forwarded`.
async fn recorded_ip(service: &Service, forwarded: Option<&str>) -> (RawReply, String) {
    let mut headers = vec![("user-agent", AGENT)];
    if let Some(value) = forwarded {
        headers.push(("x-forwarded-for", value));
    }
    let before = caught_up(service).await;
    let reply = password_step_with(service, LICENCE, "alice", "a wrong password", &headers).await;
    let page = audit_view(service, &format!("{HISTORY}?after={before}")).await;
    let recorded = entries(&page);
    assert_eq!(recorded.len(), 1, "{page}");
    (reply, recorded[0]["client_ip"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn forwarded_for_is_ignored_by_default() {
    let (_smtp, service) = acme(&[]).await;
    let (plain, ip) = recorded_ip(&service, None).await;
    assert_eq!(ip, "127.0.0.1");
    for forwarded in ["203.0.113.7", "198.51.100.1, 203.0.113.5", "not-an-ip"] {
        let (reply, ip) = recorded_ip(&service, Some(forwarded)).await;
        assert_eq!(ip, "127.0.0.1", "X-Forwarded-For: {forwarded}");
        assert_eq!(
            (reply.status, &reply.raw),
            (plain.status, &plain.raw),
            "the same answer"
        );
    }
}

#[tokio::test]
async fn forwarded_for_is_believed_from_a_trusted_proxy() {
    let (_smtp, service) = acme(&["--trusted-proxies", "127.0.0.1,10.0.0.0/8"]).await;
    let (plain, ip) = recorded_ip(&service, None).await;
    assert_eq!(ip, "127.0.0.1", "no header: the socket address");
    for (forwarded, expected) in [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.5", "203.0.113.5"),
        ("198.51.100.1, 203.0.113.5, 10.1.2.3", "203.0.113.5"),
        ("198.51.100.1, 127.0.0.1", "198.51.100.1"),
        ("not-an-ip", "127.0.0.1"),
        ("198.51.100.1, not-an-ip", "127.0.0.1"),
        ("203.0.113.7,,", "127.0.0.1"),
        ("", "127.0.0.1"),
    ] {
        let (reply, ip) = recorded_ip(&service, Some(forwarded)).await;
        assert_eq!(ip, expected, "X-Forwarded-For: {forwarded:?}");
        assert_eq!(
            (reply.status, &reply.raw),
            (plain.status, &plain.raw),
            "the same answer for {forwarded:?}"
        );
    }
}
