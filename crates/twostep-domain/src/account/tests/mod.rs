//! Given / when / then tests of the account decider, one per rule of the
//! login flow, and property tests over random command sequences.
//!
//! Every test states the whole list of events it expects: a rule that emits
//! one event too many (a session after `PasswordSet`, an alert twice) fails.

mod fixtures;
mod harness;

mod code_step;
mod delivery_and_reports;
mod lockout;
mod new_address;
mod password_step;
mod properties;
mod sessions;
mod tokens;
mod walk;

use fixtures::*;
use harness::*;
