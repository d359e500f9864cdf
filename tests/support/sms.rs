//! An HTTP SMS gateway on loopback that records `{to, body}` posts, and can
//! be told to fail.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
}

pub struct SmsReceiver {
    pub address: SocketAddr,
    shared: Shared,
}

async fn receive(State(shared): State<Shared>, Json(body): Json<Value>) -> StatusCode {
    if shared.failing.load(Ordering::SeqCst) {
        return StatusCode::BAD_GATEWAY;
    }
    shared.received.lock().unwrap().push(body);
    StatusCode::ACCEPTED
}

impl SmsReceiver {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/sms", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { address, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}/sms", self.address)
    }

    /// Makes the gateway answer 502 (or recover).
    pub fn fail(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// Bodies of every SMS to `to`.
    pub fn to(&self, to: &str) -> Vec<String> {
        let received = self.shared.received.lock().unwrap();
        received
            .iter()
            .filter(|m| m["to"] == to)
            .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn nth_to(&self, to: &str, count: usize) -> String {
        let start = Instant::now();
        loop {
            let messages = self.to(to);
            if messages.len() >= count {
                return messages[count - 1].clone();
            }
            assert!(
                start.elapsed() < super::WAIT,
                "no SMS #{count} to {to}; got {}",
                messages.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
