//! One timeline line per event: what happened, what was decided and why,
//! in an analyst's words. Never a digest, hash or token: those fields are
//! dropped from the JSON form too.

use serde_json::{Value, json};
use twostep_domain::account::{CodeRefusal, LockCause, MessagePurpose, PasswordRefusal};
use twostep_domain::{AccountEvent, Channel, LoginPolicy, Timestamp};
use uuid::Uuid;

use super::log::AccountRecord;

/// Fields of stored events that are never shown.
const SECRET_FIELDS: &[&str] = &[
    "code_digest",
    "token_digest",
    "report_digest",
    "password_hash",
    "address_digest",
];

/// What an event means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub step: &'static str,
    pub outcome: &'static str,
    pub why: String,
    pub channel: Option<Channel>,
    pub destination: Option<String>,
}

/// Short form of an id for reading (the first 8 hex digits).
pub fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

/// RFC 3339 to the millisecond, for reading.
pub fn time(at: Timestamp) -> String {
    let text = at.rfc3339();
    match text.split_once('.') {
        Some((seconds, fraction)) => {
            let digits: String = fraction
                .chars()
                .filter(char::is_ascii_digit)
                .take(3)
                .collect();
            format!("{seconds}.{digits:0<3}Z")
        }
        None => text,
    }
}

fn purpose(purpose: MessagePurpose) -> &'static str {
    match purpose {
        MessagePurpose::Code => "code",
        MessagePurpose::AccessConfirmation => "access confirmation",
        MessagePurpose::PasswordReset => "password reset",
        MessagePurpose::ContactChangeNotice => "contact change notice",
        MessagePurpose::PasswordChangeNotice => "password change notice",
    }
}

fn code_refusal(reason: CodeRefusal, latest_code: Option<Uuid>) -> String {
    match reason {
        CodeRefusal::WrongCode => "wrong code".into(),
        CodeRefusal::Expired => "right code, but expired".into(),
        CodeRefusal::Superseded => match latest_code {
            Some(latest) => format!("an older code, superseded by code {}", short(latest)),
            None => "an older, superseded code".into(),
        },
        CodeRefusal::Spent => "code already used".into(),
        CodeRefusal::Voided => "code voided".into(),
        CodeRefusal::NoCode => "no code was issued for this challenge".into(),
        CodeRefusal::ChallengeNotOpen => "challenge not open".into(),
        CodeRefusal::AccountLocked => "account locked".into(),
        CodeRefusal::UserInactive => "user deactivated".into(),
        CodeRefusal::TwoFactorDisabled => "two-factor switched off".into(),
    }
}

/// Follows an account stream to explain each event in context.
#[derive(Debug, Default)]
pub struct Narrator {
    latest_code: Option<Uuid>,
    locked_at: Option<Timestamp>,
}

