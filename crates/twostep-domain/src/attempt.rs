//! Password steps that named no known user. They are recorded so auditors
//! see credential stuffing, and so that an unknown login costs the same work
//! (one argon2 verification, one durable append) as a wrong password.

use serde::{Deserialize, Serialize};

use crate::identity::LicenceId;
use crate::secret::Digest;

/// Events of the attempt streams (`attempts-{licence_id}`, `attempts-unknown-licence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum AttemptEvent {
    /// A password step named a login the licence does not have, or a licence
    /// nobody registered. What was typed is kept only as a keyed digest: people
    /// sometimes type their password into the login field.
    UnknownLoginAttempted {
        /// The licence, when the name matched one.
        licence_id: Option<LicenceId>,
        /// HMAC-SHA-256 (service key) of the licence and login keys, so that
        /// repeated attempts on one name can be grouped without revealing it.
        identifier_digest: Digest,
    },
}
