//! Identifiers: licence names and logins, compared as identifiers, and the
//! stable ids and stream names derived from them.
//!
//! `Alice`, ` alice` and `ａｌｉｃｅ` are one login: the comparison key is the
//! trimmed text after NFKC, full Unicode case folding and NFKC again (the
//! `NFKC_Casefold` recipe of UAX #31). Ids are UUIDv5 of that key, so the
//! stream of a licence or a user is found without consulting any read model.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

/// Namespace of licence ids (UUIDv5 of the licence name key).
const LICENCE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_8d3b_4f6a_9c2e_5b7d_1a0e_3c91);

/// Longest licence name or login accepted, in characters after trimming.
pub const MAX_IDENTIFIER_CHARS: usize = 128;

/// Why a licence name or login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Nothing left after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_IDENTIFIER_CHARS`].
    #[error("must be at most {MAX_IDENTIFIER_CHARS} characters")]
    TooLong,
    /// Contains a control or other invisible formatting character.
    #[error("must not contain control or invisible formatting characters")]
    ControlCharacter,
}

/// The comparison key of an identifier: trim, NFKC, case fold, NFKC.
pub fn identifier_key(raw: &str) -> String {
    let compatible: String = raw.nfkc().collect();
    let folded = caseless::default_case_fold_str(compatible.trim());
    folded.nfkc().collect()
}

/// Invisible formatting characters (Unicode `Cf` that render as nothing, and
/// bidirectional controls): a login containing one would look exactly like
/// another login without it.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn checked_display(raw: &str) -> Result<String, IdentifierError> {
    let display: String = raw.nfc().collect::<String>().trim().to_owned();
    if display.is_empty() || identifier_key(&display).is_empty() {
        return Err(IdentifierError::Empty);
    }
    if display.chars().count() > MAX_IDENTIFIER_CHARS {
        return Err(IdentifierError::TooLong);
    }
    if display.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(IdentifierError::ControlCharacter);
    }
    Ok(display)
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            display: String,
            key: String,
        }

        impl $name {
            /// Validates and normalises raw input.
            pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
                let display = checked_display(raw)?;
                let key = identifier_key(&display);
                Ok(Self { display, key })
            }

            /// The spelling given when it was created (trimmed, NFC).
            pub fn display(&self) -> &str {
                &self.display
            }

            /// The comparison key.
            pub fn key(&self) -> &str {
                &self.key
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.display)
            }
        }
    };
}

identifier!(
    /// The name of a licence (tenant), unique across the service.
    LicenceName
);
identifier!(
    /// A user's login, unique within its licence.
    Login
);

/// Id of a licence: UUIDv5 of its name key.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct LicenceId(pub Uuid);

/// Id of a user: UUIDv5 of the login key in the licence's namespace.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl LicenceId {
    /// The id every spelling of this licence name maps to.
    pub fn of(name_key: &str) -> Self {
        Self(Uuid::new_v5(&LICENCE_NAMESPACE, name_key.as_bytes()))
    }

    /// The event stream of this licence (settings and user directory).
    pub fn stream(self) -> String {
        format!("licence-{}", self.0.simple())
    }

    /// The stream recording password steps for logins unknown to this licence.
    pub fn attempts_stream(self) -> String {
        format!("attempts-{}", self.0.simple())
    }
}

/// Stream recording password steps for licence names nobody registered.
pub const UNKNOWN_LICENCE_ATTEMPTS_STREAM: &str = "attempts-unknown-licence";

impl UserId {
    /// The id every spelling of this login in this licence maps to.
    pub fn of(licence: LicenceId, login_key: &str) -> Self {
        Self(Uuid::new_v5(&licence.0, login_key.as_bytes()))
    }

    /// The event stream of this user's account (credentials, login steps, sessions).
    pub fn stream(self) -> String {
        format!("account-{}", self.0.simple())
    }
}

impl fmt::Debug for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenceId({})", self.0)
    }
}
impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}
impl fmt::Display for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_login_share_one_key() {
        let keys: Vec<String> = ["Alice", " alice", "ａｌｉｃｅ", "ALICE\t"]
            .iter()
            .map(|raw| identifier_key(raw))
            .collect();
        assert!(keys.iter().all(|key| key == "alice"), "{keys:?}");
    }

    #[test]
    fn full_case_folding_applies() {
        assert_eq!(identifier_key("Straße"), "strasse");
        assert_eq!(identifier_key("ΣΊΣΥΦΟΣ"), identifier_key("σίσυφος"));
    }

    #[test]
    fn spellings_map_to_one_id() {
        let licence = LicenceId::of(
            LicenceName::parse(" ACME ")
                .map(|n| n.key().to_owned())
                .as_deref()
                .unwrap_or(""),
        );
        assert_eq!(licence, LicenceId::of("acme"));
        let alice = Login::parse("ａｌｉｃｅ").map(|l| UserId::of(licence, l.key()));
        assert_eq!(alice, Ok(UserId::of(licence, "alice")));
    }

    #[test]
    fn display_keeps_the_given_spelling() {
        let login = Login::parse("  Alice ").map(|l| l.display().to_owned());
        assert_eq!(login.as_deref(), Ok("Alice"));
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(Login::parse("   "), Err(IdentifierError::Empty));
        assert_eq!(
            Login::parse(&"a".repeat(129)),
            Err(IdentifierError::TooLong)
        );
        assert!(Login::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            Login::parse("al\u{0}ice"),
            Err(IdentifierError::ControlCharacter)
        );
    }

    #[test]
    fn refuses_invisible_characters_that_would_spoof_another_login() {
        for spoof in [
            "alice\u{200B}",
            "al\u{200D}ice",
            "\u{FEFF}alice",
            "ali\u{202E}ce",
            "alice\u{00AD}",
        ] {
            assert_eq!(
                Login::parse(spoof),
                Err(IdentifierError::ControlCharacter),
                "{spoof:?}"
            );
        }
        assert!(
            Login::parse("zoë.ångström").is_ok(),
            "letters with diacritics stay allowed"
        );
    }

    #[test]
    fn streams_are_named_by_id() {
        let id = LicenceId(Uuid::nil());
        assert_eq!(id.stream(), "licence-00000000000000000000000000000000");
        assert_eq!(
            UserId(Uuid::nil()).stream(),
            "account-00000000000000000000000000000000"
        );
    }
}
