//! The `active_codes` read model: the latest code of a user, made unusable
//! by its own stream and by changes of where codes go — never the code.

mod support;

use std::sync::Arc;

use support::{WRONG_CODE, World, at, types};
use twostep_domain::{Channel, PolicyPatch, UserId};
use twostep_projections::{ActiveCodeView, ReadModels};

const MOBILE: &str = "+32470123456";

async fn licence_with_alice(channel: Channel) -> (World, UserId) {
    let mut world = World::new().await;
    world.register("acme").await;
    world.enable("acme", channel, PolicyPatch::default()).await;
    let alice = world
        .create_user("acme", "alice", "alice@example.com", Some(MOBILE))
        .await;
    (world, alice)
}

async fn projected(world: &World) -> Arc<ReadModels> {
    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");
    models
}

/// Code sent at `T0`, so it expires at `T0 + 300`.
fn issued_at_t0(world: &World, channel: Channel, active: bool) -> ActiveCodeView {
    ActiveCodeView {
        active,
        code_id: Some(world.latest_code("acme", "alice")),
        issued_at: Some(at(0)),
        expires_at: Some(at(300)),
        channel: Some(channel),
    }
}

async fn view(world: &World, alice: UserId, seconds: u64) -> ActiveCodeView {
    let models = projected(world).await;
    models
        .active_code(alice, at(seconds))
        .await
        .expect("active code")
}

#[tokio::test]
async fn no_code_was_ever_issued() {
    let (world, alice) = licence_with_alice(Channel::Email).await;
    let none = ActiveCodeView {
        active: false,
        code_id: None,
        issued_at: None,
        expires_at: None,
        channel: None,
    };
    assert_eq!(view(&world, alice, 0).await, none);
}

#[tokio::test]
async fn the_latest_code_is_active_until_it_expires() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    assert_eq!(
        view(&world, alice, 299).await,
        issued_at_t0(&world, Channel::Email, true)
    );
    assert_eq!(
        view(&world, alice, 300).await,
        issued_at_t0(&world, Channel::Email, false)
    );
}

#[tokio::test]
async fn a_wrong_code_leaves_it_active_and_the_right_one_spends_it() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    world.code("acme", "alice", WRONG_CODE, at(10)).await;
    assert_eq!(
        view(&world, alice, 20).await,
        issued_at_t0(&world, Channel::Email, true)
    );
    world.password("acme", "alice", true, at(20)).await;
    let code = world.right_code("acme", "alice");
    world.code("acme", "alice", &code, at(30)).await;
    assert_eq!(
        view(&world, alice, 40).await,
        issued_at_t0(&world, Channel::Email, false)
    );
}

#[tokio::test]
async fn a_newer_code_replaces_the_latest() {
    let (mut world, alice) = licence_with_alice(Channel::Sms).await;
    world.password("acme", "alice", true, at(0)).await;
    let first = world.latest_code("acme", "alice");
    world.password("acme", "alice", true, at(100)).await;
    let second = world.latest_code("acme", "alice");
    assert_ne!(first, second);
    let expected = ActiveCodeView {
        active: true,
        code_id: Some(second),
        issued_at: Some(at(100)),
        expires_at: Some(at(400)),
        channel: Some(Channel::Sms),
    };
    assert_eq!(view(&world, alice, 150).await, expected);
}

#[tokio::test]
async fn an_email_change_voids_the_code_on_an_email_licence_but_a_mobile_change_does_not() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    let changed = world
        .update_user("acme", "alice", None, Some(Some("+32470999888")))
        .await;
    assert_eq!(
        types(&changed),
        ["UserMobileChanged", "SecurityAlertRaised"]
    );
    assert_eq!(
        view(&world, alice, 10).await,
        issued_at_t0(&world, Channel::Email, true)
    );

    let changed = world
        .update_user("acme", "alice", Some("alice@elsewhere.example"), None)
        .await;
    assert_eq!(types(&changed), ["UserEmailChanged", "SecurityAlertRaised"]);
    assert_eq!(
        view(&world, alice, 10).await,
        issued_at_t0(&world, Channel::Email, false)
    );
}

