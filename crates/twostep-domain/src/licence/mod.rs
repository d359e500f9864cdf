//! The licence aggregate: a tenant's settings (two-factor channel and login
//! policy) and its user directory. Everything that must hold across users of
//! one licence — unique logins, "SMS only when every active user has a mobile
//! number" — is decided here, on one stream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{AlertKind, SecurityAlert};
use crate::contact::{Channel, EmailAddress, MobileNumber};
use crate::identity::{LicenceId, LicenceName, Login, UserId};
use crate::policy::{LoginPolicy, PolicyError, PolicyPatch};

/// Events of a licence stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum LicenceEvent {
    /// The licence was registered under a name.
    LicenceRegistered {
        /// Derived from the name key.
        licence_id: LicenceId,
        /// The name as given (trimmed).
        name: String,
    },
    /// Two-factor authentication was switched on, or its channel or policy changed.
    TwoFactorEnabled {
        /// Channel used for every user.
        channel: Channel,
        /// Policy in force from now on.
        policy: LoginPolicy,
    },
    /// Two-factor authentication was switched off.
    TwoFactorDisabled {},
    /// A user was added to the licence.
    UserCreated {
        /// Derived from the login key.
        user_id: UserId,
        /// The login as given (trimmed, NFC).
        login: String,
        /// Where access e-mails (and e-mail codes) go.
        email: EmailAddress,
        /// Where SMS codes go.
        mobile: Option<MobileNumber>,
    },
    /// A user's e-mail address changed; codes sent to the old one are void.
    UserEmailChanged {
        /// The user.
        user_id: UserId,
        /// The new address.
        email: EmailAddress,
        /// The old address, which is told of the change.
        previous: EmailAddress,
    },
    /// A user's mobile number was set, changed or removed.
    UserMobileChanged {
        /// The user.
        user_id: UserId,
        /// The new number, if any.
        mobile: Option<MobileNumber>,
        /// The old number, if any, which is told of the change.
        previous: Option<MobileNumber>,
    },
    /// A user was deactivated: no login step can finish.
    UserDeactivated {
        /// The user.
        user_id: UserId,
    },
    /// A deactivated user was made active again.
    UserReactivated {
        /// The user.
        user_id: UserId,
    },
    /// A security alert about a user of this licence.
    SecurityAlertRaised(SecurityAlert),
}

/// Commands on a licence.
#[derive(Debug, Clone)]
pub enum LicenceCommand {
    /// Register a new licence.
    Register {
        /// Its name.
        name: LicenceName,
    },
    /// Switch two-factor on (or change channel / policy).
    EnableTwoFactor {
        /// The channel for everyone.
        channel: Channel,
        /// Policy fields to change; the others keep their value.
        policy: PolicyPatch,
    },
    /// Switch two-factor off.
    DisableTwoFactor,
    /// Add a user.
    CreateUser {
        /// The login, unique in the licence.
        login: Login,
        /// Required.
        email: EmailAddress,
        /// Required while the licence uses SMS.
        mobile: Option<MobileNumber>,
    },
    /// "Manage users": change contact details or active flag.
    UpdateUser {
        /// Which user.
        login: Login,
        /// New e-mail address.
        email: Option<EmailAddress>,
        /// `Some(None)` removes the mobile number.
        mobile: Option<Option<MobileNumber>>,
        /// Activate or deactivate.
        active: Option<bool>,
    },
}

/// Why a licence command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceRejection {
    /// A licence with this name (in any spelling) exists.
    #[error("a licence with this name already exists")]
    AlreadyRegistered,
    /// No licence with this name.
    #[error("no licence with this name")]
    UnknownLicence,
    /// SMS needs a valid mobile number for every active user; these lack one.
    #[error("these active users have no valid mobile number: {}", .0.join(", "))]
    MissingMobileNumbers(Vec<String>),
    /// A policy field out of bounds.
    #[error(transparent)]
    InvalidPolicy(#[from] PolicyError),
    /// The login (in any spelling) is taken.
    #[error("this login is already taken in the licence")]
    LoginTaken,
    /// The licence uses SMS: the user needs a valid mobile number.
    #[error("the licence uses SMS codes: a valid mobile number is required")]
    MobileRequired,
    /// No such user in the licence.
    #[error("no such user in this licence")]
    UnknownUser,
}

/// A user as the licence directory knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user's id.
    pub user_id: UserId,
    /// Login as given.
    pub login: String,
    /// E-mail address.
    pub email: EmailAddress,
    /// Mobile number.
    pub mobile: Option<MobileNumber>,
    /// Deactivated users cannot log in.
    pub active: bool,
    /// Stream version of the last change of the e-mail address.
    pub email_since: u64,
    /// Stream version of the last change of the mobile number.
    pub mobile_since: u64,
    /// Stream version of the last creation, deactivation or reactivation.
    pub active_since: u64,
}

