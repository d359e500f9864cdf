//! The user-facing use cases: access confirmation, password reminder, the
//! password step, the code step, sessions, and reporting unrequested codes.

use std::sync::Arc;

use serde::Serialize;
use twostep_domain::account::{
    AccountCommand, AccountRejection, CodeRefusal, MessagePurpose, NewToken, PasswordCheck,
    TokenPurpose,
};
use twostep_domain::identity::UNKNOWN_LICENCE_ATTEMPTS_STREAM;
use twostep_domain::{
    AccountEvent, AttemptEvent, Channel, LicenceName, Login, OneTimeCode, Password, Timestamp,
};
use uuid::Uuid;

use crate::context::{Actor, RequestContext};
use crate::crypto::{fresh_login, new_token};
use crate::error::AppError;
use crate::messages::CodeMessage;
use crate::service::{Outgoing, Twostep, now};
use crate::streams::ExecuteError;
use crate::tokens::{ChallengeHandle, SecretToken, TokenKind};

/// The code screen, as answered by the password step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeView {
    /// What the client sends back with the code.
    pub challenge_id: String,
    /// Channel of the code.
    pub channel: Channel,
    /// Masked destination.
    pub destination: String,
    /// When the code stops being accepted.
    pub code_expires_at: Timestamp,
    /// When entering the password again sends a new code.
    pub resend_available_at: Timestamp,
}

/// A started session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionGrant {
    /// The bearer token (shown once, stored only as a digest).
    pub session_token: String,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// What the password step did.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordStep {
    /// A new code was sent.
    CodeSent(ChallengeView),
    /// The latest code is still valid; nothing was sent.
    CodeAlreadySent(ChallengeView),
    /// No two-factor authentication: a session started.
    Authenticated(SessionGrant),
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionInfo {
    /// Licence name.
    pub licence: String,
    /// Login.
    pub login: String,
    /// User id.
    pub user_id: Uuid,
    /// When the session ends.
    pub expires_at: Timestamp,
}

/// Attempts at a password step whose hash changed during verification.
const PASSWORD_STEP_ATTEMPTS: usize = 3;

impl Twostep {
    /// The password step.
    pub async fn submit_password(
        &self,
        ctx: &RequestContext,
        licence: &str,
        login: &str,
        password: &str,
    ) -> Result<PasswordStep, AppError> {
        let outcome = self.password_step(ctx, licence, login, password).await;
        let counter = match &outcome {
            Ok(PasswordStep::CodeSent(_)) => &self.metrics.password_code_sent,
            Ok(PasswordStep::CodeAlreadySent(_)) => &self.metrics.password_code_already_sent,
            Ok(PasswordStep::Authenticated(_)) => &self.metrics.password_authenticated,
            Err(AppError::AccountLocked { .. }) => &self.metrics.password_locked,
            Err(AppError::RateLimited { .. }) => &self.metrics.password_overloaded,
            Err(_) => &self.metrics.password_invalid,
        };
        counter.inc();
        outcome
    }

