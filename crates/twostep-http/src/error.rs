//! The one JSON error shape of the facade, `{"error", "message", …}`, and
//! the one mapping from application errors and request rejections to it.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use twostep_app::AppError;
use twostep_domain::LicenceRejection;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine code (`invalid_credentials`, …).
    pub code: &'static str,
    /// Human text; never contains a secret.
    pub message: String,
    /// Further fields.
    pub extra: Map<String, Value>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error without extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 401 for endpoints that need an operator or auditor token.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 for a token without the needed role.
    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for paths that do not exist.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// 503 for a request that took longer than `limit` (its work is abandoned).
    pub fn request_timeout(limit: Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(self.code.to_owned()));
        body.insert("message".to_owned(), Value::String(self.message));
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // RFC 9110 §15.5.2: every 401 carries a challenge. The login steps'
        // 401s carry the same one, so no header tells their refusals apart.
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let message = error.to_string();
        match error {
            AppError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            AppError::AccountLocked { locked_until } => {
                Self::new(StatusCode::LOCKED, "account_locked", message)
                    .with("locked_until", locked_until.rfc3339())
            }
            AppError::RateLimited { retry_after } => {
                let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
                    .with("retry_after", retry_after);
                error.retry_after = Some(retry_after);
                error
            }
            AppError::InvalidCode => Self::new(StatusCode::UNAUTHORIZED, "invalid_code", message)
                .with("next", "password"),
            AppError::MalformedCode { length } => {
                Self::new(StatusCode::BAD_REQUEST, "malformed_code", message)
                    .with("code_length", length)
            }
            AppError::Licence(rejection) => licence_rejection(rejection),
            AppError::InvalidField { field, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
                    .with("field", field)
            }
            AppError::BadToken => Self::new(StatusCode::BAD_REQUEST, "invalid_token", message),
            AppError::WeakPassword(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", message)
            }
            AppError::Unauthenticated => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            AppError::DeliveryFailed(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "delivery_failed", message)
            }
            AppError::Busy => {
                let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message);
                error.retry_after = Some(1);
                error
            }
            AppError::Store(source) => {
                tracing::error!(error = %source, "event store unavailable");
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    message,
                );
                error.retry_after = Some(1);
                error
            }
            AppError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
            }
        }
    }
}

fn licence_rejection(rejection: LicenceRejection) -> ApiError {
    let message = rejection.to_string();
    match rejection {
        LicenceRejection::AlreadyRegistered => {
            ApiError::new(StatusCode::CONFLICT, "licence_exists", message)
        }
        LicenceRejection::UnknownLicence => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_licence", message)
        }
        LicenceRejection::MissingMobileNumbers(users) => {
            ApiError::new(StatusCode::CONFLICT, "missing_mobile_numbers", message)
                .with("users", users)
        }
        LicenceRejection::InvalidPolicy(error) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy", message)
                .with("field", error.field)
        }
        LicenceRejection::LoginTaken => ApiError::new(StatusCode::CONFLICT, "login_taken", message),
        LicenceRejection::MobileRequired => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "mobile_required", message)
                .with("field", "mobile")
        }
        LicenceRejection::UnknownUser => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_user", message)
        }
    }
}

/// Removes input values from a deserialisation message, keeping field names:
/// serde quotes string values (`string "…"`) and backticks numbers and
/// variants (`integer `123456``), and a value may be a secret sent in the
/// wrong place. Only backticked text right after "field " is kept.
pub fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let after = &after[1..];
        let Some(end) = after.find(quote) else {
            out.push(quote);
            out.push('…');
            return out;
        };
        let keep = quote == '`'
            && ["field ", "expected ", "`, ", "` or ", "one of "]
                .iter()
                .any(|p| out.ends_with(p));
        out.push(quote);
        out.push_str(if keep { &after[..end] } else { "…" });
        out.push(quote);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A JSON error body for a request the extractors refused.
pub fn rejected(status: StatusCode, what: &str, detail: &str) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "bad_request",
    };
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code, format!("{what}: {}", redact_values(detail)))
}

/// The answer when a handler panicked: a bug, never input's fault.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let body = json!({ "error": "internal_error", "message": "internal error" });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(error: ApiError) -> Option<String> {
        error
            .into_response()
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn every_401_challenges_for_a_bearer_token() {
        assert_eq!(
            challenge(ApiError::unauthorized("operator token")).as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            challenge(AppError::Unauthenticated.into()).as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            challenge(AppError::InvalidCredentials.into()).as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            challenge(AppError::InvalidCode.into()).as_deref(),
            Some("Bearer")
        );
    }

    #[test]
    fn a_request_timeout_is_a_json_503() {
        let error = ApiError::request_timeout(Duration::from_secs(30));
        assert_eq!(
            (error.status, error.code, error.message.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "the request took longer than 30 s"
            )
        );
    }

    #[test]
    fn redacts_values_keeps_field_names() {
        assert_eq!(
            redact_values("invalid type: string \"hunter2\", expected u64 at line 1 column 20"),
            "invalid type: string \"…\", expected u64 at line 1 column 20"
        );
        assert_eq!(
            redact_values("invalid type: integer `123456`, expected a string at line 1 column 18"),
            "invalid type: integer `…`, expected a string at line 1 column 18"
        );
        assert_eq!(
            redact_values("missing field `login` at line 1 column 2"),
            "missing field `login` at line 1 column 2"
        );
        assert_eq!(
            redact_values("unknown variant `s3cret`, expected `sms` or `email`"),
            "unknown variant `…`, expected `sms` or `email`"
        );
        assert_eq!(redact_values("unterminated \"abc"), "unterminated \"…");
    }
}
