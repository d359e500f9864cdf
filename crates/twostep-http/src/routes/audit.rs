//! Read-model endpoints for auditors and operators: login history, lockout
//! status, active code (never the code), security alerts.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use twostep_app::{AppError, Twostep};
use twostep_domain::{LicenceId, LicenceName, Timestamp, UserId};
use twostep_projections::{
    ActiveCodeView, AlertView, HistoryEntry, HistoryQuery, LockoutView, ProjectionError,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dto::ChannelDto;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auditor};
use crate::state::AppState;

/// Largest page of the login history.
const MAX_PAGE: usize = 1_000;

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        AppError::Internal(format!("read model: {error}")).into()
    }
}

fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

fn timestamp(field: &'static str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| {
        Timestamp::parse(t).ok_or_else(|| {
            AppError::InvalidField {
                field,
                message: "must be an RFC 3339 timestamp, e.g. 2026-12-03T10:00:00Z".into(),
            }
            .into()
        })
    })
    .transpose()
}

async fn licence_id(state: &AppState, licence: &str) -> Result<LicenceId, ApiError> {
    state.0.app.licence_view(licence).await?;
    let name = LicenceName::parse(licence)
        .map_err(|_| AppError::Licence(twostep_domain::LicenceRejection::UnknownLicence))?;
    Ok(LicenceId::of(name.key()))
}

async fn user_id(state: &AppState, licence: &str, login: &str) -> Result<UserId, ApiError> {
    let user = state.0.app.user_view(licence, login).await?;
    Ok(UserId(user.user_id))
}

/// Lockout status of a user (read model).
#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutDto {
    /// Whether a lock is in force now.
    pub locked: bool,
    /// When it ends.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<Timestamp>,
    /// `codes` or `passwords`.
    pub lock_cause: Option<String>,
    /// Wrong codes in a row.
    pub failed_codes_in_a_row: u32,
    /// Wrong passwords in a row.
    pub failed_passwords_in_a_row: u32,
}

impl From<LockoutView> for LockoutDto {
    fn from(v: LockoutView) -> Self {
        Self {
            locked: v.locked,
            locked_until: v.locked_until,
            lock_cause: v.lock_cause,
            failed_codes_in_a_row: v.failed_codes_in_a_row,
            failed_passwords_in_a_row: v.failed_passwords_in_a_row,
        }
    }
}

/// The lockout read model of a user.
#[utoipa::path(get, path = "/v1/licences/{licence}/users/{login}/lockout", tag = "audit", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "Lockout status", body = LockoutDto),
        (status = 404, description = "`unknown_licence` or `unknown_user`", body = crate::dto::ErrorBody),
    ))]
pub async fn lockout(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath((licence, login)): ApiPath<(String, String)>,
) -> Result<Json<LockoutDto>, ApiError> {
    let user = user_id(&state, &licence, &login).await?;
    Ok(Json(state.0.read_models.lockout(user, now()).await?.into()))
}

/// The active code of a user (never the code itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveCodeDto {
    /// Whether a code would be accepted now.
    pub active: bool,
    /// The latest code's id.
    pub code_id: Option<Uuid>,
    /// When it was issued.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub issued_at: Option<Timestamp>,
    /// When it expires.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Where it was sent.
    pub channel: Option<ChannelDto>,
}

impl From<ActiveCodeView> for ActiveCodeDto {
    fn from(v: ActiveCodeView) -> Self {
        Self {
            active: v.active,
            code_id: v.code_id,
            issued_at: v.issued_at,
            expires_at: v.expires_at,
            channel: v.channel.map(Into::into),
        }
    }
}

/// The active-code read model of a user.
#[utoipa::path(get, path = "/v1/licences/{licence}/users/{login}/active-code", tag = "audit", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "Active code", body = ActiveCodeDto),
        (status = 404, description = "`unknown_licence` or `unknown_user`", body = crate::dto::ErrorBody),
    ))]
pub async fn active_code(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath((licence, login)): ApiPath<(String, String)>,
) -> Result<Json<ActiveCodeDto>, ApiError> {
    let user = user_id(&state, &licence, &login).await?;
    Ok(Json(
        state.0.read_models.active_code(user, now()).await?.into(),
    ))
}

/// Filters of the login history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only this login (any spelling).
    pub login: Option<String>,
    /// From this instant (inclusive, RFC 3339).
    pub from: Option<String>,
    /// Until this instant (exclusive, RFC 3339).
    pub to: Option<String>,
    /// Only this outcome (e.g. `invalid_credentials`, `code_sent`, `invalid_code`, `authenticated`, `locked`).
    pub outcome: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
    /// Cursor: `next_after` of the previous page.
    pub after: Option<u64>,
}

/// One step of a login history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryDto {
    /// Global position (also the cursor).
    pub position: u64,
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// When it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The user, if known.
    pub user_id: Option<Uuid>,
    /// Their login.
    pub login: Option<String>,
    /// `password`, `code`, `session`, `delivery`, `lock`, `credentials`, `alert`.
    pub step: String,
    /// What happened.
    pub outcome: String,
    /// Why, for auditors (never told to the client).
    pub reason: Option<String>,
    /// The challenge.
    pub challenge_id: Option<Uuid>,
    /// The code (its id only).
    pub code_id: Option<Uuid>,
    /// Channel.
    pub channel: Option<String>,
    /// Masked destination.
    pub destination: Option<String>,
    /// Client address.
    pub client_ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The request.
    pub correlation_id: Option<Uuid>,
}

