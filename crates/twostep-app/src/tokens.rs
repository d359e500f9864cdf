//! The opaque strings clients hold: secret tokens (sessions, password
//! tokens, report tokens) and challenge handles. Each names the account
//! stream it belongs to, so it is checked against that stream alone; only a
//! digest of the secret is ever stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use twostep_domain::{Digest, UserId};
use uuid::Uuid;

use subtle::ConstantTimeEq;

use crate::crypto::{ServiceKey, token_digest};

/// What a secret token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A session (bearer token).
    Session,
    /// An access confirmation or password reset token.
    Password,
    /// A report token for an unrequested code.
    Report,
}

impl TokenKind {
    /// The token's visible prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "tss",
            TokenKind::Password => "tsp",
            TokenKind::Report => "tsr",
        }
    }
}

/// A secret token: `{prefix}_{base64url(owner ‖ id ‖ 256-bit secret)}`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken {
    /// What it opens.
    pub kind: TokenKind,
    /// The user whose account stream holds its digest.
    pub owner: Uuid,
    /// Session id, token id or code id.
    pub id: Uuid,
    /// The secret.
    pub secret: [u8; 32],
}

impl SecretToken {
    /// Parses a token of the expected kind; `None` for anything else.
    pub fn parse(kind: TokenKind, text: &str) -> Option<Self> {
        let body = text.trim().strip_prefix(kind.prefix())?.strip_prefix('_')?;
        if body.len() > 100 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        let bytes: [u8; 64] = bytes.try_into().ok()?;
        let owner = Uuid::from_slice(&bytes[..16]).ok()?;
        let id = Uuid::from_slice(&bytes[16..32]).ok()?;
        let secret: [u8; 32] = bytes[32..].try_into().ok()?;
        Some(Self {
            kind,
            owner,
            id,
            secret,
        })
    }

    /// The text handed to the client.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(self.owner.as_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        bytes.extend_from_slice(&self.secret);
        format!("{}_{}", self.kind.prefix(), URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The owner as a user id.
    pub fn user(&self) -> UserId {
        UserId(self.owner)
    }

    /// SHA-256 of the secret, as stored.
    pub fn digest(&self) -> Digest {
        token_digest(self.kind, &self.secret)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretToken({:?}, owner {}, id {}, <redacted>)",
            self.kind, self.owner, self.id
        )
    }
}

/// A challenge as the client names it:
/// `ch_{base64url(user id ‖ challenge id ‖ tag)}`, where the tag is a MAC of
/// both ids with the service key. Only the service can make one, so a
/// handle that does not verify is refused before any stream is read: nobody
/// can probe which users exist (user ids are derived from public names) or
/// write into their history without having passed their password step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeHandle {
    /// The user.
    pub user: UserId,
    /// The challenge.
    pub challenge_id: Uuid,
}

impl ChallengeHandle {
    /// Parses and verifies a handle; `None` if it is not one the service made.
    pub fn parse(text: &str, key: &ServiceKey) -> Option<Self> {
        let body = text.trim().strip_prefix("ch_")?;
        if body.len() > 70 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        let bytes: [u8; 48] = bytes.try_into().ok()?;
        let user = UserId(Uuid::from_slice(&bytes[..16]).ok()?);
        let challenge_id = Uuid::from_slice(&bytes[16..32]).ok()?;
        let genuine: bool = key
            .handle_tag(user, challenge_id)
            .ct_eq(&bytes[32..])
            .into();
        genuine.then_some(Self { user, challenge_id })
    }

    /// Reads the ids of a handle without checking its tag: for read-only
    /// tools (`twostep replay`) that then look the challenge up in the
    /// named user's stream, and find nothing if the handle was forged.
    pub fn read_untrusted(text: &str) -> Option<Self> {
        let body = text.trim().strip_prefix("ch_")?;
        if body.len() > 70 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        let bytes: [u8; 48] = bytes.try_into().ok()?;
        let user = UserId(Uuid::from_slice(&bytes[..16]).ok()?);
        let challenge_id = Uuid::from_slice(&bytes[16..32]).ok()?;
        Some(Self { user, challenge_id })
    }

    /// The text handed to the client.
    pub fn encode(&self, key: &ServiceKey) -> String {
        let mut bytes = Vec::with_capacity(48);
        bytes.extend_from_slice(self.user.0.as_bytes());
        bytes.extend_from_slice(self.challenge_id.as_bytes());
        bytes.extend_from_slice(&key.handle_tag(self.user, self.challenge_id));
        format!("ch_{}", URL_SAFE_NO_PAD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_keep_their_kind() {
        let token = SecretToken {
            kind: TokenKind::Session,
            owner: Uuid::from_u128(1),
            id: Uuid::from_u128(2),
            secret: [9; 32],
        };
        let text = token.encode();
        assert!(text.starts_with("tss_"));
        assert_eq!(text.len(), 4 + 86);
        assert_eq!(
            SecretToken::parse(TokenKind::Session, &text),
            Some(token.clone())
        );
        assert_eq!(SecretToken::parse(TokenKind::Password, &text), None);
        assert_eq!(SecretToken::parse(TokenKind::Session, "tss_short"), None);
        assert_eq!(SecretToken::parse(TokenKind::Session, ""), None);
        assert!(!format!("{token:?}").contains("9, 9"));
    }

    #[test]
    fn digests_differ_by_kind() {
        let session = SecretToken {
            kind: TokenKind::Session,
            owner: Uuid::nil(),
            id: Uuid::nil(),
            secret: [1; 32],
        };
        let report = SecretToken {
            kind: TokenKind::Report,
            ..session.clone()
        };
        assert_ne!(session.digest(), report.digest());
    }

    #[test]
    fn challenge_handles_round_trip() {
        let handle = ChallengeHandle {
            user: UserId(Uuid::from_u128(5)),
            challenge_id: Uuid::from_u128(6),
        };
        let key = ServiceKey::new(&[1; 32]);
        let text = handle.encode(&key);
        assert_eq!(ChallengeHandle::parse(&text, &key), Some(handle));
        assert_eq!(
            ChallengeHandle::parse(&text, &ServiceKey::new(&[2; 32])),
            None,
            "another key"
        );
        assert_eq!(ChallengeHandle::parse("ch_!!", &key), None);
        assert_eq!(ChallengeHandle::parse("nope", &key), None);
    }

    #[test]
    fn a_forged_handle_does_not_verify() {
        let key = ServiceKey::new(&[1; 32]);
        let genuine = ChallengeHandle {
            user: UserId(Uuid::from_u128(5)),
            challenge_id: Uuid::from_u128(6),
        };
        let other = ChallengeHandle {
            user: UserId(Uuid::from_u128(7)),
            ..genuine
        };
        let text = genuine.encode(&key);
        let bytes = URL_SAFE_NO_PAD.decode(&text[3..]).unwrap_or_default();
        let mut swapped = other.user.0.as_bytes().to_vec();
        swapped.extend_from_slice(&bytes[16..]);
        let forged = format!("ch_{}", URL_SAFE_NO_PAD.encode(swapped));
        assert_eq!(
            ChallengeHandle::parse(&forged, &key),
            None,
            "another user with the same tag"
        );
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert_eq!(
            ChallengeHandle::parse(&format!("ch_{}", URL_SAFE_NO_PAD.encode(flipped)), &key),
            None
        );
    }
}
