//! The application service: one object holding the store, keys, hasher and
//! courier, with one method per use case (in `admin.rs` and `login.rs`).

use std::sync::Arc;

use time::OffsetDateTime;
use twostep_delivery::Courier;
use twostep_domain::account::{AccountCommand, AccountRejection, MessagePurpose};
use twostep_domain::licence::Standing;
use twostep_domain::{Channel, Licence, LicenceId, LicenceName, Timestamp};
use twostep_store::EventStore;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::crypto::ServiceKey;
use crate::error::AppError;
use crate::messages::Templates;
use crate::metrics::Metrics;
use crate::passwords::PasswordHasher;
use crate::streams::{AccountStream, ExecuteError, Executed, Streams};

/// A message on its way out and what to record about it.
pub(crate) struct Outgoing {
    /// The message (carries secrets: never logged).
    pub message: twostep_delivery::Message,
    /// What it carries.
    pub purpose: MessagePurpose,
    /// Code id or token id it carries.
    pub reference: Uuid,
    /// Channel used.
    pub channel: Channel,
    /// Masked destination, for the event.
    pub masked: String,
}

/// Settings of the application service.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base of the links in messages (the application's public URL).
    pub public_url: String,
    /// argon2id hashes run at once (default: the number of cores).
    pub hash_concurrency: usize,
    /// Hashes queued or running before password steps answer `rate_limited`.
    pub hash_queue: usize,
}

/// The twostep application.
pub struct Twostep {
    pub(crate) streams: Streams,
    pub(crate) key: ServiceKey,
    pub(crate) hasher: PasswordHasher,
    pub(crate) courier: Arc<dyn Courier>,
    pub(crate) templates: Templates,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// The current instant; the only clock read of the application.
pub(crate) fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

impl Twostep {
    /// Wires the application.
    pub fn new(
        store: Arc<dyn EventStore>,
        courier: Arc<dyn Courier>,
        secret: &[u8],
        config: &AppConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            streams: Streams::new(store, metrics.clone()),
            key: ServiceKey::new(secret),
            hasher: PasswordHasher::new(config.hash_concurrency, config.hash_queue)?,
            courier,
            templates: Templates::new(&config.public_url),
            metrics,
        })
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        self.streams.store()
    }

    /// A licence by name; the state is empty (not `exists()`) if nobody registered it.
    pub(crate) async fn licence_named(&self, name: &LicenceName) -> Result<Arc<Licence>, AppError> {
        self.licence(LicenceId::of(name.key())).await
    }

    /// A licence by id.
    pub(crate) async fn licence(&self, id: LicenceId) -> Result<Arc<Licence>, AppError> {
        Ok(self
            .streams
            .load(&self.streams.licences, &id.stream())
            .await?)
    }

    /// A registered licence by raw name, or `UnknownLicence`.
    pub(crate) async fn existing_licence(&self, raw_name: &str) -> Result<Arc<Licence>, AppError> {
        let name = LicenceName::parse(raw_name)
            .map_err(|_| twostep_domain::LicenceRejection::UnknownLicence)?;
        let licence = self.licence_named(&name).await?;
        if licence.exists() {
            Ok(licence)
        } else {
            Err(twostep_domain::LicenceRejection::UnknownLicence.into())
        }
    }

    /// An account stream and the standing of its user, if the account belongs to a known user.
    pub(crate) async fn account_and_standing(
        &self,
        user: twostep_domain::UserId,
    ) -> Result<Option<(Arc<AccountStream>, Arc<Licence>, Standing)>, AppError> {
        let account = self
            .streams
            .load(&self.streams.accounts, &user.stream())
            .await?;
        let Some(licence_id) = account.licence_id else {
            return Ok(None);
        };
        let licence = self.licence(licence_id).await?;
        Ok(licence
            .standing(user)
            .map(|standing| (account, licence, standing)))
    }

    /// Decides `command` on the account of `standing`'s user and appends the
    /// outcome; `loaded` is the account if the caller has just loaded it.
    pub(crate) async fn decide_account(
        &self,
        ctx: &RequestContext,
        standing: &Standing,
        loaded: Option<Arc<AccountStream>>,
        command: &AccountCommand,
        caused_by: Option<Uuid>,
    ) -> Result<Executed<AccountStream>, ExecuteError<AccountRejection>> {
        let stream = standing.user_id.stream();
        let metadata = ctx.metadata(caused_by);
        self.streams
            .execute_from(
                &self.streams.accounts,
                &stream,
                loaded,
                &metadata,
                |account| account.account.decide(standing, command, now(), &self.key),
            )
            .await
    }

    /// Sends a message and records the outcome on the user's account stream.
    /// Returns the delivery error text, if it failed.
    pub(crate) async fn deliver(
        &self,
        ctx: &RequestContext,
        standing: &Standing,
        outgoing: Outgoing,
        caused_by: Option<Uuid>,
    ) -> Result<(), String> {
        let Outgoing {
            message,
            purpose,
            reference,
            channel,
            masked,
        } = outgoing;
        let outcome = self
            .courier
            .deliver(&message)
            .await
            .map_err(|e| e.to_string());
        match &outcome {
            Ok(()) => self.metrics.deliveries_ok.inc(),
            Err(error) => {
                self.metrics.deliveries_failed.inc();
                tracing::warn!(user_id = %standing.user_id, ?purpose, channel = channel.as_str(), error = %error, "message delivery failed");
            }
        }
        let command = AccountCommand::RecordDelivery {
            purpose,
            reference,
            channel,
            destination: masked,
            outcome: outcome.clone(),
        };
        let recorded = self
            .decide_account(ctx, standing, None, &command, caused_by)
            .await;
        if let Err(error) = recorded {
            let error: AppError = error.into();
            tracing::error!(user_id = %standing.user_id, error = %error, "could not record a delivery outcome");
        }
        outcome
    }
}

impl From<AccountRejection> for AppError {
    fn from(rejection: AccountRejection) -> Self {
        match rejection {
            AccountRejection::MalformedCode(length) => AppError::MalformedCode { length },
            AccountRejection::InvalidToken | AccountRejection::UserInactive => AppError::BadToken,
            AccountRejection::SessionNotFound => AppError::Unauthenticated,
            AccountRejection::InvalidReason => AppError::InvalidField {
                field: "reason",
                message: format!(
                    "must be 1 to {} characters",
                    twostep_domain::account::MAX_REASON_CHARS
                ),
            },
            AccountRejection::NoCodeDestination => AppError::DeliveryFailed(rejection.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}