impl From<HistoryEntry> for HistoryEntryDto {
    fn from(e: HistoryEntry) -> Self {
        Self {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type,
            at: e.at,
            user_id: e.user_id,
            login: e.login,
            step: e.step,
            outcome: e.outcome,
            reason: e.reason,
            challenge_id: e.challenge_id,
            code_id: e.code_id,
            channel: e.channel,
            destination: e.destination,
            client_ip: e.client_ip,
            user_agent: e.user_agent,
            correlation_id: e.correlation_id,
        }
    }
}

/// A page of login history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPageDto {
    /// Steps in the order they happened.
    pub entries: Vec<HistoryEntryDto>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// The complete login history of a licence, cursor-paged.
#[utoipa::path(get, path = "/v1/licences/{licence}/login-history", tag = "audit", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name"), HistoryParams),
    responses(
        (status = 200, description = "A page", body = HistoryPageDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field`", body = crate::dto::ErrorBody),
    ))]
pub async fn login_history(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath(licence): ApiPath<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<HistoryPageDto>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::InvalidField {
            field: "limit",
            message: format!("must be between 1 and {MAX_PAGE}"),
        }
        .into());
    }
    if let Some(outcome) = params.outcome.as_deref() {
        let known = twostep_projections::history_outcomes();
        if !known.contains(&outcome) {
            let message = format!("must be one of: {}", known.join(", "));
            return Err(AppError::InvalidField {
                field: "outcome",
                message,
            }
            .into());
        }
    }
    let licence_id = licence_id(&state, &licence).await?;
    let user = match params.login.as_deref() {
        Some(login) => {
            Some(
                Twostep::user_id(&licence, login).ok_or_else(|| AppError::InvalidField {
                    field: "login",
                    message: "is not a valid login".into(),
                })?,
            )
        }
        None => None,
    };
    let query = HistoryQuery {
        user,
        from: timestamp("from", params.from.as_deref())?,
        to: timestamp("to", params.to.as_deref())?,
        outcome: params.outcome,
        after: params.after,
        limit,
    };
    let page = state
        .0
        .read_models
        .login_history(licence_id, &query)
        .await?;
    Ok(Json(HistoryPageDto {
        entries: page.entries.into_iter().map(Into::into).collect(),
        next_after: page.next_after,
    }))
}

/// Filters of the alert trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Only alerts raised at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// At most this many, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// An event that caused an alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertCauseDto {
    /// Stream.
    pub stream: String,
    /// Version in the stream.
    pub version: u64,
    /// The event's id.
    pub event_id: Option<Uuid>,
    /// The event's type.
    pub event_type: Option<String>,
    /// When the store recorded it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<Timestamp>,
}

/// A security alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDto {
    /// Its id.
    pub alert_id: Uuid,
    /// `unrequested_code_reported`, `account_locked_by_codes`, `account_locked_by_passwords`,
    /// `wrong_code_after_right_password`, `repeated_delivery_failures`, `contact_changed`,
    /// `new_address_after_lock`.
    pub kind: String,
    /// The user.
    pub user_id: Uuid,
    /// Their login.
    pub login: Option<String>,
    /// When it was raised.
    #[schema(value_type = String, format = DateTime)]
    pub raised_at: Timestamp,
    /// Global position.
    pub position: u64,
    /// The events that caused it.
    pub caused_by: Vec<AlertCauseDto>,
}

impl From<AlertView> for AlertDto {
    fn from(a: AlertView) -> Self {
        let kind = serde_json::to_value(a.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            alert_id: a.alert_id,
            kind,
            user_id: a.user_id,
            login: a.login,
            raised_at: a.raised_at,
            position: a.position,
            caused_by: a
                .caused_by
                .into_iter()
                .map(|c| AlertCauseDto {
                    stream: c.stream,
                    version: c.version,
                    event_id: c.event_id,
                    event_type: c.event_type,
                    recorded_at: c.recorded_at,
                })
                .collect(),
        }
    }
}

/// The alert trail of a licence.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsDto {
    /// Oldest first.
    pub alerts: Vec<AlertDto>,
}

/// The security-alert trail of a licence.
#[utoipa::path(get, path = "/v1/licences/{licence}/security-alerts", tag = "audit", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name"), AlertParams),
    responses(
        (status = 200, description = "Alerts", body = AlertsDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field`", body = crate::dto::ErrorBody),
    ))]
pub async fn security_alerts(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath(licence): ApiPath<String>,
    ApiQuery(params): ApiQuery<AlertParams>,
) -> Result<Json<AlertsDto>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::InvalidField {
            field: "limit",
            message: format!("must be between 1 and {MAX_PAGE}"),
        }
        .into());
    }
    let licence_id = licence_id(&state, &licence).await?;
    let since = timestamp("since", params.since.as_deref())?;
    let alerts = state
        .0
        .read_models
        .security_alerts(licence_id, since, limit)
        .await?;
    Ok(Json(AlertsDto {
        alerts: alerts.into_iter().map(Into::into).collect(),
    }))
}