impl Narrator {
    pub fn describe(&mut self, event: &AccountEvent, policy: &LoginPolicy) -> Described {
        let plain = |step, outcome, why: String| Described {
            step,
            outcome,
            why,
            channel: None,
            destination: None,
        };
        match event {
            AccountEvent::AccessConfirmationIssued { expires_at, .. } => plain(
                "access",
                "issued",
                format!(
                    "access confirmation token sent, valid until {}",
                    time(*expires_at)
                ),
            ),
            AccountEvent::PasswordResetRequested { expires_at, .. } => plain(
                "reminder",
                "issued",
                format!(
                    "password reset token sent, valid until {}",
                    time(*expires_at)
                ),
            ),
            AccountEvent::PasswordSet {
                closed_challenge,
                voided_code,
                ended_sessions,
                ..
            } => {
                let mut why = "password set with a token".to_owned();
                if let Some(ch) = closed_challenge {
                    why.push_str(&format!("; closed challenge {}", short(*ch)));
                }
                if let Some(code) = voided_code {
                    why.push_str(&format!("; voided code {}", short(*code)));
                }
                if !ended_sessions.is_empty() {
                    why.push_str(&format!("; ended {} session(s)", ended_sessions.len()));
                }
                plain("access", "password set", why)
            }
            AccountEvent::PasswordRejected {
                reason,
                failed_passwords_in_a_row,
                ..
            } => plain(
                "password",
                "rejected",
                match reason {
                    PasswordRefusal::WrongPassword => format!(
                        "wrong password ({} of {} in a row)",
                        failed_passwords_in_a_row, policy.max_failed_passwords
                    ),
                    PasswordRefusal::NoPasswordSet => "no password set yet".into(),
                    PasswordRefusal::UserInactive => "user deactivated".into(),
                },
            ),
            AccountEvent::LoginRefusedWhileLocked { locked_until } => plain(
                "password",
                "refused",
                format!(
                    "right password, but locked until {}: no code sent",
                    time(*locked_until)
                ),
            ),
            AccountEvent::ChallengeOpened {
                challenge_id,
                closed_challenge,
                code_id,
                code_reused,
                resend_available_at,
            } => {
                let mut why = format!("right password; challenge {} opened", short(*challenge_id));
                if let Some(ch) = closed_challenge {
                    why.push_str(&format!(", closing challenge {}", short(*ch)));
                }
                if *code_reused {
                    why.push_str(&format!(
                        "; code {} kept (sent less than {} s ago), none sent; a new one from {}",
                        short(*code_id),
                        policy.resend_interval_seconds,
                        time(*resend_available_at)
                    ));
                } else {
                    why.push_str(&format!("; new code {} to send", short(*code_id)));
                }
                plain("password", "accepted", why)
            }
            AccountEvent::CodeIssued {
                code_id,
                challenge_id,
                channel,
                destination,
                expires_at,
                superseded,
                ..
            } => {
                self.latest_code = Some(*code_id);
                let mut why = format!(
                    "code {} for challenge {}, valid until {}",
                    short(*code_id),
                    short(*challenge_id),
                    time(*expires_at)
                );
                if let Some(old) = superseded {
                    why.push_str(&format!(
                        "; code {} superseded by code {}",
                        short(*old),
                        short(*code_id)
                    ));
                }
                Described {
                    step: "code",
                    outcome: "issued",
                    why,
                    channel: Some(*channel),
                    destination: Some(destination.clone()),
                }
            }
            AccountEvent::MessageDelivered {
                purpose: what,
                channel,
                destination,
                ..
            } => Described {
                step: "delivery",
                outcome: "sent",
                why: format!("{} delivered", purpose(*what)),
                channel: Some(*channel),
                destination: Some(destination.clone()),
            },
            AccountEvent::MessageDeliveryFailed {
                purpose: what,
                channel,
                destination,
                error,
                code_failures_in_a_row,
                ..
            } => Described {
                step: "delivery",
                outcome: "failed",
                why: format!(
                    "{} not delivered: {error} ({code_failures_in_a_row} code deliveries failed in a row)",
                    purpose(*what)
                ),
                channel: Some(*channel),
                destination: Some(destination.clone()),
            },
            AccountEvent::CodeAccepted {
                challenge_id,
                code_id,
            } => plain(
                "code",
                "accepted",
                format!(
                    "right code {} for challenge {}",
                    short(*code_id),
                    short(*challenge_id)
                ),
            ),
            AccountEvent::CodeRejected {
                challenge_id,
                reason,
                counted,
                failed_codes_in_a_row,
                ..
            } => {
                let reason = code_refusal(*reason, self.latest_code);
                let why = if *counted {
                    format!(
                        "code rejected: {reason} ({} of {} in a row); challenge {} closed",
                        failed_codes_in_a_row,
                        policy.max_failed_codes,
                        short(*challenge_id)
                    )
                } else {
                    format!("code step refused, not counted: {reason}")
                };
                plain("code", "rejected", why)
            }
            AccountEvent::AccountLocked {
                cause,
                lock_number,
                locked_at,
                locked_until,
                ..
            } => {
                self.locked_at = Some(*locked_at);
                let what = match cause {
                    LockCause::Codes => format!("{} wrong codes in a row", policy.max_failed_codes),
                    LockCause::Passwords => {
                        format!("{} wrong passwords in a row", policy.max_failed_passwords)
                    }
                };
                plain(
                    "lock",
                    "locked",
                    format!(
                        "locked for {} s: {what} (lock {lock_number} without a login in between), until {}",
                        locked_at.seconds_until(*locked_until),
                        time(*locked_until)
                    ),
                )
            }
            AccountEvent::LockExpired { locked_until } => plain(
                "lock",
                "ended",
                format!(
                    "the lock until {} ended by itself; counters reset",
                    time(*locked_until)
                ),
            ),
            AccountEvent::LockLifted { reason, .. } => plain(
                "lock",
                "lifted",
                format!("an operator lifted the lock: {reason}"),
            ),
            AccountEvent::SessionStarted {
                session_id,
                expires_at,
                second_factor,
                ..
            } => plain(
                "session",
                "started",
                format!(
                    "login succeeded; session {} until {}{}",
                    short(*session_id),
                    time(*expires_at),
                    if second_factor.is_none() {
                        " (no second factor: 2FA off)"
                    } else {
                        ""
                    }
                ),
            ),
            AccountEvent::SessionEnded { session_id } => plain(
                "session",
                "ended",
                format!("logout of session {}", short(*session_id)),
            ),
            AccountEvent::UnrequestedCodeReported {
                code_id,
                ended_sessions,
                ..
            } => plain(
                "report",
                "reported",
                format!(
                    "the user did not ask for code {}: code voided{}",
                    short(*code_id),
                    if ended_sessions.is_empty() {
                        String::new()
                    } else {
                        format!(", {} session(s) ended", ended_sessions.len())
                    }
                ),
            ),
            AccountEvent::ClientAddressSeen { .. } => plain(
                "password",
                "new address",
                "right password from a client address not seen before for this user".into(),
            ),
            AccountEvent::SecurityAlertRaised(alert) => plain(
                "alert",
                "raised",
                format!(
                    "{} (caused by v{})",
                    serde_json::to_value(alert.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    alert
                        .caused_by
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", v")
                ),
            ),
        }
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Sms => "sms",
    }
}

