//! Extractors that turn every rejection into the JSON error shape, and the
//! caller's identity (address, user agent, bearer role).

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use twostep_app::{Actor, RequestContext};

use crate::client::user_agent;
use crate::error::{ApiError, rejected};
use crate::state::{AppState, Role};

/// A JSON body; rejections become JSON errors without echoing input values.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            let detail = "expected a body with Content-Type: application/json";
            return Err(rejected(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid request body",
                detail,
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                rejected(
                    rejection.status(),
                    "invalid request body",
                    &rejection.body_text(),
                )
            })?;
        let value = Json::<T>::from_bytes(&bytes)
            .map_err(|rejection| json_rejection(&rejection))?
            .0;
        // serde also takes a JSON array for a struct (fields by position);
        // every body of the contract is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(rejected(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid request body",
                "expected a JSON object",
            ));
        }
        Ok(Self(value))
    }
}

/// `application/json` or `application/*+json`, as axum's `Json` accepts.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    rejected(
        rejection.status(),
        "invalid request body",
        &rejection.body_text(),
    )
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    rejected(rejection.status(), "invalid path", &rejection.body_text())
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    rejected(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid query",
        &rejection.body_text(),
    )
}

/// The caller: address and user agent.
pub struct Caller {
    /// Client address (see `TrustedProxies::client_ip`).
    pub ip: Option<IpAddr>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
}

impl Caller {
    /// A request context for this caller acting as `actor`.
    pub fn context(&self, actor: Actor) -> RequestContext {
        RequestContext::new(actor, self.ip, self.user_agent.as_deref())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        Ok(Self {
            ip: state.0.proxies.client_ip(peer, &parts.headers),
            user_agent: user_agent(&parts.headers),
        })
    }
}

/// The bearer token of the request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// The bearer token of these headers, if any.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Proof that the caller holds the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(parts).and_then(|token| state.role_of(token)) {
            Some(Role::Operator) => Ok(Operator),
            Some(Role::Auditor) => Err(ApiError::forbidden(
                "this endpoint needs the operator token",
            )),
            None => Err(ApiError::unauthorized(
                "this endpoint needs Authorization: Bearer <operator token>",
            )),
        }
    }
}

/// Proof that the caller holds the operator or the auditor token.
pub struct Auditor;

impl FromRequestParts<AppState> for Auditor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(parts).and_then(|token| state.role_of(token)) {
            Some(_) => Ok(Auditor),
            None => Err(ApiError::unauthorized(
                "this endpoint needs Authorization: Bearer <auditor or operator token>",
            )),
        }
    }
}

/// The session token of the request.
pub struct SessionBearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SessionBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        bearer(parts).map(|t| Self(t.to_owned())).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "this endpoint needs Authorization: Bearer <session token>",
            )
        })
    }
}
