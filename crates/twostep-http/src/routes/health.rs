//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

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

/// Readiness: the event store answers and the read models are open.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "The store does not answer", body = Health),
))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let store = state.0.app.store();
    let kind = Some(store.kind().to_owned());
    match store.head().await {
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

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
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
