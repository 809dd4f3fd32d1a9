//! Accounts: registration, sign-in, roles, and the link between a browser
//! session and a user.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes) on the blocking pool, so a burst of logins cannot stall the
//! async workers that carry live messages.

use crate::constraints::{OnConstraint, Unique};
use crate::error::ServiceResult;
use crate::{clock, Bus, Db, Event, ServiceError};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parley::model::{CurrentUser, UserListItem};
use parley::validate::{DisplayName, Email, Password};
use parley::{Role, UserId, ValidationError};
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_sessions::Session;

/// The session key under which the signed-in user's id is kept.
const SESSION_USER_KEY: &str = "user_id";

/// The columns [`CurrentUser`] and [`UserListItem`] are read from.
const USER_COLUMNS: &str = "id, email, name, role, created_at";

/// What sign-in needs to check a password.
#[derive(sqlx::FromRow)]
struct Credentials {
    id: UserId,
    password_hash: String,
}

/// Argon2 is meant to be expensive: each hash or check takes ~19 MiB and
/// tens of milliseconds of a core. Running more at once than there are cores
/// finishes none sooner, and a burst of sign-ins would otherwise hold a
/// buffer per request at the same time (gigabytes, for a login flood). So
/// hashes wait their turn here.
async fn hashing_turn() -> ServiceResult<OwnedSemaphorePermit> {
    static TURNS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Arc::new(Semaphore::new(cores))
    });
    turns
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ServiceError::Internal(format!("password hashing closed: {e}")))
}

/// Hashes a password with argon2id and a fresh random salt.
pub async fn hash_password(password: &Password) -> ServiceResult<String> {
    let password = password.as_str().to_owned();
    let turn = hashing_turn().await?;
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
async fn verify_password(password: &str, stored_hash: &str) -> ServiceResult<bool> {
    let password = password.to_owned();
    let stored_hash = stored_hash.to_owned();
    let turn = hashing_turn().await?;
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

/// A real hash to verify against when the email is unknown, so that a wrong
/// email takes as long as a wrong password (no account enumeration by timing).
async fn decoy_hash() -> ServiceResult<&'static str> {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DECOY.get() {
        return Ok(hash);
    }
    let password = Password::parse("decoy-password-never-used")?;
    let hash = hash_password(&password).await?;
    Ok(DECOY.get_or_init(|| hash))
}

/// Creates an account. The email must be new.
pub async fn create_user(
    db: &Db,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password: &Password,
) -> ServiceResult<CurrentUser> {
    let hash = hash_password(password).await?;
    sqlx::query_as(&format!(
        "INSERT INTO users (email, name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    ))
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(role)
    .bind(&hash)
    .bind(clock::now())
    .fetch_one(&db.write)
    .await
    .on_constraint(Unique::UserEmail, || {
        ValidationError::new(
            "email",
            "An account with this email already exists. Sign in instead?",
        )
        .into()
    })
}

/// Registration from the public form: always a customer.
pub async fn register(db: &Db, email: &str, name: &str, password: &str) -> ServiceResult<CurrentUser> {
    let email = Email::parse(email)?;
    let name = DisplayName::parse(name)?;
    let password = Password::parse(password)?;
    create_user(db, &email, &name, Role::Customer, &password).await
}

/// Checks an email and password. The error never says which of the two was wrong.
pub async fn authenticate(db: &Db, email: &str, password: &str) -> ServiceResult<CurrentUser> {
    let wrong = || ServiceError::Validation(ValidationError::new("password", "Wrong email or password."));
    let email = Email::parse(email)?;
    if password.is_empty() {
        return Err(ValidationError::new("password", "Enter your password.").into());
    }
    let found: Option<Credentials> = sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&db.read)
        .await?;
    let Some(found) = found else {
        verify_password(password, decoy_hash().await?).await?;
        return Err(wrong());
    };
    if !verify_password(password, &found.password_hash).await? {
        return Err(wrong());
    }
    get_user(db, found.id).await?.ok_or_else(wrong)
}

pub async fn get_user(db: &Db, id: UserId) -> ServiceResult<Option<CurrentUser>> {
    Ok(
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.read)
            .await?,
    )
}

