//! The endpoints applications call to log their users in.

use std::future::Future;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tracing::Instrument;
use twostep_app::{Actor, AppError, PasswordStep};

use crate::dto::{
    Accepted, CodeStepRequest, ConfirmAccessRequest, Done, PasswordStepRequest,
    PasswordStepResponse, PasswordStepStatus, ReminderRequest, ReportRequest, SessionInfoDto,
    SessionResponse,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, SessionBearer};
use crate::routes::licences::done;
use crate::state::AppState;

fn limited(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    state
        .0
        .limiter
        .check(caller.ip)
        .map_err(|retry_after| AppError::RateLimited { retry_after }.into())
}

/// Runs `check`, work that verifies or hashes a password, within the
/// caller's limits: the per-minute rate and the cap on checks in flight per
/// client. The work runs as its own task, holding the caller's place until it
/// is done, so a client that hangs up or a request that times out neither
/// frees its place early nor abandons the hash half-way.
async fn password_check<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    check: impl Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, ApiError> {
    let place = state
        .0
        .in_flight
        .enter(caller.ip)
        .map_err(|retry_after| ApiError::from(AppError::RateLimited { retry_after }))?;
    limited(state, caller)?;
    let task = tokio::spawn(
        async move {
            let outcome = check.await;
            drop(place);
            outcome
        }
        .in_current_span(),
    );
    match task.await {
        Ok(outcome) => outcome.map_err(ApiError::from),
        Err(_) => {
            Err(AppError::Internal("a password check stopped unexpectedly".to_owned()).into())
        }
    }
}

/// Set the password with the token of an access confirmation or password reset e-mail.
#[utoipa::path(post, path = "/v1/access/confirm", tag = "login",
    request_body = ConfirmAccessRequest,
    responses(
        (status = 200, description = "`password_set`; open challenges are closed, codes voided, locks stay", body = Done),
        (status = 400, description = "`invalid_token`: unknown, used or expired", body = crate::dto::ErrorBody),
        (status = 422, description = "`weak_password`", body = crate::dto::ErrorBody),
        (status = 429, description = "`rate_limited`", body = crate::dto::ErrorBody),
    ))]
pub async fn confirm_access(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ConfirmAccessRequest>,
) -> Result<Json<Done>, ApiError> {
    let (app, ctx) = (state.0.app.clone(), caller.context(Actor::Anonymous));
    password_check(&state, &caller, async move {
        app.confirm_access(&ctx, &body.token, &body.password).await
    })
    .await?;
    Ok(done("password_set"))
}

/// Password reminder: e-mails a reset link if the login exists. Always 202.
#[utoipa::path(post, path = "/v1/password/reminder", tag = "login",
    request_body = ReminderRequest,
    responses(
        (status = 202, description = "Always the same answer", body = Accepted),
        (status = 429, description = "`rate_limited`", body = crate::dto::ErrorBody),
    ))]
pub async fn password_reminder(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReminderRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    limited(&state, &caller)?;
    state.0.app.password_reminder(
        &caller.context(Actor::Anonymous),
        &body.licence,
        &body.login,
    );
    Ok((StatusCode::ACCEPTED, Json(Accepted::new())))
}

/// The password step.
#[utoipa::path(post, path = "/v1/login/password", tag = "login",
    request_body = PasswordStepRequest,
    responses(
        (status = 200, description = "`code_sent`, `code_already_sent` (nothing sent; `resend_available_at` says when entering the password again sends a new code) or `authenticated` (licence without 2FA)", body = PasswordStepResponse),
        (status = 401, description = "`invalid_credentials`: the same answer for an unknown licence, an unknown or deactivated login and a wrong password", body = crate::dto::ErrorBody),
        (status = 423, description = "`account_locked` with `locked_until` (only when the password is right)", body = crate::dto::ErrorBody),
        (status = 429, description = "`rate_limited` with `retry_after`", body = crate::dto::ErrorBody),
        (status = 503, description = "`delivery_failed`: the code could not be sent", body = crate::dto::ErrorBody),
    ))]
pub async fn password_step(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordStepRequest>,
) -> Result<Json<PasswordStepResponse>, ApiError> {
    let (app, ctx) = (state.0.app.clone(), caller.context(Actor::Anonymous));
    let step = password_check(&state, &caller, async move {
        app.submit_password(&ctx, &body.licence, &body.login, &body.password)
            .await
    })
    .await?;
    Ok(Json(match step {
        PasswordStep::CodeSent(view) => {
            PasswordStepResponse::challenge(PasswordStepStatus::CodeSent, view)
        }
        PasswordStep::CodeAlreadySent(view) => {
            PasswordStepResponse::challenge(PasswordStepStatus::CodeAlreadySent, view)
        }
        PasswordStep::Authenticated(grant) => PasswordStepResponse::session(grant),
    }))
}

/// The code step.
#[utoipa::path(post, path = "/v1/login/code", tag = "login",
    request_body = CodeStepRequest,
    responses(
        (status = 200, description = "`authenticated`", body = SessionResponse),
        (status = 400, description = "`malformed_code`: not exactly `code_length` digits; not a guess, the challenge stays open", body = crate::dto::ErrorBody),
        (status = 401, description = "`invalid_code` with `next: \"password\"`: wrong, expired, superseded or used code, or closed challenge (not told which)", body = crate::dto::ErrorBody),
        (status = 423, description = "`account_locked` with `locked_until`", body = crate::dto::ErrorBody),
    ))]
pub async fn code_step(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeStepRequest>,
) -> Result<Json<SessionResponse>, ApiError> {
    let ctx = caller.context(Actor::Anonymous);
    Ok(Json(
        state
            .0
            .app
            .verify_code(&ctx, &body.challenge_id, &body.code)
            .await?
            .into(),
    ))
}

/// Who holds this session token.
#[utoipa::path(get, path = "/v1/session", tag = "session", security(("session" = [])),
    responses(
        (status = 200, description = "The session", body = SessionInfoDto),
        (status = 401, description = "`unauthenticated`", body = crate::dto::ErrorBody),
    ))]
pub async fn get_session(
    State(state): State<AppState>,
    SessionBearer(token): SessionBearer,
) -> Result<Json<SessionInfoDto>, ApiError> {
    Ok(Json(state.0.app.session(&token).await?.into()))
}

/// Logout.
#[utoipa::path(delete, path = "/v1/session", tag = "session", security(("session" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "`unauthenticated`", body = crate::dto::ErrorBody),
    ))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    SessionBearer(token): SessionBearer,
) -> Result<StatusCode, ApiError> {
    state
        .0
        .app
        .end_session(&caller.context(Actor::Anonymous), &token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "I did not ask for this code": raises a security alert, voids the code. Always 202 for a well-formed token.
#[utoipa::path(post, path = "/v1/security/unrequested-code", tag = "login",
    request_body = ReportRequest,
    responses(
        (status = 202, description = "Recorded (the same answer for a token that matches nothing)", body = Accepted),
        (status = 400, description = "`invalid_token`: not a report token", body = crate::dto::ErrorBody),
    ))]
pub async fn report_unrequested_code(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReportRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state
        .0
        .app
        .report_unrequested_code(&caller.context(Actor::Anonymous), &body.report_token)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted::new())))
}
