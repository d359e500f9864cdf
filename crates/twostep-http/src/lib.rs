//! # twostep-http
//!
//! The axum facade: every handler extracts, calls one application method and
//! maps the result; every error becomes the one JSON shape in `error.rs`.
//! Routes are registered through `utoipa-axum`, so the OpenAPI document is
//! generated from the same list the router serves and cannot drift.

#![deny(missing_docs)]

pub mod client;
pub mod dto;
pub mod error;
pub mod extract;
mod rate_limit;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use client::{ProxyNet, TrustedProxies};
pub use error::ApiError;
pub use state::{AppState, HttpConfig};

use routes::{audit, health, licences, login};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "twostep",
        version = "1",
        description = "Two-factor login for multi-tenant products: a password step, then a one-time code sent by SMS or e-mail. Every error is `{\"error\": <machine code>, \"message\": <text>, …}`."
    ),
    modifiers(&BearerSchemes),
    components(schemas(dto::ErrorBody)),
    tags(
        (name = "login", description = "Called by applications to log their users in"),
        (name = "session", description = "Session tokens"),
        (name = "licences", description = "Operators: licences and two-factor settings"),
        (name = "users", description = "Operators: users and locks"),
        (name = "audit", description = "Auditors and operators: read models"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["operator", "auditor", "session"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(licences::register_licence))
        .routes(routes!(licences::get_licence))
        .routes(routes!(
            licences::enable_two_factor,
            licences::disable_two_factor
        ))
        .routes(routes!(licences::create_user))
        .routes(routes!(licences::get_user, licences::update_user))
        .routes(routes!(audit::lockout, licences::lift_lock))
        .routes(routes!(audit::active_code))
        .routes(routes!(audit::login_history))
        .routes(routes!(audit::security_alerts))
        .routes(routes!(login::confirm_access))
        .routes(routes!(login::password_reminder))
        .routes(routes!(login::password_step))
        .routes(routes!(login::code_step))
        .routes(routes!(login::get_session, login::end_session))
        .routes(routes!(login::report_unrequested_code))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

/// The OpenAPI document of the facade, generated from the routes.
pub fn openapi() -> OpenApiDoc {
    api().split_for_parts().1
}

async fn count_status(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.0.app.metrics.count_status(response.status().as_u16());
    response
}

/// Answers `503 request_timeout` (the JSON error shape) when the rest of the
/// stack takes longer than `limit`; the abandoned work is dropped.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::request_timeout(limit).into_response(),
    }
}

/// The span of one request: method and path only. The query string is never
/// logged: links in messages carry one-time tokens there (`?token=`,
/// `?report=`), and a user may open such a link against the service itself.
fn request_span(request: &Request) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        version = ?request.version(),
    )
}

async fn no_route() -> Response {
    ApiError::no_route().into_response()
}

async fn wrong_method() -> Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method",
    )
    .into_response()
}

/// The whole facade: routes, `/openapi.json`, limits and JSON fallbacks.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    let (router, doc) = api().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json((*doc).clone()) }),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count_status))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}
