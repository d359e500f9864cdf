//! Request and response bodies of the v1 contract. Field names may grow,
//! never change. Timestamps are RFC 3339 UTC strings.

use serde::{Deserialize, Deserializer, Serialize};
use twostep_app::{
    ChallengeView, CreatedUser, LicenceView, LockLift, SessionGrant, SessionInfo, UserView,
};
use twostep_domain::{Channel, LoginPolicy, PolicyPatch, Timestamp};
use utoipa::ToSchema;
use uuid::Uuid;

/// The two-factor channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelDto {
    /// Text message to the user's mobile number.
    Sms,
    /// E-mail to the user's address.
    Email,
}

impl From<ChannelDto> for Channel {
    fn from(channel: ChannelDto) -> Self {
        match channel {
            ChannelDto::Sms => Channel::Sms,
            ChannelDto::Email => Channel::Email,
        }
    }
}

impl From<Channel> for ChannelDto {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Sms => ChannelDto::Sms,
            Channel::Email => ChannelDto::Email,
        }
    }
}

/// `POST /v1/licences`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterLicence {
    /// Unique name (compared after trimming, NFKC and case folding).
    pub name: String,
}

/// A licence's login policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyDto {
    /// Seconds a code stays valid (1–3600, default 300).
    pub code_ttl_seconds: Option<u64>,
    /// Seconds between two codes (0–code_ttl_seconds, default 60).
    pub resend_interval_seconds: Option<u64>,
    /// Wrong codes in a row that lock the account (1–20, default 5).
    pub max_failed_codes: Option<u32>,
    /// Wrong passwords in a row that lock the account (1–100, default 10).
    pub max_failed_passwords: Option<u32>,
    /// First lock's length in seconds, doubled for each following lock, capped at 24 h (1–86400, default 900).
    pub lock_seconds: Option<u64>,
    /// Digits in a code (6–10, default 6).
    pub code_length: Option<u32>,
    /// Session lifetime in seconds (60–2592000, default 28800).
    pub session_ttl_seconds: Option<u64>,
}

impl From<PolicyDto> for PolicyPatch {
    fn from(p: PolicyDto) -> Self {
        PolicyPatch {
            code_ttl_seconds: p.code_ttl_seconds,
            resend_interval_seconds: p.resend_interval_seconds,
            max_failed_codes: p.max_failed_codes,
            max_failed_passwords: p.max_failed_passwords,
            lock_seconds: p.lock_seconds,
            code_length: p.code_length,
            session_ttl_seconds: p.session_ttl_seconds,
        }
    }
}

impl From<LoginPolicy> for PolicyDto {
    fn from(p: LoginPolicy) -> Self {
        PolicyDto {
            code_ttl_seconds: Some(p.code_ttl_seconds),
            resend_interval_seconds: Some(p.resend_interval_seconds),
            max_failed_codes: Some(p.max_failed_codes),
            max_failed_passwords: Some(p.max_failed_passwords),
            lock_seconds: Some(p.lock_seconds),
            code_length: Some(p.code_length),
            session_ttl_seconds: Some(p.session_ttl_seconds),
        }
    }
}

/// `PUT /v1/licences/{licence}/two-factor`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorRequest {
    /// One channel for every user of the licence.
    pub channel: ChannelDto,
    /// Policy fields to change; the others keep their value.
    #[serde(default)]
    pub policy: Option<PolicyDto>,
}

/// A licence.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceDto {
    /// Its id (derived from the name).
    pub licence_id: Uuid,
    /// Its name as registered.
    pub name: String,
    /// Whether two-factor authentication is on.
    pub two_factor: bool,
    /// The channel, when it is on.
    pub channel: Option<ChannelDto>,
    /// The policy in force.
    pub policy: PolicyDto,
    /// Number of users.
    pub users: usize,
}

impl From<LicenceView> for LicenceDto {
    fn from(v: LicenceView) -> Self {
        Self {
            licence_id: v.licence_id,
            name: v.name,
            two_factor: v.two_factor,
            channel: v.channel.map(Into::into),
            policy: v.policy.into(),
            users: v.users,
        }
    }
}

/// `POST /v1/licences/{licence}/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Unique in the licence (compared after trimming, NFKC and case folding).
    pub login: String,
    /// Required; the access confirmation goes there.
    pub email: String,
    /// E.164 mobile number; required while the licence uses SMS.
    #[serde(default)]
    pub mobile: Option<String>,
}

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PUT /v1/licences/{licence}/users/{login}` ("Manage users"). Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// New E.164 mobile number; `null` removes it (refused while the licence uses SMS).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    /// `false` deactivates the user, `true` reactivates.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    /// Its id.
    pub user_id: Uuid,
    /// Login as given.
    pub login: String,
    /// E-mail address.
    pub email: String,
    /// Mobile number (E.164).
    pub mobile: Option<String>,
    /// Whether the user can log in.
    pub active: bool,
    /// On creation: `sent`, or `failed` (the user exists; a password reminder sends a new link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_confirmation: Option<String>,
}

impl From<UserView> for UserDto {
    fn from(v: UserView) -> Self {
        Self {
            user_id: v.user_id,
            login: v.login,
            email: v.email,
            mobile: v.mobile,
            active: v.active,
            access_confirmation: None,
        }
    }
}

impl From<CreatedUser> for UserDto {
    fn from(created: CreatedUser) -> Self {
        Self {
            access_confirmation: Some(created.access_confirmation.to_owned()),
            ..created.user.into()
        }
    }
}

/// `POST /v1/access/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmAccessRequest {
    /// The `token=` value of the access confirmation or password reset link.
    pub token: String,
    /// The new password: 8–256 characters, at most 1024 UTF-8 bytes.
    pub password: String,
}

