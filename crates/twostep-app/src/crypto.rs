//! Keys and digests: the service secret, the keyed code digest, token
//! digests and random values. Secrets never leave this module in clear
//! except towards the message that carries them.

use hmac::{Hmac, KeyInit, Mac};
use rand::{Rng, RngExt};
use sha2::{Digest as _, Sha256};
use twostep_domain::account::{Fresh, MAX_CODE_DIGITS, NewToken};
use twostep_domain::{CodeKey, Digest, OneTimeCode, UserId};
use uuid::Uuid;

use crate::tokens::{SecretToken, TokenKind};

type HmacSha256 = Hmac<Sha256>;

/// Fewest bytes accepted for the service secret.
pub const MIN_SECRET_BYTES: usize = 32;

/// The service secret and the keys derived from it (one per purpose, so a
/// digest made for one purpose never verifies for another).
#[derive(Clone)]
pub struct ServiceKey {
    code_key: [u8; 32],
    identifier_key: [u8; 32],
    handle_key: [u8; 32],
    checkpoint_key: [u8; 32],
    address_key: [u8; 32],
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey(<redacted>)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl ServiceKey {
    /// Derives the keys from the service secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            code_key: hmac(secret, &[b"twostep/code-digest/v1"]),
            identifier_key: hmac(secret, &[b"twostep/identifier-digest/v1"]),
            handle_key: hmac(secret, &[b"twostep/challenge-handle/v1"]),
            checkpoint_key: hmac(secret, &[b"twostep/audit-checkpoint/v1"]),
            address_key: hmac(secret, &[b"twostep/client-address/v1"]),
        }
    }

    /// The keyed digest a client address is remembered by in an account
    /// stream (the address itself stays in the event metadata only).
    pub fn address_digest(&self, address: std::net::IpAddr) -> Digest {
        Digest(hmac(&self.address_key, &[address.to_string().as_bytes()]))
    }

    /// The keyed digest grouping attempts on an unknown licence/login pair.
    pub fn identifier_digest(&self, licence_key: &str, login_key: &str) -> Digest {
        Digest(hmac(
            &self.identifier_key,
            &[licence_key.as_bytes(), &[0], login_key.as_bytes()],
        ))
    }
}

impl ServiceKey {
    /// The tag that makes a challenge handle unforgeable: the first 128 bits
    /// of an HMAC of the user and challenge ids.
    pub fn handle_tag(&self, user: UserId, challenge_id: Uuid) -> [u8; 16] {
        let mac = hmac(
            &self.handle_key,
            &[user.0.as_bytes(), challenge_id.as_bytes()],
        );
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&mac[..16]);
        tag
    }
}

impl ServiceKey {
    /// The signature of an audit checkpoint: HMAC-SHA256 of its canonical
    /// text under a key only checkpoints use, hex.
    pub fn checkpoint_mac(&self, canonical: &str) -> String {
        hex::encode(hmac(&self.checkpoint_key, &[canonical.as_bytes()]))
    }

    /// Whether `mac` (hex) signs `canonical`, compared in constant time.
    pub fn checkpoint_mac_matches(&self, canonical: &str, mac: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let expected = self.checkpoint_mac(canonical);
        expected.len() == mac.len() && bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
    }
}

impl CodeKey for ServiceKey {
    fn digest(&self, user: UserId, code_id: Uuid, code: &OneTimeCode) -> Digest {
        Digest(hmac(
            &self.code_key,
            &[
                user.0.as_bytes(),
                code_id.as_bytes(),
                code.as_str().as_bytes(),
            ],
        ))
    }
}

/// SHA-256 of a token secret, tagged with the token kind.
pub fn token_digest(kind: TokenKind, secret: &[u8; 32]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update(kind.prefix().as_bytes());
    hasher.update([0]);
    hasher.update(secret);
    Digest(hasher.finalize().into())
}

/// Random bytes from the thread's CSPRNG (ChaCha, seeded from the OS).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A new random UUID (v4).
pub fn random_id() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// A new secret token for `owner` (a user id) and its digest.
pub fn new_token(kind: TokenKind, owner: UserId) -> (SecretToken, NewToken) {
    let token = SecretToken {
        kind,
        owner: owner.0,
        id: random_id(),
        secret: random_bytes(),
    };
    let new = NewToken {
        token_id: token.id,
        digest: token.digest(),
    };
    (token, new)
}

/// Random values for a password step, and the clear-text tokens that go with them.
pub struct FreshLogin {
    /// What the decider gets.
    pub fresh: Fresh,
    /// The report token for the code's message.
    pub report_token: SecretToken,
    /// The session token, should a session start.
    pub session_token: SecretToken,
}

/// Draws every random value a password step may need.
pub fn fresh_login(user: UserId) -> FreshLogin {
    let mut rng = rand::rng();
    let mut code_digits = [0u8; MAX_CODE_DIGITS];
    for digit in &mut code_digits {
        *digit = rng.random_range(0..10u8);
    }
    let code_id = random_id();
    let report_token = SecretToken {
        kind: TokenKind::Report,
        owner: user.0,
        id: code_id,
        secret: random_bytes(),
    };
    let (session_token, session) = new_token(TokenKind::Session, user);
    let fresh = Fresh {
        challenge_id: random_id(),
        code_id,
        code_digits,
        report_digest: report_token.digest(),
        session,
    };
    FreshLogin {
        fresh,
        report_token,
        session_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_digests_are_bound_to_user_code_and_key() {
        let key = ServiceKey::new(&[7; 32]);
        let code = OneTimeCode::from_digits(&[1, 2, 3, 4, 5, 6], 6);
        let user = UserId(Uuid::from_u128(1));
        let id = Uuid::from_u128(2);
        let digest = key.digest(user, id, &code);
        assert_eq!(digest, key.digest(user, id, &code));
        assert_ne!(digest, key.digest(UserId(Uuid::from_u128(3)), id, &code));
        assert_ne!(digest, key.digest(user, Uuid::from_u128(3), &code));
        assert_ne!(digest, ServiceKey::new(&[8; 32]).digest(user, id, &code));
    }

    #[test]
    fn fresh_digits_are_digits() {
        let fresh = fresh_login(UserId(Uuid::from_u128(1)));
        assert!(fresh.fresh.code_digits.iter().all(|d| *d < 10));
        assert_eq!(fresh.report_token.id, fresh.fresh.code_id);
    }
}