    async fn password_step(
        &self,
        ctx: &RequestContext,
        raw_licence: &str,
        raw_login: &str,
        raw_password: &str,
    ) -> Result<PasswordStep, AppError> {
        // Over 1024 bytes can never be a password: refused before any hashing.
        let password = Password::candidate(raw_password).ok_or(AppError::InvalidCredentials)?;
        let licence_name = LicenceName::parse(raw_licence).ok();
        let login = Login::parse(raw_login).ok();
        let licence = match &licence_name {
            Some(name) => Some(self.licence_named(name).await?).filter(|l| l.exists()),
            None => None,
        };
        let user = match (&licence, &login) {
            (Some(licence), Some(login)) => licence.user_by_login(login).cloned(),
            _ => None,
        };
        let (Some(licence), Some(user)) = (licence.clone(), user) else {
            // Same cost as a known user: one argon2 verification and one durable append.
            self.hasher.verify(None, &password).await?;
            let licence_key = licence_name.as_ref().map_or("", |n| n.key());
            let login_key = login.as_ref().map_or("", |l| l.key());
            let event = AttemptEvent::UnknownLoginAttempted {
                licence_id: licence.as_ref().and_then(|l| l.id),
                identifier_digest: self.key.identifier_digest(licence_key, login_key),
            };
            let stream = match licence.as_ref().and_then(|l| l.id) {
                Some(id) => id.attempts_stream(),
                None => UNKNOWN_LICENCE_ATTEMPTS_STREAM.to_owned(),
            };
            self.streams
                .record(&stream, &event, &ctx.metadata(None))
                .await?;
            return Err(AppError::InvalidCredentials);
        };
        let standing = licence
            .standing(user.user_id)
            .ok_or(AppError::InvalidCredentials)?;
        let stream = user.user_id.stream();
        for _ in 0..PASSWORD_STEP_ATTEMPTS {
            let account = self.streams.load(&self.streams.accounts, &stream).await?;
            let against = account.account.password_hash.clone();
            let matched = self.hasher.verify(against.as_deref(), &password).await?;
            let check = PasswordCheck { against, matched };
            let fresh = fresh_login(user.user_id);
            let command = AccountCommand::SubmitPassword {
                check,
                fresh: fresh.fresh.clone(),
                client: ctx.client_ip.map(|ip| self.key.address_digest(ip)),
            };
            let done = self
                .decide_account(ctx, &standing, Some(account), &command, None)
                .await;
            let done = match done {
                Err(ExecuteError::Rejected(AccountRejection::StalePasswordCheck)) => continue,
                other => other?,
            };
            for event in &done.events {
                match event {
                    AccountEvent::PasswordRejected { .. } => {
                        return Err(AppError::InvalidCredentials);
                    }
                    AccountEvent::LoginRefusedWhileLocked { locked_until } => {
                        return Err(AppError::AccountLocked {
                            locked_until: *locked_until,
                        });
                    }
                    AccountEvent::SessionStarted { expires_at, .. } => {
                        let grant = SessionGrant {
                            session_token: fresh.session_token.encode(),
                            expires_at: *expires_at,
                        };
                        return Ok(PasswordStep::Authenticated(grant));
                    }
                    AccountEvent::ChallengeOpened {
                        challenge_id,
                        code_id,
                        code_reused,
                        resend_available_at,
                        ..
                    } => {
                        let code =
                            done.after.account.code(*code_id).cloned().ok_or_else(|| {
                                AppError::Internal("challenge without code".into())
                            })?;
                        let view = ChallengeView {
                            challenge_id: ChallengeHandle {
                                user: user.user_id,
                                challenge_id: *challenge_id,
                            }
                            .encode(&self.key),
                            channel: code.channel,
                            destination: code.destination.clone(),
                            code_expires_at: code.expires_at,
                            resend_available_at: *resend_available_at,
                        };
                        if *code_reused {
                            return Ok(PasswordStep::CodeAlreadySent(view));
                        }
                        let route = standing
                            .route
                            .as_ref()
                            .ok_or_else(|| AppError::Internal("code without route".into()))?;
                        let to = route.destination.as_deref().unwrap_or_default();
                        let digits = OneTimeCode::from_digits(
                            &fresh.fresh.code_digits,
                            standing.policy.code_length as usize,
                        );
                        let message = self.templates.code(&CodeMessage {
                            licence: &licence.name,
                            channel: code.channel,
                            to,
                            code: &digits,
                            ttl_seconds: standing.policy.code_ttl_seconds,
                            expires_at: code.expires_at,
                            report: &fresh.report_token,
                        });
                        let issued = done
                            .recorded
                            .iter()
                            .find(|r| r.event_type == "CodeIssued")
                            .map(|r| r.event_id);
                        let outgoing = Outgoing {
                            message,
                            purpose: MessagePurpose::Code,
                            reference: code.code_id,
                            channel: code.channel,
                            masked: code.destination.clone(),
                        };
                        let delivered = self.deliver(ctx, &standing, outgoing, issued).await;
                        return match delivered {
                            Ok(()) => Ok(PasswordStep::CodeSent(view)),
                            Err(_) => Err(AppError::DeliveryFailed(format!(
                                "the code could not be sent by {}; enter your password again to retry",
                                code.channel.as_str()
                            ))),
                        };
                    }
                    _ => {}
                }
            }
            return Err(AppError::Internal(
                "the password step decided nothing".into(),
            ));
        }
        Err(AppError::Busy)
    }

