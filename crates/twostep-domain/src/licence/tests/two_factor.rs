//! Two-factor authentication: one channel for the whole licence, and its policy.

use crate::policy::PolicyError;

use super::*;

#[test]
fn two_factor_is_switched_on_for_the_whole_licence_on_one_channel() {
    given(with_alice())
        .when(enable(Channel::Email))
        .then(vec![enabled(Channel::Email)]);
}

#[test]
fn switching_to_sms_is_refused_listing_the_active_users_without_a_mobile_number() {
    let history = [
        with_alice(),
        vec![
            user_created("Bob", None),
            user_created("Carol", None),
            user_created("Dave", None),
            LicenceEvent::UserDeactivated {
                user_id: uid("Carol"),
            },
        ],
    ]
    .concat();
    let outcome = given(history).state().decide(&enable(Channel::Sms));
    let Err(LicenceRejection::MissingMobileNumbers(mut logins)) = outcome else {
        panic!("expected MissingMobileNumbers, got {outcome:?}");
    };
    logins.sort();
    assert_eq!(logins, vec!["Bob".to_owned(), "Dave".to_owned()]);
}

#[test]
fn inactive_users_without_a_mobile_number_do_not_block_sms() {
    let history = [
        with_alice(),
        vec![
            user_created("Carol", None),
            LicenceEvent::UserDeactivated {
                user_id: uid("Carol"),
            },
        ],
    ]
    .concat();
    given(history)
        .when(enable(Channel::Sms))
        .then(vec![enabled(Channel::Sms)]);
}

#[test]
fn a_policy_out_of_bounds_is_refused_naming_the_field() {
    let zero_ttl = PolicyPatch {
        code_ttl_seconds: Some(0),
        ..PolicyPatch::default()
    };
    given(with_alice())
        .when(enable_with(Channel::Email, zero_ttl))
        .then_rejected(LicenceRejection::InvalidPolicy(PolicyError {
            field: "code_ttl_seconds",
            min: 1,
            max: 3_600,
            extra: "",
        }));
    let long_codes = PolicyPatch {
        code_length: Some(11),
        ..PolicyPatch::default()
    };
    let refused = given(with_alice())
        .state()
        .decide(&enable_with(Channel::Email, long_codes));
    assert_eq!(
        refused.map_err(|rejection| rejection.to_string()),
        Err("code_length must be between 6 and 10".to_owned())
    );
}

#[test]
fn enabling_twice_with_the_same_settings_changes_nothing() {
    given(with_alice())
        .when(enable(Channel::Email))
        .then(vec![enabled(Channel::Email)])
        .when(enable(Channel::Email))
        .then(vec![]);
}

#[test]
fn a_policy_change_keeps_the_fields_it_does_not_name() {
    let short_locks = PolicyPatch {
        lock_seconds: Some(60),
        ..PolicyPatch::default()
    };
    let short_codes = PolicyPatch {
        code_ttl_seconds: Some(120),
        ..PolicyPatch::default()
    };
    given(with_alice())
        .when(enable_with(Channel::Email, short_locks))
        .then(vec![LicenceEvent::TwoFactorEnabled {
            channel: Channel::Email,
            policy: LoginPolicy {
                lock_seconds: 60,
                ..LoginPolicy::default()
            },
        }])
        .when(enable_with(Channel::Email, short_codes))
        .then(vec![LicenceEvent::TwoFactorEnabled {
            channel: Channel::Email,
            policy: LoginPolicy {
                lock_seconds: 60,
                code_ttl_seconds: 120,
                ..LoginPolicy::default()
            },
        }]);
}

#[test]
fn the_channel_is_switched_for_everyone() {
    given([with_alice(), vec![enabled(Channel::Email)]].concat())
        .when(enable(Channel::Sms))
        .then(vec![enabled(Channel::Sms)]);
}

#[test]
fn two_factor_is_switched_off_once() {
    given([with_alice(), vec![enabled(Channel::Email)]].concat())
        .when(LicenceCommand::DisableTwoFactor)
        .then(vec![LicenceEvent::TwoFactorDisabled {}])
        .when(LicenceCommand::DisableTwoFactor)
        .then(vec![]);
}
