//! Counters exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every counter of the service.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Password steps that sent a code.
    pub password_code_sent: Counter,
    /// Password steps that kept the latest code.
    pub password_code_already_sent: Counter,
    /// Password steps that started a session (no 2FA).
    pub password_authenticated: Counter,
    /// Password steps answered `invalid_credentials`.
    pub password_invalid: Counter,
    /// Password steps answered `account_locked`.
    pub password_locked: Counter,
    /// Password steps refused because too many hashes were queued.
    pub password_overloaded: Counter,
    /// Code steps that started a session.
    pub code_authenticated: Counter,
    /// Code steps answered `invalid_code`.
    pub code_invalid: Counter,
    /// Code steps answered `malformed_code`.
    pub code_malformed: Counter,
    /// Code steps answered `account_locked`.
    pub code_locked: Counter,
    /// Messages delivered.
    pub deliveries_ok: Counter,
    /// Messages that failed to deliver.
    pub deliveries_failed: Counter,
    /// Appends that met a concurrent writer and were decided again.
    pub conflicts: Counter,
    /// HTTP answers by class.
    pub http_2xx: Counter,
    /// HTTP 4xx answers.
    pub http_4xx: Counter,
    /// HTTP 5xx answers.
    pub http_5xx: Counter,
}

impl Metrics {
    /// Counts an HTTP answer by status class.
    pub fn count_status(&self, status: u16) {
        match status {
            200..=299 => self.http_2xx.inc(),
            400..=499 => self.http_4xx.inc(),
            500..=599 => self.http_5xx.inc(),
            _ => {}
        }
    }

    /// The Prometheus text exposition; `extra` lines (gauges) are appended.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let mut family = |name: &str, help: &str, kind: &str, series: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in series {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "twostep_password_steps_total",
            "Password steps by outcome.",
            "counter",
            &[
                ("{outcome=\"code_sent\"}", self.password_code_sent.get()),
                (
                    "{outcome=\"code_already_sent\"}",
                    self.password_code_already_sent.get(),
                ),
                (
                    "{outcome=\"authenticated\"}",
                    self.password_authenticated.get(),
                ),
                (
                    "{outcome=\"invalid_credentials\"}",
                    self.password_invalid.get(),
                ),
                ("{outcome=\"account_locked\"}", self.password_locked.get()),
                ("{outcome=\"rate_limited\"}", self.password_overloaded.get()),
            ],
        );
        family(
            "twostep_code_steps_total",
            "Code steps by outcome.",
            "counter",
            &[
                ("{outcome=\"authenticated\"}", self.code_authenticated.get()),
                ("{outcome=\"invalid_code\"}", self.code_invalid.get()),
                ("{outcome=\"malformed_code\"}", self.code_malformed.get()),
                ("{outcome=\"account_locked\"}", self.code_locked.get()),
            ],
        );
        family(
            "twostep_deliveries_total",
            "Messages handed to a courier, by result.",
            "counter",
            &[
                ("{result=\"ok\"}", self.deliveries_ok.get()),
                ("{result=\"failed\"}", self.deliveries_failed.get()),
            ],
        );
        family(
            "twostep_append_conflicts_total",
            "Appends that met a concurrent writer and were decided again.",
            "counter",
            &[("", self.conflicts.get())],
        );
        family(
            "twostep_http_responses_total",
            "HTTP responses by status class.",
            "counter",
            &[
                ("{class=\"2xx\"}", self.http_2xx.get()),
                ("{class=\"4xx\"}", self.http_4xx.get()),
                ("{class=\"5xx\"}", self.http_5xx.get()),
            ],
        );
        for (name, help, value) in extra {
            family(name, help, "gauge", &[("", *value)]);
        }
        out
    }
}
