//! Accounts in the store: creating them, checking a password, reading
//! them, changing a role or whether an account is active. What each rule
//! means is said in the public module, `crate::accounts`.

use super::Db;
use crate::accounts::REGISTRATION_REFUSED;
use crate::constraints::{OnConstraint, Unique};
use crate::error::ServiceResult;
use crate::limits::ClientAddress;
use crate::passwords::{self, Hasher};
use crate::{clock, Backend, Bus, Event, ServiceError};
use parley::model::{CurrentUser, UserListItem};
use parley::validate::{DisplayName, Email, Password};
use parley::{Role, UserId, ValidationError};

/// The columns [`CurrentUser`] is read from.
const USER_COLUMNS: &str = "id, email, name, role, created_at";

/// The columns [`UserListItem`] is read from.
const LIST_COLUMNS: &str = "id, email, name, role, created_at, deactivated_at";

/// What sign-in needs to check a password.
#[derive(sqlx::FromRow)]
struct Credentials {
    id: UserId,
    password_hash: String,
    deactivated_at: Option<parley::Timestamp>,
}

/// Creates an account: the one way every account is made (registration,
/// `parley create-user`, the demo seed), so every new password passes the
/// same rule ([`passwords::check_new_password`]). The email must be new.
/// Hashes with the process's [`Hasher::shared`].
pub async fn create_user(
    db: &Db,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password: &Password,
) -> ServiceResult<CurrentUser> {
    passwords::check_new_password(password, email, name)?;
    let taken = || ValidationError::new("email", "An account with this email already exists.").into();
    create_user_hashed_by(db, Hasher::shared(), email, name, role, password, taken).await
}

/// Hashes with `hasher` and inserts the account (the password has passed
/// [`passwords::check_new_password`]); a taken email is refused with `taken()`.
async fn create_user_hashed_by(
    db: &Db,
    hasher: &Hasher,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password: &Password,
    taken: impl FnOnce() -> ServiceError,
) -> ServiceResult<CurrentUser> {
    let hash = hasher.hash(password).await?;
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
    .on_constraint(Unique::UserEmail, taken)
}

/// Registration from the public form: always a customer. Limited per client
/// address; the same answer whether or not the email is taken.
pub async fn register(
    db: &Db,
    backend: &Backend,
    from: ClientAddress,
    email: &str,
    name: &str,
    password: &str,
) -> ServiceResult<CurrentUser> {
    let email = Email::parse(email)?;
    let name = DisplayName::parse(name)?;
    let password = Password::parse(password)?;
    // A refusal the form can fix costs no registration allowance.
    passwords::check_new_password(&password, &email, &name)?;
    backend.auth_limits.register(from).await?;
    let taken = || ServiceError::Conflict(REGISTRATION_REFUSED.to_owned());
    create_user_hashed_by(
        db,
        &backend.hasher,
        &email,
        &name,
        Role::Customer,
        &password,
        taken,
    )
    .await
}

/// Checks an email and password, after taking one attempt from the client
/// address's and the account's allowance. The error never says which of the
/// two was wrong, and an unknown email costs the same hash as a known one.
pub async fn authenticate(
    db: &Db,
    backend: &Backend,
    from: ClientAddress,
    email: &str,
    password: &str,
) -> ServiceResult<CurrentUser> {
    let wrong = || ServiceError::Validation(ValidationError::new("password", "Wrong email or password."));
    let email = Email::parse(email)?;
    if password.is_empty() {
        return Err(ValidationError::new("password", "Enter your password.").into());
    }
    backend.auth_limits.sign_in(&email, from).await?;
    let found: Option<Credentials> =
        sqlx::query_as("SELECT id, password_hash, deactivated_at FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&db.read)
            .await?;
    let Some(found) = found else {
        let decoy = backend.hasher.decoy_hash().await?;
        backend.hasher.verify(password, decoy).await?;
        return Err(wrong());
    };
    if !backend.hasher.verify(password, &found.password_hash).await? {
        return Err(wrong());
    }
    // Said only to someone who knows the password: they are not guessing.
    if found.deactivated_at.is_some() {
        return Err(ServiceError::Forbidden(
            "This account has been deactivated. Ask an admin to reactivate it.",
        ));
    }
    get_user(db, found.id).await?.ok_or_else(wrong)
}

/// The account, if it exists and is not deactivated.
pub async fn get_user(db: &Db, id: UserId) -> ServiceResult<Option<CurrentUser>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deactivated_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(&db.read)
    .await?)
}

/// Every account, newest first (admin only: the caller checks).
pub async fn list_users(db: &Db) -> ServiceResult<Vec<UserListItem>> {
    Ok(
        sqlx::query_as(&format!("SELECT {LIST_COLUMNS} FROM users ORDER BY id DESC"))
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
        "UPDATE users SET role = $1 WHERE id = $2 RETURNING {LIST_COLUMNS}"
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
    if !actor.role.is_admin() {
        return Err(ServiceError::Forbidden("Only admins can deactivate accounts."));
    }
    if actor.id == target {
        return Err(ServiceError::Conflict(
            "You cannot deactivate your own account; ask another admin.".to_owned(),
        ));
    }
    // Deactivating twice keeps the first time.
    let changed: Option<UserListItem> = sqlx::query_as(&format!(
        "UPDATE users SET deactivated_at = CASE WHEN $1 THEN NULL ELSE COALESCE(deactivated_at, $2) END \
         WHERE id = $3 RETURNING {LIST_COLUMNS}"
    ))
    .bind(active)
    .bind(clock::now())
    .bind(target)
    .fetch_optional(&db.write)
    .await?;
    let changed = changed.ok_or(ServiceError::NotFound("User"))?;
    tracing::info!(actor = %actor.id, target = %target, active, "account activity changed");
    if !active {
        bus.publish(Event::AccessChanged { user_id: target });
    }
    Ok(changed)
}
