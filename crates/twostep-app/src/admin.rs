//! Operator and licence-administrator use cases: licences, two-factor
//! settings, users ("Manage users") and lifting locks.

use serde::Serialize;
use twostep_domain::account::{AccountCommand, AccountRejection, MessagePurpose};
use twostep_domain::licence::{LicenceCommand, UserRecord};
use twostep_domain::{
    Channel, EmailAddress, Licence, LicenceEvent, LicenceId, LicenceName, Login, LoginPolicy,
    MobileNumber, PolicyPatch, Timestamp, UserId,
};
use uuid::Uuid;

use crate::context::RequestContext;
use crate::crypto::new_token;
use crate::error::AppError;
use crate::service::{Outgoing, Twostep};
use crate::tokens::TokenKind;

/// A licence as answered to operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenceView {
    /// Its id.
    pub licence_id: Uuid,
    /// Its name.
    pub name: String,
    /// Whether two-factor authentication is on.
    pub two_factor: bool,
    /// The channel, when it is on.
    pub channel: Option<Channel>,
    /// The policy in force.
    pub policy: LoginPolicy,
    /// Number of users.
    pub users: usize,
}

impl LicenceView {
    fn of(licence: &Licence) -> Self {
        Self {
            licence_id: licence.id.map(|id| id.0).unwrap_or_default(),
            name: licence.name.clone(),
            two_factor: licence.channel.is_some(),
            channel: licence.channel,
            policy: licence.policy,
            users: licence.users.len(),
        }
    }
}

/// A user as answered to operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    /// Its id.
    pub user_id: Uuid,
    /// Login as given.
    pub login: String,
    /// E-mail address.
    pub email: String,
    /// Mobile number, E.164.
    pub mobile: Option<String>,
    /// Whether the user can log in.
    pub active: bool,
}

impl UserView {
    fn of(user: &UserRecord) -> Self {
        Self {
            user_id: user.user_id.0,
            login: user.login.clone(),
            email: user.email.as_str().to_owned(),
            mobile: user.mobile.as_ref().map(|m| m.as_str().to_owned()),
            active: user.active,
        }
    }
}

/// A user creation, and whether the access e-mail left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedUser {
    /// The user.
    #[serde(flatten)]
    pub user: UserView,
    /// `sent`, or `failed` (the user exists; a password reminder sends a new link).
    pub access_confirmation: &'static str,
}

/// What lifting a lock did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockLift {
    /// Whether a lock was in force and is now lifted.
    pub lifted: bool,
    /// When the lifted lock would have ended.
    pub locked_until: Option<Timestamp>,
}

/// A change to a user ("Manage users"); `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New e-mail address.
    pub email: Option<String>,
    /// `Some(None)` removes the mobile number.
    pub mobile: Option<Option<String>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

fn field<T, E: std::fmt::Display>(name: &'static str, parsed: Result<T, E>) -> Result<T, AppError> {
    parsed.map_err(|e| AppError::InvalidField {
        field: name,
        message: e.to_string(),
    })
}

