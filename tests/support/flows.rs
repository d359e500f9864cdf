//! Flows several end-to-end tests share: users whose access is confirmed
//! through the file outbox, reading the outbox, polling read models, and
//! RFC 3339 arithmetic.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::service::{Service, StoredEvent};
use super::{PASSWORD, WAIT, code_in, param_in};

/// Every e-mail the file outbox holds, oldest first, as raw RFC 5322 text.
pub fn outbox_emails(service: &Service) -> Vec<String> {
    let dir = service.data_dir.join("outbox").join("email");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// The outbox e-mails to `to`, oldest first.
pub fn outbox_emails_to(service: &Service, to: &str) -> Vec<String> {
    let header = format!("To: {to}\r\n");
    outbox_emails(service)
        .into_iter()
        .filter(|m| m.contains(&header))
        .collect()
}

/// The body of a raw e-mail, soft line breaks undone.
pub fn email_body(raw: &str) -> String {
    raw.split_once("\r\n\r\n")
        .map_or(raw, |(_, body)| body)
        .replace("=\r\n", "")
}

/// The code of the latest outbox e-mail to `to` (6 digits).
pub fn latest_emailed_code(service: &Service, to: &str) -> String {
    let mails = outbox_emails_to(service, to);
    let latest = mails
        .last()
        .unwrap_or_else(|| panic!("no e-mail to {to} in the outbox"));
    code_in(&email_body(latest), 6).unwrap_or_else(|| panic!("no code in {latest}"))
}

/// Creates a user (the licence's e-mail goes to the file outbox) and sets
/// its password to [`PASSWORD`] with the token of its access e-mail.
pub async fn confirmed_user(
    service: &Service,
    licence: &str,
    login: &str,
    email: &str,
    mobile: Option<&str>,
) {
    let created = service.create_user(licence, login, email, mobile).await;
    assert_eq!(created.status, 201, "{}", created.raw);
    assert_eq!(
        created.body["access_confirmation"], "sent",
        "{}",
        created.raw
    );
    let mails = outbox_emails_to(service, email);
    let access = mails
        .last()
        .unwrap_or_else(|| panic!("no access e-mail to {email}"));
    let token = param_in(access, "token").expect("a token= link in the access e-mail");
    let confirmed = service
        .post(
            "/v1/access/confirm",
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.raw);
}

/// Polls an auditor endpoint until `accept` holds for its body; panics with
/// the last body at the deadline (read models are eventually consistent).
pub async fn poll_auditor(service: &Service, path: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let reply = service.auditor(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.raw);
        if accept(&reply.body) {
            return reply.body;
        }
        assert!(
            start.elapsed() < WAIT,
            "{path} never matched within {WAIT:?}; last: {}",
            reply.raw
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the event store until `accept` holds for its events; panics at the deadline.
pub async fn poll_events(
    service: &Service,
    what: &str,
    accept: impl Fn(&[StoredEvent]) -> bool,
) -> Vec<StoredEvent> {
    let start = Instant::now();
    loop {
        let events = service.events();
        if accept(&events) {
            return events;
        }
        assert!(start.elapsed() < WAIT, "never saw {what} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp
/// (`2026-03-01T10:00:00.123Z` or with a `+00:00` offset).
pub fn unix_seconds(text: &str) -> f64 {
    let (seconds, fraction) = whole_and_fraction(text);
    seconds as f64 + fraction
}

/// Seconds between two RFC 3339 timestamps (`later - earlier`), exact when
/// their fractions of a second are equal.
pub fn seconds_between(earlier: &str, later: &str) -> f64 {
    let (later, later_fraction) = whole_and_fraction(later);
    let (earlier, earlier_fraction) = whole_and_fraction(earlier);
    (later - earlier) as f64 + (later_fraction - earlier_fraction)
}

/// Whole seconds since the Unix epoch and the fraction of a second.
fn whole_and_fraction(text: &str) -> (i64, f64) {
    let bad = |_| -> ! { panic!("not an RFC 3339 UTC timestamp: {text}") };
    let utc = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or_else(|| bad(()));
    let (date, time) = utc.split_once('T').unwrap_or_else(|| bad(()));
    let number = |s: &str| s.parse::<i64>().unwrap_or_else(|_| bad(()));
    let date: Vec<i64> = date.split('-').map(number).collect();
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let hms: Vec<i64> = hms.split(':').map(number).collect();
    let fraction = format!("0.{fraction}")
        .parse::<f64>()
        .unwrap_or_else(|_| bad(()));
    // Days from the civil date (H. Hinnant's algorithm).
    let (y, m, d) = (date[0] - i64::from(date[1] <= 2), date[1], date[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hms[0] * 3_600 + hms[1] * 60 + hms[2];
    (seconds, fraction)
}

/// Sleeps until a quarter of a second after the instant `at` (RFC 3339).
pub async fn sleep_past(at: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let wait = unix_seconds(at) - now + 0.25;
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}