/// Every account, newest first (admin only: the caller checks).
pub async fn list_users(db: &Db) -> ServiceResult<Vec<UserListItem>> {
    Ok(
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id DESC"))
            .fetch_all(&db.read)
            .await?,
    )
}

/// An admin changes someone's role. Admins cannot change their own role, so
/// the last admin can never lock everyone out.
pub async fn set_role(
    db: &Db,
    bus: &Bus,
    actor: &CurrentUser,
    target: UserId,
    role: Role,
) -> ServiceResult<UserListItem> {
    if !actor.role.is_admin() {
        return Err(ServiceError::Forbidden("Only admins can change roles."));
    }
    if actor.id == target {
        return Err(ServiceError::Conflict(
            "You cannot change your own role; ask another admin.".to_owned(),
        ));
    }
    let changed: Option<UserListItem> = sqlx::query_as(&format!(
        "UPDATE users SET role = $1 WHERE id = $2 RETURNING {USER_COLUMNS}"
    ))
    .bind(role)
    .bind(target)
    .fetch_optional(&db.write)
    .await?;
    let changed = changed.ok_or(ServiceError::NotFound("User"))?;
    tracing::info!(actor = %actor.id, target = %target, role = %role, "role changed");
    // Their open sockets carry the old role: the live hubs close them.
    bus.publish(Event::AccessChanged { user_id: target });
    Ok(changed)
}

/// Starts a signed-in session: a new session id (so a session id planted
/// before login is worthless), then the user id.
///
/// A browser that was signed in already (as anyone) ends that session here,
/// so the sockets its other tabs opened with it are closed like at sign-out.
pub async fn sign_in(bus: &Bus, session: &Session, user: &CurrentUser) -> ServiceResult<()> {
    let before = signed_in_user(session).await?.zip(session.id());
    session
        .cycle_id()
        .await
        .map_err(|e| ServiceError::Internal(format!("rotating the session id failed: {e}")))?;
    session
        .insert(SESSION_USER_KEY, user.id)
        .await
        .map_err(|e| ServiceError::Internal(format!("writing the session failed: {e}")))?;
    if let Some((user_id, id)) = before {
        bus.publish(Event::SessionEnded {
            user_id,
            session_id: id.to_string(),
        });
    }
    Ok(())
}

/// The user id this session is signed in as, if any.
async fn signed_in_user(session: &Session) -> ServiceResult<Option<UserId>> {
    let id: Option<UserId> = session
        .get(SESSION_USER_KEY)
        .await
        .map_err(|e| ServiceError::Internal(format!("reading the session failed: {e}")))?;
    Ok(id)
}

/// Ends the session everywhere: the row is deleted, the cookie cleared, and
/// the live hubs close the sockets that were opened with it.
pub async fn sign_out(bus: &Bus, session: &Session) -> ServiceResult<()> {
    let before = signed_in_user(session).await?.zip(session.id());
    session
        .flush()
        .await
        .map_err(|e| ServiceError::Internal(format!("ending the session failed: {e}")))?;
    if let Some((user_id, id)) = before {
        bus.publish(Event::SessionEnded {
            user_id,
            session_id: id.to_string(),
        });
    }
    Ok(())
}

/// The user this session belongs to, if it is signed in and the account still exists.
pub async fn session_user(db: &Db, session: &Session) -> ServiceResult<Option<CurrentUser>> {
    match signed_in_user(session).await? {
        Some(id) => get_user(db, id).await,
        None => Ok(None),
    }
}

/// Like [`session_user`], but a guest is an error.
pub async fn require_user(db: &Db, session: &Session) -> ServiceResult<CurrentUser> {
    session_user(db, session).await?.ok_or(ServiceError::Unauthorized)
}

/// A signed-in agent or admin.
pub async fn require_staff(db: &Db, session: &Session) -> ServiceResult<CurrentUser> {
    let user = require_user(db, session).await?;
    if user.role.is_staff() {
        Ok(user)
    } else {
        Err(ServiceError::Forbidden("This page is for the support team."))
    }
}

/// A signed-in admin.
pub async fn require_admin(db: &Db, session: &Session) -> ServiceResult<CurrentUser> {
    let user = require_user(db, session).await?;
    if user.role.is_admin() {
        Ok(user)
    } else {
        Err(ServiceError::Forbidden("Only admins can do this."))
    }
}