#[tokio::test]
async fn a_mobile_change_voids_the_code_on_an_sms_licence_but_an_email_change_does_not() {
    let (mut world, alice) = licence_with_alice(Channel::Sms).await;
    world.password("acme", "alice", true, at(0)).await;
    world
        .update_user("acme", "alice", Some("alice@elsewhere.example"), None)
        .await;
    assert_eq!(
        view(&world, alice, 10).await,
        issued_at_t0(&world, Channel::Sms, true)
    );
    world
        .update_user("acme", "alice", None, Some(Some("+32470999888")))
        .await;
    assert_eq!(
        view(&world, alice, 10).await,
        issued_at_t0(&world, Channel::Sms, false)
    );
}

#[tokio::test]
async fn a_channel_switch_voids_every_code_of_the_licence_but_a_policy_change_does_not() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world
        .create_user("acme", "bob", "bob@example.com", Some("+32470123457"))
        .await;
    let bob = World::user_id("acme", "bob");
    world.password("acme", "alice", true, at(0)).await;
    world.password("acme", "bob", true, at(0)).await;
    let longer_sessions = PolicyPatch {
        session_ttl_seconds: Some(3_600),
        ..PolicyPatch::default()
    };
    world.enable("acme", Channel::Email, longer_sessions).await;
    let models = projected(&world).await;
    assert!(
        models
            .active_code(alice, at(10))
            .await
            .expect("active code")
            .active
    );
    assert!(
        models
            .active_code(bob, at(10))
            .await
            .expect("active code")
            .active
    );

    world
        .enable("acme", Channel::Sms, PolicyPatch::default())
        .await;
    models.catch_up(&world.store).await.expect("catch up");
    assert!(
        !models
            .active_code(alice, at(10))
            .await
            .expect("active code")
            .active
    );
    assert!(
        !models
            .active_code(bob, at(10))
            .await
            .expect("active code")
            .active
    );
}

#[tokio::test]
async fn switching_two_factor_off_voids_the_code() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    world
        .licence("acme", twostep_domain::LicenceCommand::DisableTwoFactor)
        .await;
    assert_eq!(
        view(&world, alice, 10).await,
        issued_at_t0(&world, Channel::Email, false)
    );
}

#[tokio::test]
async fn a_new_password_a_report_or_a_failed_delivery_voids_the_code() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    let reset = world.reset_password("acme", "alice", at(10)).await;
    assert_eq!(types(&reset), ["PasswordResetRequested", "PasswordSet"]);
    assert_eq!(
        view(&world, alice, 20).await,
        issued_at_t0(&world, Channel::Email, false)
    );

    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    world.report_latest_code("acme", "alice", at(10)).await;
    assert_eq!(
        view(&world, alice, 20).await,
        issued_at_t0(&world, Channel::Email, false)
    );

    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    world.code_delivery("acme", "alice", true, at(1)).await;
    assert_eq!(
        view(&world, alice, 20).await,
        issued_at_t0(&world, Channel::Email, true)
    );
    world.code_delivery("acme", "alice", false, at(2)).await;
    assert_eq!(
        view(&world, alice, 20).await,
        issued_at_t0(&world, Channel::Email, false)
    );
}

#[tokio::test]
async fn the_read_model_file_holds_no_code_digest() {
    let (mut world, alice) = licence_with_alice(Channel::Email).await;
    world.password("acme", "alice", true, at(0)).await;
    let code_id = world.latest_code("acme", "alice");
    let code = world.right_code("acme", "alice");
    let digest = twostep_domain::CodeKey::digest(
        &support::TestKey,
        alice,
        code_id,
        &twostep_domain::OneTimeCode::from_digits(
            &code.bytes().map(|b| b - b'0').collect::<Vec<_>>(),
            6,
        ),
    );
    let models = projected(&world).await;
    drop(models);
    let mut bytes = std::fs::read(world.path("readmodels.sqlite3")).expect("the file");
    bytes.extend(std::fs::read(world.path("readmodels.sqlite3-wal")).unwrap_or_default());
    let hex = digest.to_hex();
    assert!(
        !bytes.windows(32).any(|w| w == digest.0),
        "raw digest found"
    );
    assert!(
        !bytes.windows(hex.len()).any(|w| w == hex.as_bytes()),
        "hex digest found"
    );
    assert!(
        !bytes.windows(6).any(|w| w == code.as_bytes()),
        "code found"
    );
}