/// Where a user's codes go right now, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRoute {
    /// The licence channel.
    pub channel: Channel,
    /// The full destination (address or number); `None` if the user has none.
    pub destination: Option<String>,
    /// Masked destination, for answers and history.
    pub masked: String,
    /// Licence stream version since which codes go there; codes issued under
    /// an older epoch are void.
    pub epoch: u64,
}

/// What the licence says about one user when their account decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The licence.
    pub licence_id: LicenceId,
    /// The user.
    pub user_id: UserId,
    /// Deactivated users cannot log in.
    pub active: bool,
    /// The policy in force.
    pub policy: LoginPolicy,
    /// `None` when the licence has no two-factor authentication.
    pub route: Option<CodeRoute>,
    /// Licence version since which the user's e-mail address is the current
    /// one: password tokens sent to an older address are void.
    pub email_epoch: u64,
    /// Licence version of the user's last creation, deactivation or
    /// reactivation: sessions started before it are void.
    pub activation_epoch: u64,
}

/// Folded state of a licence stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Licence {
    /// Events folded so far (the stream version).
    pub version: u64,
    /// Set once registered.
    pub id: Option<LicenceId>,
    /// Name as registered.
    pub name: String,
    /// The two-factor channel, if switched on.
    pub channel: Option<Channel>,
    /// Stream version of the last channel switch.
    pub channel_since: u64,
    /// Policy in force (defaults until set).
    pub policy: LoginPolicy,
    /// Users by login key.
    pub users: BTreeMap<UserId, UserRecord>,
}

impl Licence {
    /// Whether the stream holds a registration.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// A user by id.
    pub fn user(&self, user_id: UserId) -> Option<&UserRecord> {
        self.users.get(&user_id)
    }

    /// A user by login, in any spelling.
    pub fn user_by_login(&self, login: &Login) -> Option<&UserRecord> {
        let id = self.id?;
        self.users.get(&UserId::of(id, login.key()))
    }

    /// What the licence says about a user, for the account's decisions.
    pub fn standing(&self, user_id: UserId) -> Option<Standing> {
        let licence_id = self.id?;
        let user = self.users.get(&user_id)?;
        let route = self.channel.map(|channel| {
            let (destination, masked, since) = match channel {
                Channel::Email => (
                    Some(user.email.as_str().to_owned()),
                    user.email.masked(),
                    user.email_since,
                ),
                Channel::Sms => (
                    user.mobile.as_ref().map(|m| m.as_str().to_owned()),
                    user.mobile
                        .as_ref()
                        .map(MobileNumber::masked)
                        .unwrap_or_default(),
                    user.mobile_since,
                ),
            };
            CodeRoute {
                channel,
                destination,
                masked,
                epoch: since.max(self.channel_since),
            }
        });
        Some(Standing {
            licence_id,
            user_id,
            active: user.active,
            policy: self.policy,
            route,
            email_epoch: user.email_since,
            activation_epoch: user.active_since,
        })
    }

    /// Folds one event.
    pub fn evolve(mut self, event: &LicenceEvent) -> Self {
        self.version += 1;
        let version = self.version;
        match event {
            LicenceEvent::LicenceRegistered { licence_id, name } => {
                self.id = Some(*licence_id);
                self.name = name.clone();
            }
            LicenceEvent::TwoFactorEnabled { channel, policy } => {
                if self.channel != Some(*channel) {
                    self.channel_since = version;
                }
                self.channel = Some(*channel);
                self.policy = *policy;
            }
            LicenceEvent::TwoFactorDisabled {} => {
                self.channel = None;
                self.channel_since = version;
            }
            LicenceEvent::UserCreated {
                user_id,
                login,
                email,
                mobile,
            } => {
                let record = UserRecord {
                    user_id: *user_id,
                    login: login.clone(),
                    email: email.clone(),
                    mobile: mobile.clone(),
                    active: true,
                    email_since: version,
                    mobile_since: version,
                    active_since: version,
                };
                self.users.insert(*user_id, record);
            }
            LicenceEvent::UserEmailChanged { user_id, email, .. } => {
                if let Some(user) = self.users.get_mut(user_id) {
                    user.email = email.clone();
                    user.email_since = version;
                }
            }
            LicenceEvent::UserMobileChanged {
                user_id, mobile, ..
            } => {
                if let Some(user) = self.users.get_mut(user_id) {
                    user.mobile = mobile.clone();
                    user.mobile_since = version;
                }
            }
            LicenceEvent::UserDeactivated { user_id } => {
                if let Some(user) = self.users.get_mut(user_id) {
                    user.active = false;
                    user.active_since = version;
                }
            }
            LicenceEvent::UserReactivated { user_id } => {
                if let Some(user) = self.users.get_mut(user_id) {
                    user.active = true;
                    user.active_since = version;
                }
            }
            LicenceEvent::SecurityAlertRaised(_) => {}
        }
        self
    }