impl Twostep {
    /// Registers a licence.
    pub async fn register_licence(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<LicenceView, AppError> {
        let name = field("name", LicenceName::parse(name))?;
        let stream = LicenceId::of(name.key()).stream();
        let command = LicenceCommand::Register { name };
        let done = self
            .streams
            .execute(
                &self.streams.licences,
                &stream,
                &ctx.metadata(None),
                |licence| licence.decide(&command),
            )
            .await?;
        Ok(LicenceView::of(&done.after))
    }

    /// A licence's settings.
    pub async fn licence_view(&self, name: &str) -> Result<LicenceView, AppError> {
        Ok(LicenceView::of(&*self.existing_licence(name).await?))
    }

    /// Switches two-factor on, or changes its channel or policy.
    pub async fn enable_two_factor(
        &self,
        ctx: &RequestContext,
        licence: &str,
        channel: Channel,
        policy: PolicyPatch,
    ) -> Result<LicenceView, AppError> {
        let command = LicenceCommand::EnableTwoFactor { channel, policy };
        self.licence_command(ctx, licence, command).await
    }

    /// Switches two-factor off.
    pub async fn disable_two_factor(
        &self,
        ctx: &RequestContext,
        licence: &str,
    ) -> Result<LicenceView, AppError> {
        self.licence_command(ctx, licence, LicenceCommand::DisableTwoFactor)
            .await
    }

    async fn licence_command(
        &self,
        ctx: &RequestContext,
        licence: &str,
        command: LicenceCommand,
    ) -> Result<LicenceView, AppError> {
        let current = self.existing_licence(licence).await?;
        let stream = current.id.map(LicenceId::stream).unwrap_or_default();
        let done = self
            .streams
            .execute(
                &self.streams.licences,
                &stream,
                &ctx.metadata(None),
                |licence| licence.decide(&command),
            )
            .await?;
        Ok(LicenceView::of(&done.after))
    }

    /// A user of a licence.
    pub async fn user_view(&self, licence: &str, login: &str) -> Result<UserView, AppError> {
        let current = self.existing_licence(licence).await?;
        let login =
            Login::parse(login).map_err(|_| twostep_domain::LicenceRejection::UnknownUser)?;
        let user = current
            .user_by_login(&login)
            .ok_or(twostep_domain::LicenceRejection::UnknownUser)?;
        Ok(UserView::of(user))
    }

    /// Creates a user and sends the access confirmation e-mail.
    pub async fn create_user(
        &self,
        ctx: &RequestContext,
        licence: &str,
        login: &str,
        email: &str,
        mobile: Option<&str>,
    ) -> Result<CreatedUser, AppError> {
        let login = field("login", Login::parse(login))?;
        let email = field("email", EmailAddress::parse(email))?;
        let mobile = mobile
            .map(|m| field("mobile", MobileNumber::parse(m)))
            .transpose()?;
        let current = self.existing_licence(licence).await?;
        let stream = current.id.map(LicenceId::stream).unwrap_or_default();
        let command = LicenceCommand::CreateUser {
            login: login.clone(),
            email,
            mobile,
        };
        let done = self
            .streams
            .execute(
                &self.streams.licences,
                &stream,
                &ctx.metadata(None),
                |licence| licence.decide(&command),
            )
            .await?;
        let user = done
            .after
            .user_by_login(&login)
            .cloned()
            .ok_or_else(|| AppError::Internal("user vanished".into()))?;
        let caused_by = done.recorded.first().map(|e| e.event_id);
        let sent = self
            .send_access_confirmation(ctx, &done.after, &user, caused_by)
            .await?;
        Ok(CreatedUser {
            user: UserView::of(&user),
            access_confirmation: if sent { "sent" } else { "failed" },
        })
    }

    async fn send_access_confirmation(
        &self,
        ctx: &RequestContext,
        licence: &Licence,
        user: &UserRecord,
        caused_by: Option<Uuid>,
    ) -> Result<bool, AppError> {
        let standing = licence
            .standing(user.user_id)
            .ok_or_else(|| AppError::Internal("no standing".into()))?;
        let (token, new) = new_token(TokenKind::Password, user.user_id);
        let command = AccountCommand::IssueAccessConfirmation { token: new };
        let done = self
            .decide_account(ctx, &standing, None, &command, caused_by)
            .await?;
        let message = self.templates.access_confirmation(
            &licence.name,
            &user.login,
            user.email.as_str(),
            &token,
        );
        let caused_by = done.recorded.first().map(|e| e.event_id);
        let outgoing = Outgoing {
            message,
            purpose: MessagePurpose::AccessConfirmation,
            reference: token.id,
            channel: Channel::Email,
            masked: user.email.masked(),
        };
        let outcome = self.deliver(ctx, &standing, outgoing, caused_by).await;
        Ok(outcome.is_ok())
    }

    /// Changes a user's contact details or active flag; the old destination is told.
    pub async fn update_user(
        &self,
        ctx: &RequestContext,
        licence: &str,
        login: &str,
        change: UserChange,
    ) -> Result<UserView, AppError> {
        let email = change
            .email
            .as_deref()
            .map(|e| field("email", EmailAddress::parse(e)))
            .transpose()?;
        let mobile = match change.mobile {
            Some(Some(m)) => Some(Some(field("mobile", MobileNumber::parse(&m))?)),
            Some(None) => Some(None),
            None => None,
        };
        let current = self.existing_licence(licence).await?;
        let login =
            Login::parse(login).map_err(|_| twostep_domain::LicenceRejection::UnknownUser)?;
        let stream = current.id.map(LicenceId::stream).unwrap_or_default();
        let command = LicenceCommand::UpdateUser {
            login: login.clone(),
            email,
            mobile,
            active: change.active,
        };
        let done = self
            .streams
            .execute(
                &self.streams.licences,
                &stream,
                &ctx.metadata(None),
                |licence| licence.decide(&command),
            )
            .await?;
        let user = done
            .after
            .user_by_login(&login)
            .cloned()
            .ok_or(twostep_domain::LicenceRejection::UnknownUser)?;
        for (event, recorded) in done.events.iter().zip(&done.recorded) {
            let old = match event {
                LicenceEvent::UserEmailChanged { previous, .. } => Some((
                    Channel::Email,
                    previous.as_str().to_owned(),
                    previous.masked(),
                )),
                LicenceEvent::UserMobileChanged {
                    previous: Some(previous),
                    ..
                } => Some((
                    Channel::Sms,
                    previous.as_str().to_owned(),
                    previous.masked(),
                )),
                _ => None,
            };
            if let (Some((channel, to, masked)), Some(standing)) =
                (old, done.after.standing(user.user_id))
            {
                let message =
                    self.templates
                        .contact_changed(&done.after.name, &user.login, channel, &to);
                let outgoing = Outgoing {
                    message,
                    purpose: MessagePurpose::ContactChangeNotice,
                    reference: Uuid::nil(),
                    channel,
                    masked,
                };
                let _ = self
                    .deliver(ctx, &standing, outgoing, Some(recorded.event_id))
                    .await;
            }
        }
        Ok(UserView::of(&user))
    }

    /// Lifts a user's lock, with a reason.
    pub async fn lift_lock(
        &self,
        ctx: &RequestContext,
        licence: &str,
        login: &str,
        reason: &str,
    ) -> Result<LockLift, AppError> {
        let current = self.existing_licence(licence).await?;
        let login =
            Login::parse(login).map_err(|_| twostep_domain::LicenceRejection::UnknownUser)?;
        let user = current
            .user_by_login(&login)
            .ok_or(twostep_domain::LicenceRejection::UnknownUser)?;
        let standing = current
            .standing(user.user_id)
            .ok_or(twostep_domain::LicenceRejection::UnknownUser)?;
        let command = AccountCommand::LiftLock {
            reason: reason.to_owned(),
        };
        let done = self
            .decide_account(ctx, &standing, None, &command, None)
            .await;
        match done {
            Ok(done) => {
                let locked_until = done.events.iter().find_map(|e| match e {
                    twostep_domain::AccountEvent::LockLifted { locked_until, .. } => {
                        Some(*locked_until)
                    }
                    _ => None,
                });
                Ok(LockLift {
                    lifted: locked_until.is_some(),
                    locked_until,
                })
            }
            Err(crate::streams::ExecuteError::Rejected(AccountRejection::NotLocked)) => {
                Ok(LockLift {
                    lifted: false,
                    locked_until: None,
                })
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The user id of a login in a licence, whether or not it exists.
    pub fn user_id(licence: &str, login: &str) -> Option<UserId> {
        let licence = LicenceName::parse(licence).ok()?;
        let login = Login::parse(login).ok()?;
        Some(UserId::of(LicenceId::of(licence.key()), login.key()))
    }
}
