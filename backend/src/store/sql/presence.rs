//! Staff availability in the store (see `crate::presence`).

use super::{Db, BYTE_ORDER};
use crate::bus::Event;
use crate::error::ServiceResult;
use crate::presence::StaffAvailability;
use crate::{clock, Backend, ServiceError};
use parley::model::{CurrentUser, PersonRef};
use parley::{Availability, UserId};

/// A staff member and what they chose, as the query returns it.
#[derive(sqlx::FromRow)]
struct AvailabilityRow {
    #[sqlx(flatten)]
    person: PersonRef,
    /// `None`: never chosen.
    availability: Option<Availability>,
}

/// Every agent and admin with their availability (offline if never set).
pub async fn staff_availability(db: &Db) -> ServiceResult<Vec<StaffAvailability>> {
    let rows: Vec<AvailabilityRow> = sqlx::query_as(&format!(
        "SELECT u.id, u.name, u.role, a.availability FROM users u \
         LEFT JOIN staff_availability a ON a.user_id = u.id \
         WHERE u.role IN ('agent', 'admin') AND u.deactivated_at IS NULL ORDER BY u.name {BYTE_ORDER}, u.id"
    ))
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StaffAvailability {
            person: row.person,
            availability: row.availability.unwrap_or_default(),
        })
        .collect())
}

/// The availability a staff member chose (offline if never set).
pub async fn availability_of(db: &Db, user: UserId) -> ServiceResult<Availability> {
    let chosen: Option<Availability> =
        sqlx::query_scalar("SELECT availability FROM staff_availability WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&db.read)
            .await?;
    Ok(chosen.unwrap_or_default())
}

/// A staff member sets their own availability; announced to the hubs.
pub async fn set_availability(
    db: &Db,
    backend: &Backend,
    staff: &CurrentUser,
    availability: Availability,
) -> ServiceResult<Availability> {
    if !staff.role.is_staff() {
        return Err(ServiceError::Forbidden(
            "Only the support team has an availability.",
        ));
    }
    sqlx::query(
        "INSERT INTO staff_availability (user_id, availability, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET availability = excluded.availability, updated_at = excluded.updated_at",
    )
    .bind(staff.id)
    .bind(availability)
    .bind(clock::now())
    .execute(&db.write)
    .await?;
    backend.bus.publish(Event::Availability {
        user: PersonRef {
            id: staff.id,
            name: staff.name.clone(),
            role: staff.role,
        },
        availability,
    });
    Ok(availability)
}
