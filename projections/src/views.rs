//! What the read models answer: plain values, serialisable as JSON
//! (instants as RFC 3339). None of them ever holds a code, a digest or a
//! token.

use serde::{Deserialize, Serialize};
use twostep_domain::{AlertKind, Channel, Timestamp, UserId};
use uuid::Uuid;

/// Most history entries one page may hold.
pub const MAX_HISTORY_LIMIT: usize = 1_000;

/// Page size of [`HistoryQuery::default`].
pub const DEFAULT_HISTORY_LIMIT: usize = 100;

/// Where a projector stands in the global order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The projector (`active_codes`, `lockout`, `security_alerts`, `login_history`).
    pub name: &'static str,
    /// Global position of the last event it applied (0: none yet).
    pub position: u64,
}

/// Lockout status of a user at a given instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockoutView {
    /// A lock is in force.
    pub locked: bool,
    /// When the lock in force ends (`None` when not locked).
    pub locked_until: Option<Timestamp>,
    /// What caused the lock in force: `codes` or `passwords`.
    pub lock_cause: Option<String>,
    /// Wrong codes in a row (0 once a lock has ended).
    pub failed_codes_in_a_row: u32,
    /// Wrong passwords in a row (0 once a lock has ended).
    pub failed_passwords_in_a_row: u32,
}

/// The latest one-time code of a user, described (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveCodeView {
    /// The latest code exists, is neither spent nor voided, and has not expired.
    pub active: bool,
    /// Id of the latest code, also when it is no longer active (`None`: never issued).
    pub code_id: Option<Uuid>,
    /// When the latest code was issued.
    pub issued_at: Option<Timestamp>,
    /// When the latest code expires (or expired).
    pub expires_at: Option<Timestamp>,
    /// The channel the latest code was sent on.
    pub channel: Option<Channel>,
}

/// A page request on the login history of one licence. Filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only this user's entries.
    pub user: Option<UserId>,
    /// Only entries recorded at or after this instant.
    pub from: Option<Timestamp>,
    /// Only entries recorded before this instant.
    pub to: Option<Timestamp>,
    /// Only entries with this outcome (`invalid_credentials`, `authenticated`…).
    pub outcome: Option<String>,
    /// Only entries after this position: the `next_after` of the previous page.
    pub after: Option<u64>,
    /// Most entries to return (at most [`MAX_HISTORY_LIMIT`]; callers clamp).
    pub limit: usize,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        Self {
            user: None,
            from: None,
            to: None,
            outcome: None,
            after: None,
            limit: DEFAULT_HISTORY_LIMIT,
        }
    }
}

/// One page of login history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPage {
    /// Entries in global order.
    pub entries: Vec<HistoryEntry>,
    /// Position of the last entry when the page is full (there may be more):
    /// pass it as [`HistoryQuery::after`] for the next page.
    pub next_after: Option<u64>,
}

/// One login step, as an auditor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Global position of the event (the cursor).
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type name (`PasswordRejected`, `CodeIssued`…).
    pub event_type: String,
    /// When the store recorded the event.
    pub at: Timestamp,
    /// The user (`None` for an unknown login).
    pub user_id: Option<Uuid>,
    /// The user's login, as created.
    pub login: Option<String>,
    /// `password`, `code`, `session`, `delivery`, `lock`, `credentials` or `alert`.
    pub step: String,
    /// What happened (`code_sent`, `invalid_code`, `authenticated`, `locked`…).
    pub outcome: String,
    /// Why, where the event says (refusal reason, lock cause, delivery error,
    /// operator's reason, alert kind, how a password was set).
    pub reason: Option<String>,
    /// The challenge the step was about (for locks and password changes: the challenge it closed).
    pub challenge_id: Option<Uuid>,
    /// The code the step was about (never the code itself).
    pub code_id: Option<Uuid>,
    /// `sms` or `email`, where a message or second factor is involved.
    pub channel: Option<String>,
    /// Masked destination, as in the event.
    pub destination: Option<String>,
    /// The client's address, from the event's metadata.
    pub client_ip: Option<String>,
    /// The client's `User-Agent`, from the event's metadata.
    pub user_agent: Option<String>,
    /// The request the event was recorded in.
    pub correlation_id: Option<Uuid>,
}

/// A security alert, with links to the events that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertView {
    /// Stable id of the alert.
    pub alert_id: Uuid,
    /// What it is about.
    pub kind: AlertKind,
    /// The user concerned.
    pub user_id: Uuid,
    /// Their login, as created.
    pub login: Option<String>,
    /// When the store recorded the alert.
    pub raised_at: Timestamp,
    /// Global position of the `SecurityAlertRaised` event.
    pub position: u64,
    /// The events that caused it, oldest first.
    pub caused_by: Vec<AlertCause>,
}

/// An event that caused a security alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCause {
    /// Its stream (the alert's own stream).
    pub stream: String,
    /// Its version in that stream.
    pub version: u64,
    /// Its id (`None` if the store no longer has it).
    pub event_id: Option<Uuid>,
    /// Its type name (`None` if the store no longer has it).
    pub event_type: Option<String>,
    /// When the store recorded it (`None` if the store no longer has it).
    #[serde(default)]
    pub recorded_at: Option<Timestamp>,
}
