#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Security teams: a history built through the HTTP API (several users,
//! wrong codes, a lock, supersession, a resend, an unrequested-code report),
//! then the binary's `replay` (timeline, JSON lines, what-if under a
//! stricter policy) and `alerts`, run beside the live service.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};
mod support;

use support::flows::{confirmed_user, email_body, latest_emailed_code, outbox_emails_to};
use support::probes::password_step_with;
use support::{PASSWORD, Service, ServiceOptions, param_in};

const LICENCE: &str = "Acme";

async fn acme() -> Service {
    let service = Service::start(ServiceOptions {
        args: vec!["--trusted-proxies".into(), "127.0.0.1".into()],
        ..Default::default()
    })
    .await;
    let policy =
        json!({ "resend_interval_seconds": 0, "max_failed_codes": 3, "lock_seconds": 900 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    for login in ["alice", "bob", "carol"] {
        confirmed_user(
            &service,
            LICENCE,
            login,
            &format!("{login}@example.com"),
            None,
        )
        .await;
    }
    service
}

/// A password step that sends a code: `(challenge, code)`.
async fn code_sent(service: &Service, login: &str) -> (String, String) {
    let step = service.password_step(LICENCE, login, PASSWORD).await;
    assert_eq!(step.body["status"], "code_sent", "{}", step.raw);
    let code = latest_emailed_code(service, &format!("{login}@example.com"));
    (step.body["challenge_id"].as_str().unwrap().to_owned(), code)
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// Runs the binary with `args` on the service's data directory: (exit code, stdout, stderr).
fn twostep(service: &Service, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args(args)
        .arg("--data-dir")
        .arg(&service.data_dir)
        .env_remove("TWOSTEP_SECRET")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replaces RFC 3339 times by `T` and 8-hex short ids by `#n` (in order of
/// first appearance), so a timeline can be compared line by line.
fn normalised(text: &str) -> Vec<String> {
    let mut aliases: HashMap<String, String> = HashMap::new();
    text.lines()
        .map(|line| {
            line.split(' ')
                .map(|word| {
                    let bare = word.trim_end_matches([',', ';', ')', ':']);
                    let tail = &word[bare.len()..];
                    if bare.len() >= 20 && bare.as_bytes()[4] == b'-' && bare.contains('T') {
                        format!("T{tail}")
                    } else if bare.len() == 8
                        && bare.chars().all(|c| c.is_ascii_hexdigit())
                        && bare.chars().any(|c| c.is_ascii_digit())
                    {
                        let n = aliases.len() + 1;
                        let alias = aliases
                            .entry(bare.to_owned())
                            .or_insert_with(|| format!("#{n}"));
                        format!("{alias}{tail}")
                    } else {
                        word.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[tokio::test]
async fn replay_tells_the_story_and_what_a_stricter_policy_would_have_done() {
    let service = acme().await;

    // carol: a resend supersedes her first code; the old code is refused;
    // then she logs in.
    let (_, first) = code_sent(&service, "carol").await;
    let (challenge, _) = code_sent(&service, "carol").await;
    let refused = service.code_step(&challenge, &first).await;
    assert_eq!(refused.status, 401, "{}", refused.raw);
    let (challenge, code) = code_sent(&service, "carol").await;
    let accepted = service.code_step(&challenge, &code).await;
    assert_eq!(accepted.status, 200, "{}", accepted.raw);

    // alice: three wrong codes lock her; her right password is then refused.
    for _ in 0..3 {
        let (challenge, code) = code_sent(&service, "alice").await;
        let rejected = service.code_step(&challenge, &wrong(&code)).await;
        assert!(matches!(rejected.status, 401 | 423), "{}", rejected.raw);
    }
    let locked = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(locked.status, 423, "{}", locked.raw);

    // bob reports a code he did not ask for.
    code_sent(&service, "bob").await;
    let mail = outbox_emails_to(&service, "bob@example.com").pop().unwrap();
    let report = param_in(&email_body(&mail), "report").unwrap();
    let reported = service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": report }),
        )
        .await;
    assert_eq!(reported.status, 202, "{}", reported.raw);

    // An operator lifts alice's lock; her password then comes from an
    // address never seen for her.
    let lifted = service
        .operator(
            reqwest::Method::DELETE,
            "/v1/licences/Acme/users/alice/lockout",
            Some(json!({ "reason": "called the help desk" })),
        )
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.raw);
    let elsewhere = password_step_with(
        &service,
        LICENCE,
        "alice",
        PASSWORD,
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(elsewhere.body["status"], "code_sent", "{}", elsewhere.raw);

    // The timeline of carol, exactly.
    let (status, out, err) = twostep(
        &service,
        &["replay", "--licence", " ACME ", "--login", "Carol"],
    );
    assert_eq!(status, 0, "{err}");
    let expected: Vec<String> = EXPECTED_CAROL.lines().map(str::to_owned).collect();
    assert_eq!(normalised(&out), expected, "{out}");

    // JSON lines: one per event of alice, in order, without secrets.
    let (status, out, err) = twostep(
        &service,
        &["replay", "--licence", "Acme", "--login", "alice", "--json"],
    );
    assert_eq!(status, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stored: Vec<_> = service
        .events()
        .into_iter()
        .filter(|e| e.stream == lines[0]["stream"])
        .collect();
    assert_eq!(lines.len(), stored.len());
    for (line, event) in lines.iter().zip(&stored) {
        assert_eq!(line["type"], event.event_type.as_str());
        assert_eq!(line["version"], event.version);
        assert_eq!(line["login"], "alice");
    }
    for secret in [
        "code_digest",
        "token_digest",
        "report_digest",
        "password_hash",
        "$argon2",
    ] {
        assert!(!out.contains(secret), "{secret} in {out}");
    }

    // What if only two wrong codes had been allowed?
    let (status, out, err) = twostep(
        &service,
        &[
            "replay",
            "--licence",
            "Acme",
            "--login",
            "alice",
            "--json",
            "--policy",
            "max_failed_codes=2",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let differences: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l.get("what_if").is_some())
        .collect();
    let time_of = |type_name: &str, nth: usize| -> String {
        lines
            .iter()
            .filter(|l| l["type"] == type_name)
            .nth(nth)
            .unwrap()["time"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let second_wrong = time_of("CodeRejected", 1);
    let until = plus_seconds(&second_wrong, 900);
    let summary: Vec<(String, Vec<String>, Vec<String>)> = differences
        .iter()
        .map(|d| {
            let words = |k: &str| {
                d[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap().to_owned())
                    .collect()
            };
            (
                d["step"].as_str().unwrap().to_owned(),
                words("would_have"),
                words("actual"),
            )
        })
        .collect();
    let actual_until =
        lines.iter().find(|l| l["type"] == "AccountLocked").unwrap()["data"]["locked_until"]
            .as_str()
            .unwrap()
            .to_owned();
    let s = |v: &[&str]| v.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                "code step".to_owned(),
                s(&[
                    "code rejected: wrong code",
                    &format!("locked until {until} (wrong codes)")
                ]),
                s(&["code rejected: wrong code"]),
            ),
            (
                "password step".to_owned(),
                s(&[&format!("password step refused (locked until {until})")]),
                s(&["code sent"]),
            ),
            (
                "code step".to_owned(),
                s(&["code step refused (locked)"]),
                s(&[
                    "code rejected: wrong code",
                    &format!("locked until {actual_until} (wrong codes)")
                ]),
            ),
            (
                "password step".to_owned(),
                s(&[&format!("password step refused (locked until {until})")]),
                s(&[&format!(
                    "password step refused (locked until {actual_until})"
                )]),
            ),
        ],
        "{out}"
    );
    assert_eq!(differences[0]["time"].as_str(), Some(second_wrong.as_str()));

    // A bad policy key is a clear error naming the valid keys.
    let (status, _, err) = twostep(
        &service,
        &[
            "replay",
            "--licence",
            "Acme",
            "--login",
            "alice",
            "--policy",
            "max_codes=2",
        ],
    );
    assert_eq!(status, 1);
    assert!(
        err.contains("unknown policy key `max_codes` (valid keys: code_ttl_seconds,"),
        "{err}"
    );

    // alerts: every kind this history raised, with its causing events.
    let (status, out, err) = twostep(&service, &["alerts", "--licence", "Acme", "--json"]);
    assert_eq!(status, 0, "{err}");
    let alerts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["login"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("carol", "wrong_code_after_right_password"),
            ("alice", "wrong_code_after_right_password"),
            ("alice", "account_locked_by_codes"),
            ("bob", "unrequested_code_reported"),
            ("alice", "new_address_after_lock"),
        ]
    );
    let lock = &alerts[2];
    let cause_types: Vec<&str> = lock["caused_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        cause_types,
        vec![
            "CodeRejected",
            "CodeRejected",
            "CodeRejected",
            "AccountLocked"
        ]
    );
    for cause in lock["caused_by"].as_array().unwrap() {
        let event = service
            .events()
            .into_iter()
            .find(|e| e.event_id == cause["event_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(event.version, cause["version"].as_i64().unwrap());
        assert!(cause["recorded_at"].is_string());
    }
    let new_address = &alerts[4];
    let cause_types: Vec<&str> = new_address["caused_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(cause_types, vec!["AccountLocked", "ClientAddressSeen"]);
    let seen = service
        .events()
        .into_iter()
        .find(|e| e.event_id == new_address["caused_by"][1]["event_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(seen.metadata["client_ip"], "203.0.113.7");
    assert!(
        !seen.data.to_string().contains("203.0.113.7"),
        "{}",
        seen.data
    );
    let (status, out, err) = twostep(
        &service,
        &[
            "alerts",
            "--licence",
            "Acme",
            "--kind",
            "account_locked_by_codes",
        ],
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("account_locked_by_codes"))
            .count(),
        1,
        "{out}"
    );
    assert!(out.ends_with("1 alert(s)\n"), "{out}");
    let (status, _, err) = twostep(&service, &["alerts", "--licence", "Acme", "--kind", "nope"]);
    assert_eq!(status, 1);
    assert!(
        err.contains("valid kinds: unrequested_code_reported"),
        "{err}"
    );
}

fn plus_seconds(text: &str, seconds: i64) -> String {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
    (at + time::Duration::seconds(seconds))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

const EXPECTED_CAROL: &str = "\
T  carol  v1  access   issued       access confirmation token sent, valid until T  ip 127.0.0.1
T  carol  v2  delivery sent         access confirmation delivered  [email c***@example.com]  ip 127.0.0.1
T  carol  v3  access   password set password set with a token  ip 127.0.0.1
T  carol  v4  password new address  right password from a client address not seen before for this user  ip 127.0.0.1
T  carol  v5  password accepted     right password; challenge #1 opened; new code #2 to send  ip 127.0.0.1
T  carol  v6  code     issued       code #2 for challenge #1, valid until T  [email c***@example.com]  ip 127.0.0.1
T  carol  v7  delivery sent         code delivered  [email c***@example.com]  ip 127.0.0.1
T  carol  v8  password accepted     right password; challenge #3 opened, closing challenge #1; new code #4 to send  ip 127.0.0.1
T  carol  v9  code     issued       code #4 for challenge #3, valid until T; code #2 superseded by code #4  [email c***@example.com]  ip 127.0.0.1
T  carol  v10  delivery sent         code delivered  [email c***@example.com]  ip 127.0.0.1
T  carol  v11  code     rejected     code rejected: an older code, superseded by code #4 (1 of 3 in a row); challenge #3 closed  ip 127.0.0.1
T  carol  v12  alert    raised       wrong_code_after_right_password (caused by v11)  ip 127.0.0.1
T  carol  v13  password accepted     right password; challenge #5 opened; new code #6 to send  ip 127.0.0.1
T  carol  v14  code     issued       code #6 for challenge #5, valid until T; code #4 superseded by code #6  [email c***@example.com]  ip 127.0.0.1
T  carol  v15  delivery sent         code delivered  [email c***@example.com]  ip 127.0.0.1
T  carol  v16  code     accepted     right code #6 for challenge #5  ip 127.0.0.1
T  carol  v17  session  started      login succeeded; session #7 until T  ip 127.0.0.1";
