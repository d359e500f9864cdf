//! Properties over random sequences of login steps, time passing, delivery
//! failures, reports, destination changes, deactivations and operator
//! actions, checked against a model written from SPEC §1 rather than from
//! the decider's own state:
//!
//! 1. every accepted code is the latest code of the user, unexpired, never
//!    spent, not voided, on the open challenge, outside any lock — and such a
//!    code, when typed, is accepted;
//! 2. counted guesses never exceed the policy between two locks or resets of
//!    their counter; code guesses never count during a lock, wrong passwords
//!    do and lock again every `max_failed_passwords`; each event's counter
//!    says how many there were in a row;
//! 3. every alert links earlier events of the kind that caused it;
//! 4. folding is deterministic, also after a round trip through the stored form.

use proptest::prelude::*;

use super::walk::{Model, fold, policy, run, steps};
use super::*;
use crate::account::{AccountEvent, LockCause, MessagePurpose};
use crate::alert::{AlertKind, SecurityAlert};
use crate::codec;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Property 1: a spent, expired, superseded or voided code never
    /// authenticates, nor one on a closed challenge or during a lock; the
    /// right one does. (Checked step by step inside `Walk::play`.)
    #[test]
    fn only_the_latest_unexpired_unspent_code_on_the_open_challenge_authenticates(steps in steps()) {
        run(&steps)?;
    }

    /// Property 2: counted guesses between resets of their counter.
    #[test]
    fn counted_guesses_never_exceed_the_policy(steps in steps()) {
        let (walk, decided) = run(&steps)?;
        let policy = policy();
        let (mut codes, mut passwords) = (0u32, 0u32);
        let (mut codes_between_locks, mut passwords_between_locks) = (0u32, 0u32);
        let mut model = Model::default();
        for batch in &decided {
            for event in &batch.events {
                match event {
                    AccountEvent::CodeRejected { counted: true, failed_codes_in_a_row, .. } => {
                        prop_assert!(!model.locked_at(batch.now), "no guess counts during a lock");
                        codes += 1;
                        codes_between_locks += 1;
                        prop_assert_eq!(*failed_codes_in_a_row, codes);
                        prop_assert!(codes_between_locks <= policy.max_failed_codes);
                    }
                    AccountEvent::PasswordRejected { counted: true, failed_passwords_in_a_row, .. } => {
                        passwords += 1;
                        passwords_between_locks += 1;
                        prop_assert_eq!(*failed_passwords_in_a_row, passwords);
                        prop_assert!(passwords_between_locks <= policy.max_failed_passwords);
                    }
                    AccountEvent::AccountLocked { cause, .. } => {
                        match cause {
                            LockCause::Codes => prop_assert_eq!(codes, policy.max_failed_codes),
                            LockCause::Passwords => {
                                prop_assert!(passwords > 0 && passwords.is_multiple_of(policy.max_failed_passwords));
                            }
                        }
                        codes_between_locks = 0;
                        passwords_between_locks = 0;
                    }
                    // A right password ends a row of wrong passwords, never a row of wrong codes.
                    AccountEvent::ChallengeOpened { .. } | AccountEvent::LoginRefusedWhileLocked { .. } => {
                        passwords = 0;
                        passwords_between_locks = 0;
                    }
                    AccountEvent::CodeAccepted { .. }
                    | AccountEvent::SessionStarted { .. }
                    | AccountEvent::LockExpired { .. }
                    | AccountEvent::LockLifted { .. } => {
                        codes = 0;
                        passwords = 0;
                        codes_between_locks = 0;
                        passwords_between_locks = 0;
                    }
                    _ => {}
                }
                model.apply(event)?;
            }
        }
        prop_assert_eq!((walk.state.failed_codes, walk.state.failed_passwords), (codes, passwords));
    }

    /// Property 3: every alert links earlier events of the kind that caused it.
    #[test]
    fn every_alert_links_the_events_that_caused_it(steps in steps()) {
        let (walk, _) = run(&steps)?;
        let policy = policy();
        let at_version = |version: u64| walk.history.get(usize::try_from(version).unwrap_or(usize::MAX) - 1);
        for (index, event) in walk.history.iter().enumerate() {
            let AccountEvent::SecurityAlertRaised(alert) = event else { continue };
            let version = index as u64 + 1;
            let SecurityAlert { alert_id, kind, user_id, caused_by } = alert;
            prop_assert_eq!(*alert_id, SecurityAlert::new(user().0, version, *kind, user(), vec![]).alert_id);
            prop_assert_eq!(*user_id, user());
            prop_assert!(!caused_by.is_empty() && caused_by.iter().all(|cause| (1..version).contains(cause)));
            let causes: Vec<&AccountEvent> = caused_by.iter().filter_map(|cause| at_version(*cause)).collect();
            let (last, rest) = causes.split_last().ok_or_else(|| TestCaseError::fail("no cause"))?;
            match kind {
                AlertKind::AccountLockedByCodes => {
                    prop_assert!(matches!(last, AccountEvent::AccountLocked { cause: LockCause::Codes, .. }), "alert {kind:?} caused by {causes:?}");
                    prop_assert_eq!(rest.len(), policy.max_failed_codes as usize);
                    prop_assert!(rest.iter().all(|e| matches!(e, AccountEvent::CodeRejected { counted: true, .. })), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::AccountLockedByPasswords => {
                    prop_assert!(matches!(last, AccountEvent::AccountLocked { cause: LockCause::Passwords, .. }), "alert {kind:?} caused by {causes:?}");
                    prop_assert_eq!(rest.len(), policy.max_failed_passwords as usize);
                    prop_assert!(rest.iter().all(|e| matches!(e, AccountEvent::PasswordRejected { counted: true, .. })), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::WrongCodeAfterRightPassword => {
                    prop_assert!(rest.is_empty());
                    prop_assert!(matches!(last, AccountEvent::CodeRejected { counted: true, failed_codes_in_a_row: 1, .. }), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::RepeatedDeliveryFailures => {
                    prop_assert!(causes.iter().all(|e| matches!(e, AccountEvent::MessageDeliveryFailed { purpose: MessagePurpose::Code, .. })), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::UnrequestedCodeReported => {
                    prop_assert!(matches!(rest, [AccountEvent::CodeIssued { .. }]), "alert {kind:?} caused by {causes:?}");
                    prop_assert!(matches!(last, AccountEvent::UnrequestedCodeReported { .. }), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::NewAddressAfterLock => {
                    prop_assert!(matches!(rest, [AccountEvent::AccountLocked { .. }]), "alert {kind:?} caused by {causes:?}");
                    prop_assert!(matches!(last, AccountEvent::ClientAddressSeen { .. }), "alert {kind:?} caused by {causes:?}");
                }
                AlertKind::ContactChanged => prop_assert!(false, "contact alerts belong to the licence stream"),
            }
        }
    }

    /// Property 4: folding the same events twice gives equal states, equal to
    /// the state the decisions were taken on, also from the stored form.
    #[test]
    fn folding_is_deterministic(steps in steps()) {
        let (walk, _) = run(&steps)?;
        prop_assert_eq!(fold(&walk.history), fold(&walk.history));
        prop_assert_eq!(&fold(&walk.history), &walk.state);
        let mut stored = Vec::new();
        for event in &walk.history {
            let (event_type, data) = codec::encode(event).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back: AccountEvent =
                codec::decode(&event_type, codec::SCHEMA_VERSION, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
            stored.push(back);
        }
        prop_assert_eq!(&stored, &walk.history);
        prop_assert_eq!(fold(&stored), walk.state);
    }
}
