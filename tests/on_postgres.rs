//! The whole end-to-end suite again, every service on PostgreSQL: each test
//! file is included here as a module, and its copy of the harness
//! (`support::service::on_postgres`) then starts `twostep serve --store
//! postgres` on a fresh schema of the server at `TWOSTEP_TEST_POSTGRES_URL`
//! (default `postgres://root@127.0.0.1:5432/test`), with a shared
//! `TWOSTEP_SECRET`, and reads events back through the store trait.
//! PostgreSQL unreachable: the tests fail, saying so.
//!
//! Left out, because they are not about the store: `hardening` (the data
//! directory's permissions, the HTTP server's limits and flags) and
//! `openapi` (the generated document).

// Each included file brings its own `mod support;`: a copy of the harness
// per file is what lets `on_postgres()` see where it was included from.
#![allow(clippy::duplicate_mod)]

#[path = "audit_trail.rs"]
mod audit_trail;
#[path = "bad_input.rs"]
mod bad_input;
#[path = "concurrency.rs"]
mod concurrency;
#[path = "credentials.rs"]
mod credentials;
#[path = "delivery_failure.rs"]
mod delivery_failure;
#[path = "email_flow.rs"]
mod email_flow;
#[path = "event_schemas.rs"]
mod event_schemas;
#[path = "restart.rs"]
mod restart;
#[path = "secrets_at_rest.rs"]
mod secrets_at_rest;
#[path = "sms_flow.rs"]
mod sms_flow;
#[path = "timing.rs"]
mod timing;
