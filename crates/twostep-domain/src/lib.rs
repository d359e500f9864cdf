//! # twostep-domain
//!
//! The pure core of twostep: deciders for licences and accounts, the events
//! they emit, and the value types they speak in. Every decision is
//! `decide(&state, command, now, …) -> Result<Vec<Event>, Rejection>` and every
//! state is a fold of `evolve(state, &event)`. Nothing here does I/O, reads a
//! clock, draws a random number or is async: time, random values and the code
//! key are arguments.

#![deny(missing_docs)]

pub mod account;
pub mod alert;
pub mod attempt;
pub mod codec;
pub mod contact;
pub mod identity;
pub mod licence;
pub mod policy;
pub mod secret;
pub mod timestamp;
pub mod what_if;

pub use account::{Account, AccountCommand, AccountEvent, AccountRejection};
pub use alert::{AlertKind, SecurityAlert};
pub use attempt::AttemptEvent;
pub use contact::{Channel, EmailAddress, MobileNumber};
pub use identity::{LicenceId, LicenceName, Login, UserId};
pub use licence::{Licence, LicenceCommand, LicenceEvent, LicenceRejection, Standing};
pub use policy::{LoginPolicy, PolicyPatch};
pub use secret::{CodeKey, Digest, OneTimeCode, Password};
pub use timestamp::Timestamp;
