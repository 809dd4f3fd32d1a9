//! Canned responses in the store (see `crate::canned`).

use super::{Db, BYTE_ORDER};
use crate::constraints::{OnConstraint, Unique};
use crate::error::ServiceResult;
use crate::{clock, ServiceError};
use parley::model::{CannedResponse, CurrentUser};
use parley::validate::{CannedTitle, MessageBody, Shortcut};
use parley::{CannedResponseId, ValidationError};

fn require_admin(user: &CurrentUser) -> ServiceResult<()> {
    if user.role.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "Only admins can change canned responses.",
        ))
    }
}

/// All canned responses, by shortcut (staff only).
pub async fn list(db: &Db, viewer: &CurrentUser) -> ServiceResult<Vec<CannedResponse>> {
    if !viewer.role.is_staff() {
        return Err(ServiceError::Forbidden(
            "Canned responses are for the support team.",
        ));
    }
    Ok(sqlx::query_as(&format!(
        "SELECT id, shortcut, title, body FROM canned_responses ORDER BY shortcut {BYTE_ORDER}"
    ))
    .fetch_all(&db.read)
    .await?)
}

/// What a taken shortcut means to the admin saving one.
fn taken() -> ServiceError {
    ValidationError::new("shortcut", "Another response already uses this shortcut.").into()
}

/// Creates (`id` = None) or updates a canned response (admins only).
pub async fn save(
    db: &Db,
    admin: &CurrentUser,
    id: Option<CannedResponseId>,
    shortcut: &str,
    title: &str,
    body: &str,
) -> ServiceResult<CannedResponse> {
    require_admin(admin)?;
    let shortcut = Shortcut::parse(shortcut)?;
    let title = CannedTitle::parse(title)?;
    let body = MessageBody::parse(body)?;
    let now = clock::now();
    let saved: Option<CannedResponse> = match id {
        None => sqlx::query_as(
            "INSERT INTO canned_responses (shortcut, title, body, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, shortcut, title, body",
        )
        .bind(shortcut.as_str())
        .bind(title.as_str())
        .bind(body.as_str())
        .bind(admin.id)
        .bind(now)
        .fetch_optional(&db.write)
        .await
        .on_constraint(Unique::CannedShortcut, taken)?,
        Some(id) => sqlx::query_as(
            "UPDATE canned_responses SET shortcut = $1, title = $2, body = $3, updated_at = $4 \
             WHERE id = $5 RETURNING id, shortcut, title, body",
        )
        .bind(shortcut.as_str())
        .bind(title.as_str())
        .bind(body.as_str())
        .bind(now)
        .bind(id)
        .fetch_optional(&db.write)
        .await
        .on_constraint(Unique::CannedShortcut, taken)?,
    };
    saved.ok_or(ServiceError::NotFound("Canned response"))
}

/// Deletes a canned response (admins only).
pub async fn delete(db: &Db, admin: &CurrentUser, id: CannedResponseId) -> ServiceResult<()> {
    require_admin(admin)?;
    let result = sqlx::query("DELETE FROM canned_responses WHERE id = $1")
        .bind(id)
        .execute(&db.write)
        .await?;
    if result.rows_affected() == 0 {
        return Err(ServiceError::NotFound("Canned response"));
    }
    Ok(())
}
