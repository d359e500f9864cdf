//! What every handler can reach: the application, the read models, and the
//! facade's own settings (access tokens, trusted proxies, per-client limits).

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use twostep_app::Twostep;
use twostep_projections::ReadModels;

use crate::client::TrustedProxies;
use crate::rate_limit::{InFlightLimit, RateLimiter};

/// Settings of the facade.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Bearer token of operators (support, account managers).
    pub operator_token: String,
    /// Bearer token of auditors (read-only audit endpoints).
    pub auditor_token: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Password steps, reminders and confirmations per client address per minute (0: no limit).
    pub login_rate_per_minute: u32,
    /// Password checks (password steps, access confirmations) one client may
    /// have in flight at once (0: no cap).
    pub login_in_flight_per_client: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take before the client gets `503 request_timeout`.
    pub request_timeout: Duration,
}

/// A role a bearer token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Operator,
    /// Read-only audit endpoints.
    Auditor,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

pub(crate) struct Shared {
    pub app: Arc<Twostep>,
    pub read_models: Arc<ReadModels>,
    pub proxies: TrustedProxies,
    pub limiter: RateLimiter,
    pub in_flight: InFlightLimit,
    operator: [u8; 32],
    auditor: [u8; 32],
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AppState {
    /// Builds the state.
    pub fn new(app: Arc<Twostep>, read_models: Arc<ReadModels>, config: &HttpConfig) -> Self {
        Self(Arc::new(Shared {
            app,
            read_models,
            proxies: config.trusted_proxies.clone(),
            limiter: RateLimiter::new(config.login_rate_per_minute),
            in_flight: InFlightLimit::new(config.login_in_flight_per_client),
            operator: digest(&config.operator_token),
            auditor: digest(&config.auditor_token),
        }))
    }

    /// The role a presented bearer token grants, compared in constant time.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let presented = digest(token);
        let operator: bool = presented.ct_eq(&self.0.operator).into();
        let auditor: bool = presented.ct_eq(&self.0.auditor).into();
        if operator {
            Some(Role::Operator)
        } else if auditor {
            Some(Role::Auditor)
        } else {
            None
        }
    }
}
