//! argon2id hashing and verification, off the async threads, with bounded
//! concurrency (each verification holds 19 MiB) and a dummy hash so that an
//! unknown user costs the same verification as a known one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use twostep_domain::Password;

use crate::crypto::random_bytes;

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const PASSES: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;

/// Why hashing did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Too many hashes queued: the caller should come back later.
    #[error("too many password verifications in progress")]
    Overloaded,
    /// The hasher failed (a bug or a corrupt stored hash).
    #[error("password hashing failed")]
    Failed,
}

/// Hashes and verifies passwords with argon2id.
pub struct PasswordHasher {
    argon: Argon2<'static>,
    dummy: String,
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    max_queued: usize,
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once and refusing new
    /// work when `max_queued` are already waiting or running.
    pub fn new(concurrency: usize, max_queued: usize) -> Result<Self, HashError> {
        let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|_| HashError::Failed)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = hash_with(&argon, &random_bytes::<32>())?;
        Ok(Self {
            argon,
            dummy,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            queued: AtomicUsize::new(0),
            max_queued: max_queued.max(1),
        })
    }

    /// The PHC string of a new password.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let argon = self.argon.clone();
        let bytes = password.as_bytes().to_vec();
        self.run(move || hash_with(&argon, &bytes)).await?
    }

    /// Whether `password` matches `stored`. With no stored hash the dummy
    /// hash is verified instead (same cost) and the answer is `false`.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &Password,
    ) -> Result<bool, HashError> {
        let argon = self.argon.clone();
        let bytes = password.as_bytes().to_vec();
        let real = stored.is_some();
        let phc = stored.unwrap_or(&self.dummy).to_owned();
        let matched = self
            .run(move || argon.verify_password(&bytes, phc.as_str()).is_ok())
            .await?;
        Ok(real && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(HashError::Overloaded);
        }
        let result = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| HashError::Failed)?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work()
            })
            .await
            .map_err(|_| HashError::Failed)
        }
        .await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

fn hash_with(argon: &Argon2<'static>, password: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes::<16>();
    argon
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::parse(text).unwrap_or_else(|e| panic!("fixture password refused: {e}"))
    }

    #[tokio::test]
    async fn hashes_with_owasp_parameters_and_verifies() -> Result<(), HashError> {
        let hasher = PasswordHasher::new(2, 8)?;
        let phc = hasher.hash(&password("correct horse battery")).await?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(
            hasher
                .verify(Some(&phc), &password("correct horse battery"))
                .await?
        );
        assert!(
            !hasher
                .verify(Some(&phc), &password("wrong horse battery"))
                .await?
        );
        assert!(
            !hasher
                .verify(None, &password("correct horse battery"))
                .await?
        );
        Ok(())
    }

    #[tokio::test]
    async fn refuses_work_beyond_the_queue() -> Result<(), HashError> {
        let hasher = Arc::new(PasswordHasher::new(1, 2)?);
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(
                    async move { hasher.verify(None, &password("whatever-password")).await },
                )
            })
            .collect();
        let mut overloaded = 0;
        for task in tasks {
            if task.await.map_err(|_| HashError::Failed)? == Err(HashError::Overloaded) {
                overloaded += 1;
            }
        }
        assert!(
            overloaded >= 1,
            "six verifications on a queue of two must refuse some"
        );
        Ok(())
    }
}
