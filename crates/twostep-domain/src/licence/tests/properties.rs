//! Properties of the licence over random operator and "Manage users" commands.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Step {
    Create(usize, bool),
    Enable(bool),
    Disable,
    SetMobile(usize, bool),
    SetActive(usize, bool),
    SetEmail(usize, u8),
}

const LOGINS: [&str; 4] = ["Alice", "bob", "ＣＡＲＯＬ", " dave "];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..LOGINS.len(), any::<bool>())
            .prop_map(|(who, with_mobile)| Step::Create(who, with_mobile)),
        any::<bool>().prop_map(Step::Enable),
        Just(Step::Disable),
        (0..LOGINS.len(), any::<bool>())
            .prop_map(|(who, with_mobile)| Step::SetMobile(who, with_mobile)),
        (0..LOGINS.len(), any::<bool>()).prop_map(|(who, active)| Step::SetActive(who, active)),
        (0..LOGINS.len(), 0u8..3).prop_map(|(who, n)| Step::SetEmail(who, n)),
    ]
}

fn command(step: &Step) -> LicenceCommand {
    let mobile_of = |with: bool| with.then(|| mobile(ALICE_MOBILE));
    match step {
        Step::Create(who, with_mobile) => LicenceCommand::CreateUser {
            login: login(LOGINS[*who]),
            email: email("someone@example.com"),
            mobile: mobile_of(*with_mobile),
        },
        Step::Enable(sms) => enable(if *sms { Channel::Sms } else { Channel::Email }),
        Step::Disable => LicenceCommand::DisableTwoFactor,
        Step::SetMobile(who, with_mobile) => UpdateUser {
            mobile: Some(mobile_of(*with_mobile)),
            ..update(LOGINS[*who])
        }
        .command(),
        Step::SetActive(who, active) => update(LOGINS[*who]).active(*active).command(),
        Step::SetEmail(who, n) => update(LOGINS[*who])
            .email(&format!("someone{n}@example.com"))
            .command(),
    }
}

proptest! {
    /// While a licence uses SMS, every active user has a mobile number,
    /// whatever the order of operator and "Manage users" commands; and folding
    /// the same events twice gives the same licence.
    #[test]
    fn under_sms_every_active_user_has_a_mobile_number(steps in proptest::collection::vec(step(), 0..40)) {
        let mut history = registered();
        let mut licence = given(history.clone()).state();
        for step in &steps {
            if let Ok(events) = licence.decide(&command(step)) {
                for event in events {
                    licence = licence.evolve(&event);
                    history.push(event);
                }
            }
            if licence.channel == Some(Channel::Sms) {
                prop_assert!(licence.users.values().all(|user| !user.active || user.mobile.is_some()), "{licence:?}");
            }
            prop_assert_eq!(licence.version, history.len() as u64);
        }
        prop_assert_eq!(given(history.clone()).state(), given(history).state());
    }
}
