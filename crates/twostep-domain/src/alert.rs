//! Security alerts: raised as events in the stream where their cause
//! happened, each naming the stream versions of the events that caused it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::UserId;

/// What a security alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The user reported a code they did not ask for: someone knows the password.
    UnrequestedCodeReported,
    /// Too many wrong codes in a row locked the account.
    AccountLockedByCodes,
    /// Too many wrong passwords in a row locked the account.
    AccountLockedByPasswords,
    /// A right password was followed by a wrong code: the password is probably
    /// known to someone who does not have the second factor.
    WrongCodeAfterRightPassword,
    /// Codes could not be delivered several times in a row.
    RepeatedDeliveryFailures,
    /// The e-mail address or mobile number of the user changed.
    ContactChanged,
    /// After a lock, the right password came from a client address never
    /// seen for this user: someone else may have the password.
    NewAddressAfterLock,
}

/// Code deliveries failing in a row that raise [`AlertKind::RepeatedDeliveryFailures`].
pub const DELIVERY_FAILURES_ALERT_THRESHOLD: u32 = 3;

/// Client address digests an account remembers (the oldest is forgotten first).
pub const REMEMBERED_ADDRESSES: usize = 32;

/// A raised alert, as carried by the `SecurityAlertRaised` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecurityAlert {
    /// Stable id: UUIDv5 of the stream owner's id and the alert's version.
    pub alert_id: Uuid,
    /// What happened.
    pub kind: AlertKind,
    /// The user concerned.
    pub user_id: UserId,
    /// Versions, in the same stream, of the events that caused the alert.
    pub caused_by: Vec<u64>,
}

impl SecurityAlert {
    /// An alert recorded at `version` of a stream owned by `owner`.
    pub fn new(
        owner: Uuid,
        version: u64,
        kind: AlertKind,
        user_id: UserId,
        caused_by: Vec<u64>,
    ) -> Self {
        let alert_id = Uuid::new_v5(&owner, format!("alert-{version}").as_bytes());
        Self {
            alert_id,
            kind,
            user_id,
            caused_by,
        }
    }
}