/// The text line of an event.
pub fn text_line(record: &AccountRecord, login: &str, described: &Described) -> String {
    let recorded = &record.recorded;
    let mut line = format!(
        "{}  {login}  v{}  {:<8} {:<12} {}",
        time(Timestamp::new(recorded.recorded_at)),
        recorded.version,
        described.step,
        described.outcome,
        described.why
    );
    if let (Some(channel), Some(destination)) = (described.channel, &described.destination) {
        line.push_str(&format!("  [{} {destination}]", channel_name(channel)));
    }
    if let Some(ip) = &recorded.metadata.client_ip {
        line.push_str(&format!("  ip {ip}"));
    }
    if let Some(agent) = &recorded.metadata.user_agent {
        line.push_str(&format!("  ua \"{agent}\""));
    }
    line
}

/// The JSON line of an event (secret-bearing fields dropped).
pub fn json_line(
    record: &AccountRecord,
    licence: &str,
    login: &str,
    described: &Described,
) -> Value {
    let recorded = &record.recorded;
    let mut data = recorded.data.clone();
    if let Value::Object(map) = &mut data {
        for field in SECRET_FIELDS {
            map.remove(*field);
        }
    }
    json!({
        "time": Timestamp::new(recorded.recorded_at).rfc3339(),
        "licence": licence,
        "login": login,
        "stream": recorded.stream,
        "version": recorded.version,
        "position": recorded.position,
        "event_id": recorded.event_id,
        "type": recorded.event_type,
        "step": described.step,
        "outcome": described.outcome,
        "why": described.why,
        "channel": described.channel.map(channel_name),
        "destination": described.destination,
        "client_ip": recorded.metadata.client_ip,
        "user_agent": recorded.metadata.user_agent,
        "actor": recorded.metadata.actor,
        "correlation_id": recorded.metadata.correlation_id,
        "data": data,
    })
}
