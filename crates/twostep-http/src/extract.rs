//! Extractors that turn every rejection into the JSON error shape, and the
//! caller's identity (address, user agent, bearer role).

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::Json;
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
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let detail = match rejection {
        JsonRejection::MissingJsonContentType(_) => "expected a body with Content-Type: application/json".to_owned(),
        other => other.body_text(),
    };
    rejected(rejection.status(), "invalid request body", &detail)
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
    rejected(axum::http::StatusCode::BAD_REQUEST, "invalid query", &rejection.body_text())
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
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr);
        Ok(Self { ip: state.0.proxies.client_ip(peer, &parts.headers), user_agent: user_agent(&parts.headers) })
    }
}

/// The bearer token of the request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Proof that the caller holds the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(parts).and_then(|token| state.role_of(token)) {
            Some(Role::Operator) => Ok(Operator),
            Some(Role::Auditor) => Err(ApiError::forbidden("this endpoint needs the operator token")),
            None => Err(ApiError::unauthorized("this endpoint needs Authorization: Bearer <operator token>")),
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
            None => Err(ApiError::unauthorized("this endpoint needs Authorization: Bearer <auditor or operator token>")),
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