    /// The code step.
    pub async fn verify_code(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        code: &str,
    ) -> Result<SessionGrant, AppError> {
        let outcome = self.code_step(ctx, challenge_id, code).await;
        let counter = match &outcome {
            Ok(_) => &self.metrics.code_authenticated,
            Err(AppError::MalformedCode { .. }) => &self.metrics.code_malformed,
            Err(AppError::AccountLocked { .. }) => &self.metrics.code_locked,
            Err(_) => &self.metrics.code_invalid,
        };
        counter.inc();
        outcome
    }

    async fn code_step(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        code: &str,
    ) -> Result<SessionGrant, AppError> {
        let handle =
            ChallengeHandle::parse(challenge_id, &self.key).ok_or(AppError::InvalidCode)?;
        let Some((account, _, standing)) = self.account_and_standing(handle.user).await? else {
            return Err(AppError::InvalidCode);
        };
        let (session_token, session) = new_token(TokenKind::Session, handle.user);
        let command = AccountCommand::VerifyCode {
            challenge_id: handle.challenge_id,
            code: code.to_owned(),
            session,
        };
        let done = self
            .decide_account(ctx, &standing, Some(account), &command, None)
            .await?;
        for event in &done.events {
            match event {
                AccountEvent::SessionStarted { expires_at, .. } => {
                    return Ok(SessionGrant {
                        session_token: session_token.encode(),
                        expires_at: *expires_at,
                    });
                }
                AccountEvent::CodeRejected {
                    reason: CodeRefusal::AccountLocked,
                    ..
                } => {
                    let locked_until = done
                        .after
                        .account
                        .lock
                        .as_ref()
                        .map(|l| l.until)
                        .unwrap_or_else(now);
                    return Err(AppError::AccountLocked { locked_until });
                }
                _ => {}
            }
        }
        Err(AppError::InvalidCode)
    }

    /// Who holds a session token.
    pub async fn session(&self, token: &str) -> Result<SessionInfo, AppError> {
        let token =
            SecretToken::parse(TokenKind::Session, token).ok_or(AppError::Unauthenticated)?;
        let Some((account, licence, standing)) = self.account_and_standing(token.user()).await?
        else {
            return Err(AppError::Unauthenticated);
        };
        let session = account
            .account
            .live_session(token.id, &token.digest(), now(), standing.activation_epoch)
            .ok_or(AppError::Unauthenticated)?;
        let user = licence
            .user(token.user())
            .filter(|_| standing.active)
            .ok_or(AppError::Unauthenticated)?;
        Ok(SessionInfo {
            licence: licence.name.clone(),
            login: user.login.clone(),
            user_id: user.user_id.0,
            expires_at: session.expires_at,
        })
    }

    /// Logout.
    pub async fn end_session(&self, ctx: &RequestContext, token: &str) -> Result<(), AppError> {
        let token =
            SecretToken::parse(TokenKind::Session, token).ok_or(AppError::Unauthenticated)?;
        let Some((account, _, standing)) = self.account_and_standing(token.user()).await? else {
            return Err(AppError::Unauthenticated);
        };
        let command = AccountCommand::EndSession {
            session_id: token.id,
            digest: token.digest(),
        };
        let ctx = &ctx.as_actor(Actor::User(token.owner));
        self.decide_account(ctx, &standing, Some(account), &command, None)
            .await?;
        Ok(())
    }