    /// Decides a command: the events to append, or why not.
    pub fn decide(&self, command: &LicenceCommand) -> Result<Vec<LicenceEvent>, LicenceRejection> {
        if let LicenceCommand::Register { name } = command {
            return if self.exists() {
                Err(LicenceRejection::AlreadyRegistered)
            } else {
                Ok(vec![LicenceEvent::LicenceRegistered {
                    licence_id: LicenceId::of(name.key()),
                    name: name.display().to_owned(),
                }])
            };
        }
        let Some(licence_id) = self.id else {
            return Err(LicenceRejection::UnknownLicence);
        };
        match command {
            LicenceCommand::Register { .. } => Err(LicenceRejection::AlreadyRegistered),
            LicenceCommand::EnableTwoFactor { channel, policy } => {
                self.enable_two_factor(*channel, policy)
            }
            LicenceCommand::DisableTwoFactor => Ok(if self.channel.is_some() {
                vec![LicenceEvent::TwoFactorDisabled {}]
            } else {
                vec![]
            }),
            LicenceCommand::CreateUser {
                login,
                email,
                mobile,
            } => {
                let user_id = UserId::of(licence_id, login.key());
                if self.users.contains_key(&user_id) {
                    return Err(LicenceRejection::LoginTaken);
                }
                if self.channel == Some(Channel::Sms) && mobile.is_none() {
                    return Err(LicenceRejection::MobileRequired);
                }
                Ok(vec![LicenceEvent::UserCreated {
                    user_id,
                    login: login.display().to_owned(),
                    email: email.clone(),
                    mobile: mobile.clone(),
                }])
            }
            LicenceCommand::UpdateUser {
                login,
                email,
                mobile,
                active,
            } => {
                let user = self
                    .user_by_login(login)
                    .ok_or(LicenceRejection::UnknownUser)?;
                self.update_user(user, email.as_ref(), mobile.as_ref(), *active)
            }
        }
    }

    fn enable_two_factor(
        &self,
        channel: Channel,
        patch: &PolicyPatch,
    ) -> Result<Vec<LicenceEvent>, LicenceRejection> {
        let policy = self.policy.patched(patch)?;
        if channel == Channel::Sms {
            let missing: Vec<String> = self
                .users
                .values()
                .filter(|u| u.active && u.mobile.is_none())
                .map(|u| u.login.clone())
                .collect();
            if !missing.is_empty() {
                return Err(LicenceRejection::MissingMobileNumbers(missing));
            }
        }
        if self.channel == Some(channel) && self.policy == policy {
            return Ok(vec![]);
        }
        Ok(vec![LicenceEvent::TwoFactorEnabled { channel, policy }])
    }

    fn update_user(
        &self,
        user: &UserRecord,
        email: Option<&EmailAddress>,
        mobile: Option<&Option<MobileNumber>>,
        active: Option<bool>,
    ) -> Result<Vec<LicenceEvent>, LicenceRejection> {
        let user_id = user.user_id;
        let mobile_after = mobile.cloned().unwrap_or_else(|| user.mobile.clone());
        let active_after = active.unwrap_or(user.active);
        if self.channel == Some(Channel::Sms) && active_after && mobile_after.is_none() {
            return Err(LicenceRejection::MobileRequired);
        }
        let mut events = Vec::new();
        let mut contact_versions = Vec::new();
        if let Some(email) = email.filter(|e| **e != user.email) {
            events.push(LicenceEvent::UserEmailChanged {
                user_id,
                email: email.clone(),
                previous: user.email.clone(),
            });
            contact_versions.push(self.version + events.len() as u64);
        }
        if mobile_after != user.mobile {
            events.push(LicenceEvent::UserMobileChanged {
                user_id,
                mobile: mobile_after,
                previous: user.mobile.clone(),
            });
            contact_versions.push(self.version + events.len() as u64);
        }
        if active_after != user.active {
            events.push(if active_after {
                LicenceEvent::UserReactivated { user_id }
            } else {
                LicenceEvent::UserDeactivated { user_id }
            });
        }
        if !contact_versions.is_empty() {
            let version = self.version + events.len() as u64 + 1;
            let owner = self.id.map(|id| id.0).unwrap_or_default();
            let alert = SecurityAlert::new(
                owner,
                version,
                AlertKind::ContactChanged,
                user_id,
                contact_versions,
            );
            events.push(LicenceEvent::SecurityAlertRaised(alert));
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
