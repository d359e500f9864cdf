//! A small HTTP server on an ephemeral loopback port standing in for an SMS
//! gateway: it records every JSON body POSTed to `/sms` and answers with a
//! chosen status.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use serde_json::Value;

/// A running receiver and what it got so far.
pub struct SmsReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
struct Gateway {
    answer: StatusCode,
    received: Arc<Mutex<Vec<Value>>>,
}

impl SmsReceiver {
    /// A gateway that takes every message (`202 Accepted`).
    pub async fn accepting() -> Self {
        Self::answering(StatusCode::ACCEPTED).await
    }

    /// A gateway that records every message and answers `answer`.
    pub async fn answering(answer: StatusCode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let gateway = Gateway {
            answer,
            received: received.clone(),
        };
        let app = Router::new()
            .route("/sms", post(record))
            .with_state(gateway);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, received }
    }

    /// `http://127.0.0.1:PORT/sms`.
    pub fn url(&self) -> String {
        format!("http://{}/sms", self.addr)
    }

    /// The JSON bodies received so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().expect("not poisoned").clone()
    }
}

async fn record(State(gateway): State<Gateway>, Json(body): Json<Value>) -> StatusCode {
    gateway.received.lock().expect("not poisoned").push(body);
    gateway.answer
}
