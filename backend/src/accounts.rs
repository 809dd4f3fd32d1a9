//! Accounts: registration, sign-in, roles, and the link between a browser
//! session and a user.
//!
//! Passwords are hashed by [`crate::passwords::Hasher`] (argon2id, in turns,
//! with a bounded line). Guessing is limited per account and per client
//! address, and registering per address ([`crate::limits::AuthLimiter`]),
//! before any hashing. Registration does not say whether an email already
//! has an account (see [`register`] for what that can and cannot hide).
//!
//! An admin can deactivate an account ([`set_active`]): the row stays (its
//! messages, assignments and audit rows still name it), but it cannot sign
//! in, its sessions stop counting at once, and its open sockets are closed.
//!
//! The statements are in `store/sql/accounts.rs`, compiled for each engine;
//! the functions here pick the engine and keep the session rules, which
//! touch no table of ours.

use crate::error::ServiceResult;
use crate::limits::ClientAddress;
use crate::store::on_engine;
use crate::{Backend, Bus, Db, Event, ServiceError};
use parley::model::{CurrentUser, UserListItem};
use parley::validate::{DisplayName, Email, Password};
use parley::{Role, UserId};
use tower_sessions::Session;

/// The session key under which the signed-in user's id is kept.
const SESSION_USER_KEY: &str = "user_id";

/// What registration says when the email is taken. It must not say so:
/// "already registered" would let anyone test which emails have accounts.
/// Without email confirmation (a later step) the secret cannot be complete
/// — a new email signs in at once and a taken one does not — but this
/// answer names no field and no reason, the work is the same either way (the
/// password is hashed before the insert finds the email taken), and
/// registrations per address are limited. See docs/architecture.md.
pub const REGISTRATION_REFUSED: &str =
    "We could not create an account with these details. If you have signed up before, sign in instead.";

/// Creates an account: the one way every account is made (registration,
/// `parley create-user`, the demo seed), so every new password passes the
/// same rule ([`crate::passwords::check_new_password`]). The email must be new.
pub async fn create_user(
    db: &Db,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password: &Password,
) -> ServiceResult<CurrentUser> {
    on_engine!(db, accounts::create_user(email, name, role, password))
}

/// Registration from the public form: always a customer. Limited per client
/// address; the same answer ([`REGISTRATION_REFUSED`]) whether or not the
/// email is taken.
pub async fn register(
    backend: &Backend,
    from: ClientAddress,
    email: &str,
    name: &str,
    password: &str,
) -> ServiceResult<CurrentUser> {
    on_engine!(
        &backend.db,
        accounts::register(backend, from, email, name, password)
    )
}

/// Checks an email and password, after taking one attempt from the client
/// address's and the account's allowance. The error never says which of the
/// two was wrong, and an unknown email costs the same hash as a known one.
pub async fn authenticate(
    backend: &Backend,
    from: ClientAddress,
    email: &str,
    password: &str,
) -> ServiceResult<CurrentUser> {
    on_engine!(
        &backend.db,
        accounts::authenticate(backend, from, email, password)
    )
}

/// The account, if it exists and is not deactivated.
pub async fn get_user(db: &Db, id: UserId) -> ServiceResult<Option<CurrentUser>> {
    on_engine!(db, accounts::get_user(id))
}

/// Every account, newest first (admin only: the caller checks).
pub async fn list_users(db: &Db) -> ServiceResult<Vec<UserListItem>> {
    on_engine!(db, accounts::list_users())
}

/// An admin changes someone's role. Admins cannot change their own role, so
/// the last admin can never lock everyone out. The user's open sockets are
/// closed (they were authorized with the old role).
pub async fn set_role(
    db: &Db,
    bus: &Bus,
    actor: &CurrentUser,
    target: UserId,
    role: Role,
) -> ServiceResult<UserListItem> {
    on_engine!(db, accounts::set_role(bus, actor, target, role))
}

/// An admin deactivates an account (`active: false`) or brings it back.
/// Deactivating ends everything the account holds at once: its sessions stop
/// counting on their next request ([`get_user`] skips it), its open sockets
/// are closed by the live hubs, and it leaves the staff and presence lists.
/// Admins cannot deactivate themselves, so someone can always undo it.
pub async fn set_active(
    db: &Db,
    bus: &Bus,
    actor: &CurrentUser,
    target: UserId,
    active: bool,
) -> ServiceResult<UserListItem> {
    on_engine!(db, accounts::set_active(bus, actor, target, active))
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
