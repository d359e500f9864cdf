//! The summary printed after an export: counted over the exported rows.

use std::collections::BTreeMap;
use std::fmt;

use twostep_projections::HistoryEntry;

/// Outcomes counted as failures.
const FAILURES: [&str; 5] = [
    "invalid_credentials",
    "unknown_login",
    "account_locked",
    "invalid_code",
    "delivery_failed",
];

/// Counts of an export.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Rows written.
    pub rows: u64,
    /// Password steps (step `password`: every login attempt, known user or not).
    pub attempts: u64,
    /// Sessions started (outcome `authenticated`).
    pub successes: u64,
    /// Failures by outcome and, where the event says, reason
    /// (`invalid_code/wrong_code`); delivery failures by outcome only.
    pub failures: BTreeMap<String, u64>,
    /// Accounts locked (outcome `locked`).
    pub locks: u64,
    /// Security alerts raised (outcome `alert_raised`).
    pub alerts: u64,
}

impl Summary {
    /// Counts one exported row.
    pub fn count(&mut self, entry: &HistoryEntry) {
        self.rows += 1;
        // `new_client_address` annotates a password step already counted.
        if entry.step == "password" && entry.outcome != "new_client_address" {
            self.attempts += 1;
        }
        match entry.outcome.as_str() {
            "authenticated" => self.successes += 1,
            "locked" => self.locks += 1,
            "alert_raised" => self.alerts += 1,
            outcome if FAILURES.contains(&outcome) => {
                let key = match &entry.reason {
                    Some(reason) if outcome != "delivery_failed" => format!("{outcome}/{reason}"),
                    _ => outcome.to_owned(),
                };
                *self.failures.entry(key).or_default() += 1;
            }
            _ => {}
        }
    }

    /// All failures.
    pub fn failure_total(&self) -> u64 {
        self.failures.values().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows: {}", self.rows)?;
        writeln!(f, "attempts: {}", self.attempts)?;
        writeln!(f, "successes: {}", self.successes)?;
        writeln!(f, "failures: {}", self.failure_total())?;
        for (reason, count) in &self.failures {
            writeln!(f, "  {reason}: {count}")?;
        }
        writeln!(f, "locks: {}", self.locks)?;
        write!(f, "alerts: {}", self.alerts)
    }
}

#[cfg(test)]
mod tests {
    use twostep_domain::Timestamp;
    use uuid::Uuid;

    use super::*;

    fn row(step: &str, outcome: &str, reason: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            position: 1,
            event_id: Uuid::nil(),
            event_type: "PasswordRejected".into(),
            at: Timestamp::from_unix(0),
            user_id: None,
            login: None,
            step: step.into(),
            outcome: outcome.into(),
            reason: reason.map(str::to_owned),
            challenge_id: None,
            code_id: None,
            channel: None,
            destination: None,
            client_ip: None,
            user_agent: None,
            correlation_id: None,
        }
    }

    #[test]
    fn every_kind_of_row_lands_in_its_count() {
        let mut summary = Summary::default();
        for entry in [
            row("password", "invalid_credentials", Some("wrong_password")),
            row("password", "invalid_credentials", Some("wrong_password")),
            row("password", "unknown_login", None),
            row("password", "code_sent", None),
            row("code", "code_issued", None),
            row("code", "invalid_code", Some("wrong_code")),
            row("delivery", "delivery_failed", Some("smtp: 554 refused")),
            row("lock", "locked", Some("codes")),
            row("alert", "alert_raised", Some("account_locked_by_codes")),
            row("session", "authenticated", None),
        ] {
            summary.count(&entry);
        }
        assert_eq!(
            summary.to_string(),
            "rows: 10\nattempts: 4\nsuccesses: 1\nfailures: 5\n  delivery_failed: 1\n  \
             invalid_code/wrong_code: 1\n  invalid_credentials/wrong_password: 2\n  \
             unknown_login: 1\nlocks: 1\nalerts: 1"
        );
    }
}
