//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{Auditor, bearer_in};
use crate::state::AppState;

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable`.
    pub status: String,
    /// Store adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Position of the store's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
    /// Events each read model still has to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_lag: Option<u64>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        store: None,
        head: None,
        projection_lag: None,
    })
}

/// Readiness: the event store answers and the read models are open. The
/// store's head and the read models' lag are shown only to the operator or
/// auditor token: they move with every login step, so to anyone they would
/// tell whether, say, a password reminder found a user.
#[utoipa::path(get, path = "/readyz", tag = "operations", security((), ("operator" = []), ("auditor" = [])), responses(
    (status = 200, description = "Ready (with `head` and `projection_lag` for the operator or auditor token)", body = Health),
    (status = 503, description = "The store does not answer", body = Health),
))]
pub async fn readyz(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> (StatusCode, Json<Health>) {
    let store = state.0.app.store();
    let kind = Some(store.kind().to_owned());
    let privileged = bearer_in(&headers)
        .and_then(|token| state.role_of(token))
        .is_some();
    match store.head().await {
        Ok(_) if !privileged => {
            let body = Health {
                status: "ok".into(),
                store: kind,
                head: None,
                projection_lag: None,
            };
            (StatusCode::OK, Json(body))
        }
        Ok(head) => {
            let lag = state.0.read_models.checkpoints().await.ok().map(|points| {
                points
                    .iter()
                    .map(|p| head.saturating_sub(p.position))
                    .max()
                    .unwrap_or(0)
            });
            (
                StatusCode::OK,
                Json(Health {
                    status: "ok".into(),
                    store: kind,
                    head: Some(head),
                    projection_lag: lag,
                }),
            )
        }
        Err(error) => {
            tracing::warn!(error = %error, "readiness: store unavailable");
            let body = Health {
                status: "unavailable".into(),
                store: kind,
                head: None,
                projection_lag: None,
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}

/// Prometheus metrics (operator or auditor token: the counters move with
/// every login step and delivery).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("operator" = []), ("auditor" = [])), responses(
    (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
    (status = 401, description = "`unauthorized`", body = crate::dto::ErrorBody),
))]
pub async fn metrics(State(state): State<AppState>, _: Auditor) -> impl IntoResponse {
    let head = state.0.app.store().head().await.unwrap_or(0);
    let checkpoints = state.0.read_models.checkpoints().await.unwrap_or_default();
    let lag = checkpoints
        .iter()
        .map(|p| head.saturating_sub(p.position))
        .max()
        .unwrap_or(0);
    let extra = [
        (
            "twostep_store_head_position",
            "Position of the last event in the store.",
            head,
        ),
        (
            "twostep_projection_lag_events",
            "Events the slowest read model still has to apply.",
            lag,
        ),
    ];
    let body = state.0.app.metrics.render(&extra);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
