//! The standing a licence gives an account: activity, policy and where codes go.

use super::*;

fn route_of(history: &[LicenceEvent], login: &str) -> Option<CodeRoute> {
    given(history.to_vec())
        .state()
        .standing(uid(login))
        .and_then(|standing| standing.route)
}

#[test]
fn the_standing_of_a_user_follows_the_licence() {
    let history = [with_alice(), vec![enabled(Channel::Email)]].concat();
    assert_eq!(
        given(history.clone()).state().standing(uid("Alice")),
        Some(Standing {
            licence_id: acme(),
            user_id: uid("Alice"),
            active: true,
            policy: LoginPolicy::default(),
            route: Some(CodeRoute {
                channel: Channel::Email,
                destination: Some("alice@example.com".to_owned()),
                masked: "a***@example.com".to_owned(),
                epoch: 3,
            }),
            email_epoch: 2,
            activation_epoch: 2,
        })
    );
    assert_eq!(route_of(&with_alice(), "Alice"), None, "no 2FA, no route");
    assert_eq!(given(history).state().standing(uid("Bob")), None);
    let deactivated = [
        with_alice(),
        vec![LicenceEvent::UserDeactivated {
            user_id: uid("Alice"),
        }],
    ]
    .concat();
    assert_eq!(
        given(deactivated)
            .state()
            .standing(uid("Alice"))
            .map(|standing| standing.active),
        Some(false)
    );
}

#[test]
fn the_route_epoch_changes_when_the_channel_switches() {
    let email = [with_alice(), vec![enabled(Channel::Email)]].concat();
    let sms = [email.clone(), vec![enabled(Channel::Sms)]].concat();
    assert_eq!(route_of(&email, "Alice").map(|route| route.epoch), Some(3));
    assert_eq!(
        route_of(&sms, "Alice"),
        Some(CodeRoute {
            channel: Channel::Sms,
            destination: Some(ALICE_MOBILE.to_owned()),
            masked: "+3247*****56".to_owned(),
            epoch: 4,
        })
    );
    let off_and_on = [
        email,
        vec![LicenceEvent::TwoFactorDisabled {}, enabled(Channel::Email)],
    ]
    .concat();
    assert_eq!(
        route_of(&off_and_on, "Alice").map(|route| route.epoch),
        Some(5)
    );
}

#[test]
fn the_route_epoch_changes_when_the_destination_on_the_channel_changes() {
    let email_changed = [
        with_alice(),
        vec![
            enabled(Channel::Email),
            LicenceEvent::UserEmailChanged {
                user_id: uid("Alice"),
                email: email("alice@new.example.com"),
                previous: email("alice@example.com"),
            },
        ],
    ]
    .concat();
    assert_eq!(
        route_of(&email_changed, "Alice").map(|route| (route.epoch, route.masked)),
        Some((4, "a***@new.example.com".to_owned()))
    );
}

#[test]
fn the_route_epoch_stays_when_the_other_channel_or_the_policy_changes() {
    let history = [
        with_alice(),
        vec![
            enabled(Channel::Email),
            LicenceEvent::UserMobileChanged {
                user_id: uid("Alice"),
                mobile: Some(mobile(NEW_MOBILE)),
                previous: Some(mobile(ALICE_MOBILE)),
            },
            LicenceEvent::TwoFactorEnabled {
                channel: Channel::Email,
                policy: LoginPolicy {
                    lock_seconds: 60,
                    ..LoginPolicy::default()
                },
            },
            LicenceEvent::UserDeactivated {
                user_id: uid("Alice"),
            },
            LicenceEvent::UserReactivated {
                user_id: uid("Alice"),
            },
        ],
    ]
    .concat();
    assert_eq!(
        route_of(&history, "Alice").map(|route| route.epoch),
        Some(3)
    );
}
