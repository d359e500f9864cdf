//! The handlers, one module per audience.

pub mod audit;
pub mod health;
pub mod licences;
pub mod login;
