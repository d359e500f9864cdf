//! The user directory: logins, contact details, "Manage users".

use super::*;

#[test]
fn a_user_is_created_with_the_login_as_given() {
    given(registered())
        .when(create_user(" Alice ", Some(ALICE_MOBILE)))
        .then(vec![user_created("Alice", Some(ALICE_MOBILE))]);
}

#[test]
fn a_login_is_taken_in_any_spelling() {
    for spelling in ["Alice", "alice", " ALICE ", "ａｌｉｃｅ"] {
        given(with_alice())
            .when(create_user(spelling, None))
            .then_rejected(LicenceRejection::LoginTaken);
    }
}

#[test]
fn an_sms_licence_refuses_a_user_without_a_mobile_number() {
    given(sms_licence_with_alice())
        .when(create_user("Bob", None))
        .then_rejected(LicenceRejection::MobileRequired);
    given(sms_licence_with_alice())
        .when(create_user("Bob", Some(NEW_MOBILE)))
        .then(vec![user_created("Bob", Some(NEW_MOBILE))]);
}

#[test]
fn an_email_change_is_recorded_with_a_contact_alert() {
    given(with_alice())
        .when(update("alice").email("alice@new.example.com").command())
        .then(vec![
            LicenceEvent::UserEmailChanged {
                user_id: uid("Alice"),
                email: email("alice@new.example.com"),
                previous: email("alice@example.com"),
            },
            contact_alert(4, "Alice", vec![3]),
        ]);
}

#[test]
fn one_alert_links_every_contact_change_of_an_update() {
    given(with_alice())
        .when(
            update("Alice")
                .email("alice@new.example.com")
                .mobile(Some(NEW_MOBILE))
                .active(false)
                .command(),
        )
        .then(vec![
            LicenceEvent::UserEmailChanged {
                user_id: uid("Alice"),
                email: email("alice@new.example.com"),
                previous: email("alice@example.com"),
            },
            LicenceEvent::UserMobileChanged {
                user_id: uid("Alice"),
                mobile: Some(mobile(NEW_MOBILE)),
                previous: Some(mobile(ALICE_MOBILE)),
            },
            LicenceEvent::UserDeactivated {
                user_id: uid("Alice"),
            },
            contact_alert(6, "Alice", vec![3, 4]),
        ]);
}

#[test]
fn the_same_details_again_change_nothing() {
    given(with_alice())
        .when(
            update("Alice")
                .email("alice@example.com")
                .mobile(Some(ALICE_MOBILE))
                .active(true)
                .command(),
        )
        .then(vec![]);
}

#[test]
fn removing_the_mobile_number_is_refused_while_sms_and_the_user_is_active() {
    given(sms_licence_with_alice())
        .when(update("Alice").mobile(None).command())
        .then_rejected(LicenceRejection::MobileRequired);
}

#[test]
fn removing_the_mobile_number_of_an_email_licence_user_is_allowed() {
    given(with_alice())
        .when(update("Alice").mobile(None).command())
        .then(vec![
            LicenceEvent::UserMobileChanged {
                user_id: uid("Alice"),
                mobile: None,
                previous: Some(mobile(ALICE_MOBILE)),
            },
            contact_alert(4, "Alice", vec![3]),
        ]);
}

#[test]
fn a_user_is_deactivated_and_reactivated() {
    given(with_alice())
        .when(update("Alice").active(false).command())
        .then(vec![LicenceEvent::UserDeactivated {
            user_id: uid("Alice"),
        }])
        .when(update("Alice").active(false).command())
        .then(vec![])
        .when(update("Alice").active(true).command())
        .then(vec![LicenceEvent::UserReactivated {
            user_id: uid("Alice"),
        }]);
}

#[test]
fn deactivating_and_removing_the_mobile_number_at_once_is_allowed_under_sms() {
    given(sms_licence_with_alice())
        .when(update("Alice").mobile(None).active(false).command())
        .then(vec![
            LicenceEvent::UserMobileChanged {
                user_id: uid("Alice"),
                mobile: None,
                previous: Some(mobile(ALICE_MOBILE)),
            },
            LicenceEvent::UserDeactivated {
                user_id: uid("Alice"),
            },
            contact_alert(6, "Alice", vec![4]),
        ]);
}

#[test]
fn reactivation_under_sms_needs_a_mobile_number() {
    // Versions: 1 registered, 2 Alice, 3 Bob (no mobile), 4 Bob deactivated, 5 SMS on.
    let history = [
        with_alice(),
        vec![
            user_created("Bob", None),
            LicenceEvent::UserDeactivated {
                user_id: uid("Bob"),
            },
            enabled(Channel::Sms),
        ],
    ]
    .concat();
    given(history.clone())
        .when(update("Bob").active(true).command())
        .then_rejected(LicenceRejection::MobileRequired);
    given(history)
        .when(
            update("Bob")
                .mobile(Some(NEW_MOBILE))
                .active(true)
                .command(),
        )
        .then(vec![
            LicenceEvent::UserMobileChanged {
                user_id: uid("Bob"),
                mobile: Some(mobile(NEW_MOBILE)),
                previous: None,
            },
            LicenceEvent::UserReactivated {
                user_id: uid("Bob"),
            },
            contact_alert(8, "Bob", vec![6]),
        ]);
}

#[test]
fn an_unknown_user_cannot_be_updated() {
    given(with_alice())
        .when(update("Bob").active(false).command())
        .then_rejected(LicenceRejection::UnknownUser);
}

#[test]
fn a_user_is_found_by_any_spelling_of_the_login() {
    let licence = given(with_alice()).state();
    for spelling in ["Alice", "alice", " ALICE ", "ａｌｉｃｅ"] {
        assert_eq!(
            licence
                .user_by_login(&login(spelling))
                .map(|user| user.user_id),
            Some(uid("Alice")),
            "{spelling:?}"
        );
    }
    assert_eq!(licence.user_by_login(&login("alicia")), None);
}
