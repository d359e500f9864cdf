//! Operator endpoints: licences, two-factor settings, users, locks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use twostep_app::{Actor, UserChange};

use crate::dto::{
    CreateUserRequest, Done, LicenceDto, LiftLockRequest, LockLiftDto, RegisterLicence,
    TwoFactorRequest, UpdateUserRequest, UserDto,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auditor, Caller, Operator};
use crate::state::AppState;

/// Register a licence.
#[utoipa::path(post, path = "/v1/licences", tag = "licences", security(("operator" = [])),
    request_body = RegisterLicence,
    responses(
        (status = 201, description = "Registered", body = LicenceDto),
        (status = 409, description = "`licence_exists`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field`", body = crate::dto::ErrorBody),
    ))]
pub async fn register_licence(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiJson(body): ApiJson<RegisterLicence>,
) -> Result<(StatusCode, Json<LicenceDto>), ApiError> {
    let licence = state
        .0
        .app
        .register_licence(&caller.context(Actor::Operator), &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(licence.into())))
}

/// A licence's settings.
#[utoipa::path(get, path = "/v1/licences/{licence}", tag = "licences", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name")),
    responses(
        (status = 200, description = "The licence", body = LicenceDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
    ))]
pub async fn get_licence(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath(licence): ApiPath<String>,
) -> Result<Json<LicenceDto>, ApiError> {
    Ok(Json(state.0.app.licence_view(&licence).await?.into()))
}

/// Switch two-factor authentication on, or change its channel or policy.
#[utoipa::path(put, path = "/v1/licences/{licence}/two-factor", tag = "licences", security(("operator" = [])),
    params(("licence" = String, Path, description = "Licence name")),
    request_body = TwoFactorRequest,
    responses(
        (status = 200, description = "In force", body = LicenceDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
        (status = 409, description = "`missing_mobile_numbers`, with `users`: the active users without a valid mobile number", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_policy`, with `field`", body = crate::dto::ErrorBody),
    ))]
pub async fn enable_two_factor(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiPath(licence): ApiPath<String>,
    ApiJson(body): ApiJson<TwoFactorRequest>,
) -> Result<Json<LicenceDto>, ApiError> {
    let ctx = caller.context(Actor::Operator);
    let patch = body.policy.unwrap_or_default().into();
    Ok(Json(
        state
            .0
            .app
            .enable_two_factor(&ctx, &licence, body.channel.into(), patch)
            .await?
            .into(),
    ))
}

/// Switch two-factor authentication off.
#[utoipa::path(delete, path = "/v1/licences/{licence}/two-factor", tag = "licences", security(("operator" = [])),
    params(("licence" = String, Path, description = "Licence name")),
    responses(
        (status = 200, description = "Off", body = LicenceDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
    ))]
pub async fn disable_two_factor(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiPath(licence): ApiPath<String>,
) -> Result<Json<LicenceDto>, ApiError> {
    Ok(Json(
        state
            .0
            .app
            .disable_two_factor(&caller.context(Actor::Operator), &licence)
            .await?
            .into(),
    ))
}

/// Create a user and send the access confirmation e-mail.
#[utoipa::path(post, path = "/v1/licences/{licence}/users", tag = "users", security(("operator" = [])),
    params(("licence" = String, Path, description = "Licence name")),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created; `access_confirmation` says whether the e-mail left", body = UserDto),
        (status = 404, description = "`unknown_licence`", body = crate::dto::ErrorBody),
        (status = 409, description = "`login_taken`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field` (with `field`) or `mobile_required`", body = crate::dto::ErrorBody),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiPath(licence): ApiPath<String>,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    let ctx = caller.context(Actor::Operator);
    let created = state
        .0
        .app
        .create_user(
            &ctx,
            &licence,
            &body.login,
            &body.email,
            body.mobile.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// A user.
#[utoipa::path(get, path = "/v1/licences/{licence}/users/{login}", tag = "users", security(("operator" = []), ("auditor" = [])),
    params(("licence" = String, Path, description = "Licence name"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "The user", body = UserDto),
        (status = 404, description = "`unknown_licence` or `unknown_user`", body = crate::dto::ErrorBody),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    _: Auditor,
    ApiPath((licence, login)): ApiPath<(String, String)>,
) -> Result<Json<UserDto>, ApiError> {
    Ok(Json(state.0.app.user_view(&licence, &login).await?.into()))
}

/// "Manage users": change a user's e-mail address, mobile number or active flag.
/// A change of address or number voids outstanding codes, raises a security
/// alert and notifies the old destination.
#[utoipa::path(put, path = "/v1/licences/{licence}/users/{login}", tag = "users", security(("operator" = [])),
    params(("licence" = String, Path, description = "Licence name"), ("login" = String, Path, description = "Login")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Changed", body = UserDto),
        (status = 404, description = "`unknown_licence` or `unknown_user`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field` or `mobile_required`", body = crate::dto::ErrorBody),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiPath((licence, login)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserDto>, ApiError> {
    let change = UserChange {
        email: body.email,
        mobile: body.mobile,
        active: body.active,
    };
    let ctx = caller.context(Actor::Operator);
    Ok(Json(
        state
            .0
            .app
            .update_user(&ctx, &licence, &login, change)
            .await?
            .into(),
    ))
}

/// Lift a user's lock (audited, with a reason).
#[utoipa::path(delete, path = "/v1/licences/{licence}/users/{login}/lockout", tag = "users", security(("operator" = [])),
    params(("licence" = String, Path, description = "Licence name"), ("login" = String, Path, description = "Login")),
    request_body = LiftLockRequest,
    responses(
        (status = 200, description = "`lifted` is false when there was no lock", body = LockLiftDto),
        (status = 404, description = "`unknown_licence` or `unknown_user`", body = crate::dto::ErrorBody),
        (status = 422, description = "`invalid_field`: the reason", body = crate::dto::ErrorBody),
    ))]
pub async fn lift_lock(
    State(state): State<AppState>,
    _: Operator,
    caller: Caller,
    ApiPath((licence, login)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<LiftLockRequest>,
) -> Result<Json<LockLiftDto>, ApiError> {
    let ctx = caller.context(Actor::Operator);
    Ok(Json(
        state
            .0
            .app
            .lift_lock(&ctx, &licence, &login, &body.reason)
            .await?
            .into(),
    ))
}

/// Used by `Done` answers.
pub fn done(status: &str) -> Json<Done> {
    Json(Done {
        status: status.to_owned(),
    })
}
