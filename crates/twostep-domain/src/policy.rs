//! The login policy a licence carries: code lifetime, resend interval,
//! lockout thresholds, code length and session lifetime.

use serde::{Deserialize, Serialize};

/// Longest a lock may last, however many locks follow each other.
pub const MAX_LOCK_SECONDS: u64 = 24 * 60 * 60;

/// A licence's login policy. Defaults come from the product notes (5-minute
/// codes, one resend a minute) and common practice where they are silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginPolicy {
    /// A code is valid this long after it is issued (or until a newer one).
    pub code_ttl_seconds: u64,
    /// A new code is issued at most once per this interval.
    pub resend_interval_seconds: u64,
    /// This many wrong codes in a row lock the account.
    pub max_failed_codes: u32,
    /// This many wrong passwords in a row lock the account.
    pub max_failed_passwords: u32,
    /// Length of the first lock; each following lock without a successful
    /// login in between lasts twice as long, capped at 24 h.
    pub lock_seconds: u64,
    /// Digits in a code.
    pub code_length: u32,
    /// Lifetime of a session token.
    pub session_ttl_seconds: u64,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            code_ttl_seconds: 300,
            resend_interval_seconds: 60,
            max_failed_codes: 5,
            max_failed_passwords: 10,
            lock_seconds: 900,
            code_length: 6,
            session_ttl_seconds: 28_800,
        }
    }
}

/// Some fields of a policy; the others keep their current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPatch {
    /// See [`LoginPolicy::code_ttl_seconds`].
    pub code_ttl_seconds: Option<u64>,
    /// See [`LoginPolicy::resend_interval_seconds`].
    pub resend_interval_seconds: Option<u64>,
    /// See [`LoginPolicy::max_failed_codes`].
    pub max_failed_codes: Option<u32>,
    /// See [`LoginPolicy::max_failed_passwords`].
    pub max_failed_passwords: Option<u32>,
    /// See [`LoginPolicy::lock_seconds`].
    pub lock_seconds: Option<u64>,
    /// See [`LoginPolicy::code_length`].
    pub code_length: Option<u32>,
    /// See [`LoginPolicy::session_ttl_seconds`].
    pub session_ttl_seconds: Option<u64>,
}

/// A policy field outside its sane range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be between {min} and {max}{extra}")]
pub struct PolicyError {
    /// The offending field.
    pub field: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// Further explanation, if any.
    pub extra: &'static str,
}

fn within(
    field: &'static str,
    value: u64,
    min: u64,
    max: u64,
    extra: &'static str,
) -> Result<(), PolicyError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(PolicyError {
            field,
            min,
            max,
            extra,
        })
    }
}

impl LoginPolicy {
    /// Applies a patch and checks every field against its bounds.
    pub fn patched(self, patch: &PolicyPatch) -> Result<Self, PolicyError> {
        let policy = Self {
            code_ttl_seconds: patch.code_ttl_seconds.unwrap_or(self.code_ttl_seconds),
            resend_interval_seconds: patch
                .resend_interval_seconds
                .unwrap_or(self.resend_interval_seconds),
            max_failed_codes: patch.max_failed_codes.unwrap_or(self.max_failed_codes),
            max_failed_passwords: patch
                .max_failed_passwords
                .unwrap_or(self.max_failed_passwords),
            lock_seconds: patch.lock_seconds.unwrap_or(self.lock_seconds),
            code_length: patch.code_length.unwrap_or(self.code_length),
            session_ttl_seconds: patch
                .session_ttl_seconds
                .unwrap_or(self.session_ttl_seconds),
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every field against its bounds.
    pub fn validate(&self) -> Result<(), PolicyError> {
        within("code_ttl_seconds", self.code_ttl_seconds, 1, 3_600, "")?;
        within(
            "resend_interval_seconds",
            self.resend_interval_seconds,
            0,
            self.code_ttl_seconds.min(3_600),
            " (and at most code_ttl_seconds, or a user could be left with no valid code)",
        )?;
        within(
            "max_failed_codes",
            u64::from(self.max_failed_codes),
            1,
            20,
            "",
        )?;
        within(
            "max_failed_passwords",
            u64::from(self.max_failed_passwords),
            1,
            100,
            "",
        )?;
        within("lock_seconds", self.lock_seconds, 1, MAX_LOCK_SECONDS, "")?;
        within("code_length", u64::from(self.code_length), 6, 10, "")?;
        within(
            "session_ttl_seconds",
            self.session_ttl_seconds,
            60,
            30 * 24 * 3_600,
            "",
        )?;
        Ok(())
    }

    /// How long the `n`-th lock in a row lasts (n = 1 for the first):
    /// `lock_seconds · 2ⁿ⁻¹`, capped at 24 h.
    pub fn lock_duration(&self, lock_number: u32) -> u64 {
        let doublings = lock_number.saturating_sub(1).min(32);
        self.lock_seconds
            .saturating_mul(1u64 << doublings)
            .min(MAX_LOCK_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_product_notes() {
        let policy = LoginPolicy::default();
        assert_eq!(policy.code_ttl_seconds, 300);
        assert_eq!(policy.resend_interval_seconds, 60);
        assert_eq!(policy.max_failed_codes, 5);
        assert_eq!(policy.max_failed_passwords, 10);
        assert_eq!(policy.lock_seconds, 900);
        assert_eq!(policy.code_length, 6);
        assert_eq!(policy.session_ttl_seconds, 28_800);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn locks_double_and_cap_at_a_day() {
        let policy = LoginPolicy::default();
        assert_eq!(policy.lock_duration(1), 900);
        assert_eq!(policy.lock_duration(2), 1_800);
        assert_eq!(policy.lock_duration(3), 3_600);
        assert_eq!(policy.lock_duration(7), 57_600);
        assert_eq!(policy.lock_duration(8), 86_400);
        assert_eq!(policy.lock_duration(40), 86_400);
    }

    #[test]
    fn out_of_bounds_fields_are_refused_by_name() {
        let short_codes = PolicyPatch {
            code_length: Some(4),
            ..PolicyPatch::default()
        };
        let refused = LoginPolicy::default()
            .patched(&short_codes)
            .map_err(|e| e.field);
        assert_eq!(refused, Err("code_length"));
        let slow_resend = PolicyPatch {
            code_ttl_seconds: Some(30),
            ..PolicyPatch::default()
        };
        let refused = LoginPolicy::default()
            .patched(&slow_resend)
            .map_err(|e| e.field);
        assert_eq!(refused, Err("resend_interval_seconds"));
        let no_codes = PolicyPatch {
            max_failed_codes: Some(0),
            ..PolicyPatch::default()
        };
        assert_eq!(
            LoginPolicy::default()
                .patched(&no_codes)
                .map_err(|e| e.field),
            Err("max_failed_codes")
        );
    }

    #[test]
    fn a_patch_keeps_the_other_fields() {
        let patch = PolicyPatch {
            lock_seconds: Some(2),
            code_ttl_seconds: Some(5),
            resend_interval_seconds: Some(1),
            ..PolicyPatch::default()
        };
        let policy = LoginPolicy::default().patched(&patch);
        assert_eq!(
            policy,
            Ok(LoginPolicy {
                lock_seconds: 2,
                code_ttl_seconds: 5,
                resend_interval_seconds: 1,
                ..LoginPolicy::default()
            })
        );
    }
}
