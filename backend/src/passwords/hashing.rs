//! Hashing and checking passwords with argon2id (the `argon2` crate's
//! defaults: 19 MiB, 2 passes), on the blocking pool, so a burst of sign-ins
//! cannot stall the async workers that carry live messages — and in turns,
//! with a bounded line.
//!
//! Argon2 is meant to be expensive: each hash or check takes ~19 MiB and
//! tens of milliseconds of a core. Running more at once than there are cores
//! finishes none sooner and holds a buffer each, so hashes take *turns* (one
//! per core). Waiting for a turn costs nothing but time — and that is the
//! trouble: with an unbounded line, a flood of anonymous sign-ins puts every
//! real user behind all of it. So the line is bounded: at most
//! [`WAITING_PER_CORE`] requests per core wait; beyond that a request is
//! refused at once with [`ServiceError::Busy`] ("try again in a moment")
//! instead of joining the line. An admitted request waits behind at most the
//! line's length, however large the flood.

use crate::error::ServiceResult;
use crate::ServiceError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parley::validate::Password;
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many hashes may wait per core running one: with ~50 ms a hash, an
/// admitted sign-in waits well under a second.
pub const WAITING_PER_CORE: usize = 8;

/// The hashing turns and the bounded line for them. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Hasher {
    /// One permit per hash running at once.
    turns: Arc<Semaphore>,
    /// One permit per request running or waiting: full means refuse.
    places: Arc<Semaphore>,
}

/// A request's place in line and, once it has it, its turn.
struct Turn {
    _place: OwnedSemaphorePermit,
    _turn: OwnedSemaphorePermit,
}

impl Hasher {
    /// `at_once` hashes run together; `waiting` more may wait for a turn.
    pub fn new(at_once: usize, waiting: usize) -> Hasher {
        let at_once = at_once.max(1);
        Hasher {
            turns: Arc::new(Semaphore::new(at_once)),
            places: Arc::new(Semaphore::new(at_once + waiting)),
        }
    }

    /// The process's hasher: one turn per core, [`WAITING_PER_CORE`] waiting
    /// per core. Every part of one server shares it, so the bound holds for
    /// the process, not per caller.
    pub fn shared() -> &'static Hasher {
        static SHARED: OnceLock<Hasher> = OnceLock::new();
        SHARED.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            Hasher::new(cores, cores * WAITING_PER_CORE)
        })
    }

    /// A place in line (or `Busy` at once when the line is full), then a turn.
    async fn turn(&self) -> ServiceResult<Turn> {
        let place = self.places.clone().try_acquire_owned().map_err(|_| {
            tracing::warn!("password hashing line full; refusing a request");
            ServiceError::Busy
        })?;
        let turn = self
            .turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(format!("password hashing closed: {e}")))?;
        Ok(Turn {
            _place: place,
            _turn: turn,
        })
    }

    /// Hashes a password with argon2id and a fresh random salt.
    pub async fn hash(&self, password: &Password) -> ServiceResult<String> {
        let password = password.as_str().to_owned();
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| ServiceError::Internal(format!("hashing a password failed: {e}")))
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing task failed: {e}")))?
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: &str, stored_hash: &str) -> ServiceResult<bool> {
        let password = password.to_owned();
        let stored_hash = stored_hash.to_owned();
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let parsed = PasswordHash::new(&stored_hash)
                .map_err(|e| ServiceError::Internal(format!("stored password hash is malformed: {e}")))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("verification task failed: {e}")))?
    }

    /// A real hash to verify against when the email is unknown, so that a
    /// wrong email takes as long as a wrong password (no account enumeration
    /// by timing). Made once per process.
    pub async fn decoy_hash(&self) -> ServiceResult<&'static str> {
        static DECOY: OnceLock<String> = OnceLock::new();
        if let Some(hash) = DECOY.get() {
            return Ok(hash);
        }
        let password = Password::parse("decoy-password-never-used")?;
        let hash = self.hash(&password).await?;
        Ok(DECOY.get_or_init(|| hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_line_refuses_at_once_and_frees_its_places() {
        let hasher = Hasher::new(1, 1);
        let first = hasher.turn().await.expect("a turn");
        // One running, none waiting yet: the second request may wait …
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.turn().await.map(drop) }
        });
        while hasher.places.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // … and the third is refused without waiting.
        assert!(matches!(hasher.turn().await.map(drop), Err(ServiceError::Busy)));
        drop(first);
        waiting
            .await
            .expect("task")
            .expect("the waiting one gets its turn");
        assert!(hasher.turn().await.is_ok(), "places come back");
    }

    #[tokio::test]
    async fn hashes_verify() {
        let hasher = Hasher::new(1, 0);
        let password = Password::parse("correct horse battery").expect("password");
        let hash = hasher.hash(&password).await.expect("hash");
        assert!(hasher
            .verify("correct horse battery", &hash)
            .await
            .expect("verify"));
        assert!(!hasher.verify("wrong horse battery", &hash).await.expect("verify"));
    }
}
