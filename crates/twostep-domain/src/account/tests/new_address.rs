//! A right password from a client address never seen for the user, after a
//! lock: decided from the account stream (the address comes in as a keyed
//! digest with the command), remembered in a bounded set.

use super::*;
use crate::account::{AccountCommand, AccountEvent, LockCause};
use crate::alert::{AlertKind, REMEMBERED_ADDRESSES};
use crate::secret::Digest;

fn address(n: u8) -> Digest {
    Digest([n; 32])
}

fn seen(n: u8) -> AccountEvent {
    AccountEvent::ClientAddressSeen {
        address_digest: address(n),
    }
}

fn right_password_from(n: u8, step: u128) -> AccountCommand {
    AccountCommand::SubmitPassword {
        check: right_password(),
        fresh: fresh(step),
        client: Some(address(n)),
    }
}

fn lock_expired() -> AccountEvent {
    AccountEvent::LockExpired {
        locked_until: at(900),
    }
}

#[test]
fn a_right_password_from_a_new_address_after_a_lock_raises_an_alert() {
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(right_password_from(9, 1), at(1_000))
        .then(vec![
            lock_expired(),
            seen(9),
            alert(10, AlertKind::NewAddressAfterLock, vec![6, 9]),
            challenge_opened(1, 1_000, None),
            code_issued(1, 1_000, None),
        ]);
}

#[test]
fn a_known_address_after_a_lock_raises_nothing() {
    let mut history = with_password();
    history.push(seen(9));
    history.extend(wrong_passwords(3));
    history.push(locked(LockCause::Passwords, 1, 0, 900, None));
    history.push(alert(
        8,
        AlertKind::AccountLockedByPasswords,
        vec![4, 5, 6, 7],
    ));
    given(history)
        .on(under(standing_email(), three_strikes()))
        .when(right_password_from(9, 1), at(1_000))
        .then(vec![
            lock_expired(),
            challenge_opened(1, 1_000, None),
            code_issued(1, 1_000, None),
        ]);
}

#[test]
fn a_new_address_without_a_lock_is_remembered_quietly() {
    given(with_password())
        .when(right_password_from(9, 1), at(10))
        .then(vec![
            seen(9),
            challenge_opened(1, 10, None),
            code_issued(1, 10, None),
        ]);
}

#[test]
fn a_successful_login_ends_the_watch_for_new_addresses() {
    let mut history = locked_by_three_wrong_passwords();
    history.push(lock_expired());
    history.extend(code_sent(1, 1_000));
    history.push(code_accepted(1));
    history.push(session_started(
        1,
        1_010,
        Some(crate::contact::Channel::Email),
    ));
    given(history)
        .on(under(standing_email(), three_strikes()))
        .when(right_password_from(9, 2), at(2_000))
        .then(vec![
            seen(9),
            challenge_opened(2, 2_000, None),
            code_issued(2, 2_000, None),
        ]);
}

#[test]
fn a_wrong_password_from_a_new_address_is_not_remembered() {
    given(with_password())
        .when(
            AccountCommand::SubmitPassword {
                check: wrong_password(),
                fresh: fresh(1),
                client: Some(address(9)),
            },
            at(10),
        )
        .then(vec![wrong_password_rejected(1)]);
}

#[test]
fn only_the_latest_addresses_are_remembered() {
    let history: Vec<AccountEvent> = (0..=REMEMBERED_ADDRESSES as u8).map(seen).collect();
    let state = given(history).state();
    assert_eq!(state.seen_addresses.len(), REMEMBERED_ADDRESSES);
    assert_eq!(state.seen_addresses.first(), Some(&address(1)));
    assert_eq!(
        state.seen_addresses.last(),
        Some(&address(REMEMBERED_ADDRESSES as u8))
    );
}
