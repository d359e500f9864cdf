//! # twostep-app
//!
//! The application layer: each use case loads the streams it decides on,
//! runs the pure decider, appends the events with the version it decided on
//! (retrying on conflicts), and then does the I/O the events call for
//! (hashing before, delivery after). The HTTP facade calls one method of
//! [`Twostep`] per request.

#![deny(missing_docs)]

mod admin;
pub mod checkpoints;
pub mod context;
pub mod crypto;
pub mod error;
mod login;
pub mod messages;
pub mod metrics;
pub mod passwords;
pub mod schemas;
mod service;
pub mod streams;
pub mod tokens;

pub use admin::{CreatedUser, LicenceView, LockLift, UserChange, UserView};
pub use context::{Actor, RequestContext};
pub use error::AppError;
pub use login::{ChallengeView, PasswordStep, SessionGrant, SessionInfo};
pub use metrics::Metrics;
pub use service::{AppConfig, Twostep};
