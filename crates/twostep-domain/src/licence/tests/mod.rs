//! Given / when / then tests of the licence decider: names, the licence-wide
//! 2FA channel and policy, the user directory, and the standing it gives an
//! account to decide with.

use super::*;
use crate::identity::identifier_key;

mod properties;
mod standing;
mod two_factor;
mod users;

// ---------------------------------------------------------------- harness

struct Given {
    history: Vec<LicenceEvent>,
}

fn given(history: Vec<LicenceEvent>) -> Given {
    Given { history }
}

impl Given {
    fn state(&self) -> Licence {
        self.history
            .iter()
            .fold(Licence::default(), |state, event| state.evolve(event))
    }

    fn when(self, command: LicenceCommand) -> When {
        let outcome = self.state().decide(&command);
        When {
            given: self,
            outcome,
        }
    }
}

struct When {
    given: Given,
    outcome: Result<Vec<LicenceEvent>, LicenceRejection>,
}

impl When {
    #[track_caller]
    fn then(self, expected: Vec<LicenceEvent>) -> Given {
        assert_eq!(self.outcome, Ok(expected.clone()));
        let mut given = self.given;
        given.history.extend(expected);
        given
    }

    #[track_caller]
    fn then_rejected(self, expected: LicenceRejection) -> Given {
        assert_eq!(self.outcome, Err(expected));
        self.given
    }
}

// ---------------------------------------------------------------- fixtures

fn name(raw: &str) -> LicenceName {
    LicenceName::parse(raw).expect("a valid licence name")
}

fn login(raw: &str) -> Login {
    Login::parse(raw).expect("a valid login")
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).expect("a valid e-mail address")
}

fn mobile(raw: &str) -> MobileNumber {
    MobileNumber::parse(raw).expect("a valid mobile number")
}

fn acme() -> LicenceId {
    LicenceId::of("acme")
}

fn uid(login: &str) -> UserId {
    UserId::of(acme(), &identifier_key(login))
}

/// Version 1: ACME registered.
fn registered() -> Vec<LicenceEvent> {
    vec![LicenceEvent::LicenceRegistered {
        licence_id: acme(),
        name: "ACME".to_owned(),
    }]
}

fn user_created(login: &str, mobile_number: Option<&str>) -> LicenceEvent {
    LicenceEvent::UserCreated {
        user_id: uid(login),
        login: login.to_owned(),
        email: email(&format!("{}@example.com", login.to_lowercase())),
        mobile: mobile_number.map(mobile),
    }
}

fn create_user(raw_login: &str, mobile_number: Option<&str>) -> LicenceCommand {
    LicenceCommand::CreateUser {
        login: login(raw_login),
        email: email(&format!("{}@example.com", raw_login.trim().to_lowercase())),
        mobile: mobile_number.map(mobile),
    }
}

fn update(raw_login: &str) -> UpdateUser {
    UpdateUser {
        login: login(raw_login),
        email: None,
        mobile: None,
        active: None,
    }
}

/// Builder of an `UpdateUser` command.
struct UpdateUser {
    login: Login,
    email: Option<EmailAddress>,
    mobile: Option<Option<MobileNumber>>,
    active: Option<bool>,
}

impl UpdateUser {
    fn email(self, raw: &str) -> Self {
        Self {
            email: Some(email(raw)),
            ..self
        }
    }
    fn mobile(self, raw: Option<&str>) -> Self {
        Self {
            mobile: Some(raw.map(mobile)),
            ..self
        }
    }
    fn active(self, active: bool) -> Self {
        Self {
            active: Some(active),
            ..self
        }
    }
    fn command(self) -> LicenceCommand {
        LicenceCommand::UpdateUser {
            login: self.login,
            email: self.email,
            mobile: self.mobile,
            active: self.active,
        }
    }
}

fn enable(channel: Channel) -> LicenceCommand {
    LicenceCommand::EnableTwoFactor {
        channel,
        policy: PolicyPatch::default(),
    }
}

fn enable_with(channel: Channel, policy: PolicyPatch) -> LicenceCommand {
    LicenceCommand::EnableTwoFactor { channel, policy }
}

fn enabled(channel: Channel) -> LicenceEvent {
    LicenceEvent::TwoFactorEnabled {
        channel,
        policy: LoginPolicy::default(),
    }
}

fn contact_alert(version: u64, login: &str, caused_by: Vec<u64>) -> LicenceEvent {
    LicenceEvent::SecurityAlertRaised(SecurityAlert::new(
        acme().0,
        version,
        AlertKind::ContactChanged,
        uid(login),
        caused_by,
    ))
}

const ALICE_MOBILE: &str = "+32470123456";
const NEW_MOBILE: &str = "+32471987654";

/// Version 1 registered, 2 Alice (with a mobile number).
fn with_alice() -> Vec<LicenceEvent> {
    [
        registered(),
        vec![user_created("Alice", Some(ALICE_MOBILE))],
    ]
    .concat()
}

/// Versions 1 registered, 2 Alice, 3 SMS 2FA on.
fn sms_licence_with_alice() -> Vec<LicenceEvent> {
    [with_alice(), vec![enabled(Channel::Sms)]].concat()
}

// ---------------------------------------------------------------- names

#[test]
fn a_licence_is_registered_under_its_name() {
    given(vec![])
        .when(LicenceCommand::Register {
            name: name("  ACME "),
        })
        .then(vec![LicenceEvent::LicenceRegistered {
            licence_id: acme(),
            name: "ACME".to_owned(),
        }]);
}

#[test]
fn a_name_is_registered_once_whatever_its_spelling() {
    for spelling in ["ACME", " acme", "ＡＣＭＥ", "Acme\t"] {
        // Every spelling leads to the same stream…
        assert_eq!(LicenceId::of(name(spelling).key()), acme(), "{spelling:?}");
        // …where the registration is found.
        given(registered())
            .when(LicenceCommand::Register {
                name: name(spelling),
            })
            .then_rejected(LicenceRejection::AlreadyRegistered);
    }
}

#[test]
fn an_unregistered_licence_takes_no_command() {
    for command in [
        enable(Channel::Email),
        LicenceCommand::DisableTwoFactor,
        create_user("Alice", None),
        update("Alice").active(false).command(),
    ] {
        given(vec![])
            .when(command)
            .then_rejected(LicenceRejection::UnknownLicence);
    }
}
