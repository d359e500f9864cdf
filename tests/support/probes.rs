//! Probes that reach past the harness's JSON helpers: raw HTTP requests with
//! any method, headers and body (and no panic when the service is gone),
//! waiting until every read model has caught up with the log, users whose
//! access is confirmed over SMTP, and the raw bytes of the data files.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::WAIT;
use super::mail::SmtpServer;
use super::param_in;
use super::service::{AUDITOR, Service};

/// An HTTP answer with its headers.
#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    /// Every header but `date`, lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub raw: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Longest a probe waits for an answer: a hang is a failure, not a stuck test.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// Sends one request exactly as given; `Err` when no answer came (refused,
/// reset, timed out).
pub async fn send(
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<RawReply, String> {
    let client = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.request(method, format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let raw = response.text().await.map_err(|e| format!("{e:?}"))?;
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Ok(RawReply {
        status,
        headers,
        raw,
        body,
    })
}

/// A JSON POST with extra headers (`User-Agent`, `X-Forwarded-For`…).
pub async fn post_with(
    service: &Service,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> RawReply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(
        &service.base,
        Method::POST,
        path,
        &all,
        Some(body.to_string().into_bytes()),
    )
    .await
    .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// The password step with extra headers.
pub async fn password_step_with(
    service: &Service,
    licence: &str,
    login: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> RawReply {
    let body = json!({ "licence": licence, "login": login, "password": password });
    post_with(service, "/v1/login/password", &body, headers).await
}

/// Waits until every projector has applied every event of the store
/// (`projection_lag` of `/readyz` is 0); returns the store's head position.
pub async fn caught_up(service: &Service) -> u64 {
    let start = Instant::now();
    loop {
        let ready = service.auditor("/readyz").await;
        if ready.status == 200 && ready.body["projection_lag"] == 0 {
            return ready.body["head"].as_u64().unwrap();
        }
        assert!(
            start.elapsed() < WAIT,
            "the read models never caught up within {WAIT:?}; last: {}",
            ready.raw
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An auditor GET that must answer 200, once the read models caught up.
pub async fn audit_view(service: &Service, path: &str) -> Value {
    caught_up(service).await;
    let reply = service.call(Method::GET, path, None, Some(AUDITOR)).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.raw);
    reply.body
}

/// Creates a user whose e-mail goes to `smtp`, and sets `password` with the
/// token of the access e-mail (which is the first message to `email`).
pub async fn confirmed_over_smtp(
    service: &Service,
    smtp: &SmtpServer,
    licence: &str,
    login: &str,
    email: &str,
    mobile: Option<&str>,
    password: &str,
) -> String {
    let created = service.create_user(licence, login, email, mobile).await;
    assert_eq!(created.status, 201, "creating {login}: {}", created.raw);
    let access = smtp.nth_to(email, 1).await;
    let token = param_in(&access.body(), "token").expect("a token= link in the access e-mail");
    let confirmed = service
        .post(
            "/v1/access/confirm",
            json!({ "token": token, "password": password }),
        )
        .await;
    assert_eq!(
        confirmed.status, 200,
        "confirming {login}: {}",
        confirmed.raw
    );
    token
}

/// The raw bytes of a data file and of its `-wal` file, if any.
pub fn data_file_bytes(dir: &Path, name: &str) -> Vec<(String, Vec<u8>)> {
    [name.to_owned(), format!("{name}-wal")]
        .into_iter()
        .filter_map(|file| {
            std::fs::read(dir.join(&file))
                .ok()
                .map(|bytes| (file, bytes))
        })
        .collect()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `needle` occurs in `haystack` with no ASCII letter or digit right
/// before or after it (how a short secret such as a code would be written).
pub fn contains_standalone(haystack: &[u8], needle: &[u8]) -> bool {
    let n = needle.len();
    !needle.is_empty()
        && haystack.windows(n).enumerate().any(|(at, w)| {
            w == needle
                && (at == 0 || !haystack[at - 1].is_ascii_alphanumeric())
                && haystack
                    .get(at + n)
                    .is_none_or(|b| !b.is_ascii_alphanumeric())
        })
}

/// Decodes unpadded base64url; `None` for anything else.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        buffer = (buffer << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes bytes as standard base64 with padding.
pub fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lower-case hex of bytes.
pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An RFC 3339 UTC instant as a key that orders like the instant:
/// (`YYYY-MM-DDTHH:MM:SS`, nanoseconds).
pub fn instant_key(text: &str) -> (String, u32) {
    let text = text
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("not a UTC instant: {text}"));
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let nanos = format!("{fraction:0<9}")
        .parse()
        .unwrap_or_else(|_| panic!("bad fraction in {text}"));
    (seconds.to_owned(), nanos)
}