/// `POST /v1/password/reminder`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRequest {
    /// Licence name.
    pub licence: String,
    /// Login.
    pub login: String,
}

/// `POST /v1/login/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordStepRequest {
    /// Licence name.
    pub licence: String,
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
}

/// Outcome of a password step.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordStepStatus {
    /// A new code was sent.
    CodeSent,
    /// The latest code is still valid; nothing was sent.
    CodeAlreadySent,
    /// No two-factor authentication on the licence: a session started.
    Authenticated,
}

/// The answer of a password step: either the code screen (`code_sent`,
/// `code_already_sent`) or a session (`authenticated`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordStepResponse {
    /// What happened.
    pub status: PasswordStepStatus,
    /// Send it back with the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// Channel of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelDto>,
    /// Masked destination of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// When the code stops being accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub code_expires_at: Option<Timestamp>,
    /// When entering the password again sends a new code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resend_available_at: Option<Timestamp>,
    /// The bearer token (only when `authenticated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// When the session ends (only when `authenticated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl PasswordStepResponse {
    /// The code screen.
    pub fn challenge(status: PasswordStepStatus, view: ChallengeView) -> Self {
        Self {
            status,
            challenge_id: Some(view.challenge_id),
            channel: Some(view.channel.into()),
            destination: Some(view.destination),
            code_expires_at: Some(view.code_expires_at),
            resend_available_at: Some(view.resend_available_at),
            session_token: None,
            expires_at: None,
        }
    }

    /// A session.
    pub fn session(grant: SessionGrant) -> Self {
        Self {
            status: PasswordStepStatus::Authenticated,
            challenge_id: None,
            channel: None,
            destination: None,
            code_expires_at: None,
            resend_available_at: None,
            session_token: Some(grant.session_token),
            expires_at: Some(grant.expires_at),
        }
    }
}

/// `POST /v1/login/code`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeStepRequest {
    /// From the password step.
    pub challenge_id: String,
    /// Exactly `code_length` ASCII digits (surrounding spaces are trimmed).
    pub code: String,
}

/// A started session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Always `authenticated`.
    pub status: PasswordStepStatus,
    /// The bearer token; shown once, stored only as a digest.
    pub session_token: String,
    /// When it ends.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

impl From<SessionGrant> for SessionResponse {
    fn from(grant: SessionGrant) -> Self {
        Self {
            status: PasswordStepStatus::Authenticated,
            session_token: grant.session_token,
            expires_at: grant.expires_at,
        }
    }
}

/// Who holds a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfoDto {
    /// Licence name.
    pub licence: String,
    /// Login.
    pub login: String,
    /// User id.
    pub user_id: Uuid,
    /// When the session ends.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

impl From<SessionInfo> for SessionInfoDto {
    fn from(s: SessionInfo) -> Self {
        Self {
            licence: s.licence,
            login: s.login,
            user_id: s.user_id,
            expires_at: s.expires_at,
        }
    }
}

/// `POST /v1/security/unrequested-code`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// The `report=` value of the link in the code's message.
    pub report_token: String,
}

/// An accepted request whose effect is not told.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: String,
}

impl Accepted {
    /// The body.
    pub fn new() -> Self {
        Self {
            status: "accepted".to_owned(),
        }
    }
}

impl Default for Accepted {
    fn default() -> Self {
        Self::new()
    }
}

/// A request that did what it asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// What was done (e.g. `password_set`, `two_factor_disabled`).
    pub status: String,
}

/// `DELETE /v1/licences/{licence}/users/{login}/lockout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftLockRequest {
    /// Why the lock is lifted (audited; 1–500 characters).
    pub reason: String,
}

/// What lifting a lock did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockLiftDto {
    /// Whether a lock was in force and is now lifted.
    pub lifted: bool,
    /// When the lifted lock would have ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<Timestamp>,
}

impl From<LockLift> for LockLiftDto {
    fn from(l: LockLift) -> Self {
        Self {
            lifted: l.lifted,
            locked_until: l.locked_until,
        }
    }
}

/// The JSON error shape of every non-2xx answer (more fields per error).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine code, e.g. `invalid_credentials`.
    pub error: String,
    /// Human text.
    pub message: String,
}