    /// Sets the password with an access confirmation or reset token.
    pub async fn confirm_access(
        &self,
        ctx: &RequestContext,
        token: &str,
        password: &str,
    ) -> Result<(), AppError> {
        let token = SecretToken::parse(TokenKind::Password, token).ok_or(AppError::BadToken)?;
        let Some((account, licence, standing)) = self.account_and_standing(token.user()).await?
        else {
            return Err(AppError::BadToken);
        };
        let presented = NewToken {
            token_id: token.id,
            digest: token.digest(),
        };
        if account
            .account
            .usable_token(token.id, &presented.digest, now(), standing.email_epoch)
            .is_none()
            || !standing.active
        {
            return Err(AppError::BadToken);
        }
        let password = Password::parse(password).map_err(AppError::WeakPassword)?;
        let password_hash = self.hasher.hash(&password).await?;
        let command = AccountCommand::SetPassword {
            token: presented,
            password_hash,
        };
        let done = self
            .decide_account(ctx, &standing, Some(account), &command, None)
            .await?;
        let reset =
            done.events
                .iter()
                .zip(&done.recorded)
                .find_map(|(event, recorded)| match event {
                    AccountEvent::PasswordSet {
                        via: TokenPurpose::PasswordReset,
                        ..
                    } => Some(recorded.event_id),
                    _ => None,
                });
        if let (Some(caused_by), Some(user)) = (reset, licence.user(token.user())) {
            // Tell the address on file that its password changed (a reset
            // link in the wrong hands is an account takeover).
            let outgoing = Outgoing {
                message: self.templates.password_changed(
                    &licence.name,
                    &user.login,
                    user.email.as_str(),
                ),
                purpose: MessagePurpose::PasswordChangeNotice,
                reference: Uuid::nil(),
                channel: Channel::Email,
                masked: user.email.masked(),
            };
            let _ = self
                .deliver(ctx, &standing, outgoing, Some(caused_by))
                .await;
        }
        Ok(())
    }

    /// The password reminder. Answers at once, the same for every input; the
    /// work (if the login exists) happens in the background so that its
    /// duration reveals nothing either.
    pub fn password_reminder(self: &Arc<Self>, ctx: &RequestContext, licence: &str, login: &str) {
        let (app, ctx, licence, login) = (
            self.clone(),
            ctx.clone(),
            licence.to_owned(),
            login.to_owned(),
        );
        tokio::spawn(async move {
            if let Err(error) = app.send_password_reset(&ctx, &licence, &login).await {
                tracing::warn!(error = %error, "password reminder not sent");
            }
        });
    }

    async fn send_password_reset(
        &self,
        ctx: &RequestContext,
        licence: &str,
        login: &str,
    ) -> Result<(), AppError> {
        let (Ok(name), Ok(login)) = (LicenceName::parse(licence), Login::parse(login)) else {
            return Ok(());
        };
        let licence = self.licence_named(&name).await?;
        let Some(user) = licence.user_by_login(&login).cloned() else {
            return Ok(());
        };
        let Some(standing) = licence.standing(user.user_id) else {
            return Ok(());
        };
        let (token, new) = new_token(TokenKind::Password, user.user_id);
        let command = AccountCommand::RequestPasswordReset { token: new };
        let done = self
            .decide_account(ctx, &standing, None, &command, None)
            .await;
        let done = match done {
            Err(ExecuteError::Rejected(
                AccountRejection::ResetThrottled | AccountRejection::UserInactive,
            )) => {
                return Ok(());
            }
            other => other?,
        };
        let message =
            self.templates
                .password_reset(&licence.name, &user.login, user.email.as_str(), &token);
        let caused_by = done.recorded.first().map(|e| e.event_id);
        let outgoing = Outgoing {
            message,
            purpose: MessagePurpose::PasswordReset,
            reference: token.id,
            channel: Channel::Email,
            masked: user.email.masked(),
        };
        let _ = self.deliver(ctx, &standing, outgoing, caused_by).await;
        Ok(())
    }

    /// "I did not ask for this code". Unknown tokens are ignored (same answer).
    pub async fn report_unrequested_code(
        &self,
        ctx: &RequestContext,
        report: &str,
    ) -> Result<(), AppError> {
        let token = SecretToken::parse(TokenKind::Report, report).ok_or(AppError::BadToken)?;
        let Some((account, _, standing)) = self.account_and_standing(token.user()).await? else {
            return Ok(());
        };
        let command = AccountCommand::ReportUnrequestedCode {
            code_id: token.id,
            digest: token.digest(),
        };
        let done = self
            .decide_account(ctx, &standing, Some(account), &command, None)
            .await;
        match done {
            Ok(_) | Err(ExecuteError::Rejected(AccountRejection::UnknownReport)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}
