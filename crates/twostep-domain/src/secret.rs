//! Secrets as the domain handles them: passwords before hashing, one-time
//! codes before digesting, and the digests that are all the log ever keeps.
//! None of these types print their content in `Debug`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::identity::UserId;

/// Most UTF-8 bytes a password may have; longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters in a password.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters or [`MAX_PASSWORD_BYTES`] bytes.
    #[error("must be at most {MAX_PASSWORD_CHARS} characters and {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

/// A password in canonical form: NFC-normalised (not NFKC: a full-width
/// password is a different password).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Normalises a candidate for hashing or verification. Input over
    /// [`MAX_PASSWORD_BYTES`] is refused before any other work.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        let normalised: String = raw.nfc().collect();
        let chars = normalised.chars().count();
        if chars > MAX_PASSWORD_CHARS || normalised.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(Self(normalised))
    }

    /// Normalises a login attempt's password. Unlike [`Password::parse`] the
    /// length rules are not applied (a short password is simply wrong), but the
    /// byte limit still is, so no oversized input reaches the hasher.
    pub fn candidate(raw: &str) -> Option<Self> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return None;
        }
        Some(Self(raw.nfc().collect()))
    }

    /// The bytes to hash or verify.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A 256-bit digest (token hash, keyed code hash), hex in JSON, compared in
/// constant time.
#[derive(Clone, Copy)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Hex text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Digest {}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({}…)", &self.to_hex()[..8])
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
        Ok(Self(bytes))
    }
}

impl schemars::JsonSchema for Digest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Digest".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-9a-f]{64}$" })
    }
}

/// A one-time code in clear: only ever in memory, on its way to a message.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// Builds a code of `length` digits from uniform random digits (each 0–9),
    /// keeping leading zeros. `digits` must hold at least `length` values.
    pub fn from_digits(digits: &[u8], length: usize) -> Self {
        Self(
            digits
                .iter()
                .take(length)
                .map(|d| char::from(b'0' + d % 10))
                .collect(),
        )
    }

    /// Reads a submitted code: surrounding whitespace trimmed, then exactly
    /// `length` ASCII digits, or `None` (malformed, not a guess).
    pub fn submitted(raw: &str, length: usize) -> Option<Self> {
        let trimmed = raw.trim();
        (trimmed.len() == length && trimmed.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(trimmed.to_owned()))
    }

    /// The digits, for the message that carries them.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

/// Computes the keyed digest a code is stored as: bound to the user and the
/// code id, so a digest copied to another code or user never matches.
/// Implemented outside the domain with the service secret (HMAC-SHA-256).
pub trait CodeKey {
    /// The digest of `code` issued to `user` under `code_id`.
    fn digest(&self, user: UserId, code_id: Uuid, code: &OneTimeCode) -> Digest;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_nfc_not_nfkc() {
        let composed = Password::parse("caf\u{e9}-secret");
        let decomposed = Password::parse("cafe\u{301}-secret");
        assert_eq!(composed, decomposed);
        let full_width = Password::parse("ｐａｓｓｗｏｒｄ");
        assert_ne!(full_width, Password::parse("password"));
    }

    #[test]
    fn password_length_rules() {
        assert_eq!(Password::parse("1234567"), Err(PasswordError::TooShort));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(256)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(257)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            Password::parse(&"é".repeat(200)).map(|_| ()),
            Ok(()),
            "200 chars, 400 bytes"
        );
        assert!(
            Password::parse(&"😀".repeat(256)).is_ok(),
            "256 chars, exactly 1024 bytes: at most, not over"
        );
        assert_eq!(
            Password::parse(&format!("{}x", "😀".repeat(256))),
            Err(PasswordError::TooLong),
            "1025 bytes"
        );
        assert_eq!(
            Password::parse(&"x".repeat(1025)),
            Err(PasswordError::TooLong)
        );
        assert!(Password::candidate(&"x".repeat(1025)).is_none());
    }

    #[test]
    fn codes_keep_leading_zeros() {
        assert_eq!(
            OneTimeCode::from_digits(&[0, 0, 7, 1, 2, 3, 9], 6).as_str(),
            "007123"
        );
    }

    #[test]
    fn submitted_codes_must_be_exact_digits() {
        assert_eq!(
            OneTimeCode::submitted(" 012345 ", 6).map(|c| c.as_str().to_owned()),
            Some("012345".into())
        );
        assert!(OneTimeCode::submitted("12345", 6).is_none());
        assert!(OneTimeCode::submitted("1234567", 6).is_none());
        assert!(OneTimeCode::submitted("12a456", 6).is_none());
        assert!(
            OneTimeCode::submitted("１２３４５６", 6).is_none(),
            "full-width digits are not ASCII"
        );
        assert!(OneTimeCode::submitted("12 456", 6).is_none());
    }

    #[test]
    fn secrets_never_print() {
        let password = Password::parse("correct horse").map(|p| format!("{p:?}"));
        assert_eq!(password.as_deref(), Ok("Password(<redacted>)"));
        assert_eq!(
            format!("{:?}", OneTimeCode::from_digits(&[1, 2, 3, 4, 5, 6], 6)),
            "OneTimeCode(<redacted>)"
        );
    }

    #[test]
    fn digests_round_trip_as_hex() {
        let digest = Digest([0xab; 32]);
        let json = serde_json::to_string(&digest).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        let back: Result<Digest, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(digest));
    }
}
