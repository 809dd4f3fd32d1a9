//! Staff availability: what each agent or admin says about themselves
//! (online, away, offline), stored so it survives restarts. Whether they are
//! *effectively* online also needs a live socket; the hub in `server` adds that.

use crate::bus::Event;
use crate::error::ServiceResult;
use crate::{clock, Backend, Db, ServiceError};
use parley::model::{CurrentUser, PersonRef};
use parley::{Availability, Role, UserId};

/// A staff member and their chosen availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAvailability {
    pub person: PersonRef,
    pub availability: Availability,
}

/// Every agent and admin with their availability (offline if never set).
pub async fn staff_availability(db: &Db) -> ServiceResult<Vec<StaffAvailability>> {
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.id, u.name, u.role, a.availability FROM users u \
         LEFT JOIN staff_availability a ON a.user_id = u.id \
         WHERE u.role IN ('agent', 'admin') ORDER BY u.name, u.id",
    )
    .fetch_all(&db.read)
    .await?;
    rows.into_iter()
        .map(|(id, name, role, availability)| {
            let role: Role = role
                .parse()
                .map_err(|_| ServiceError::Internal(format!("unknown role {role:?}")))?;
            let availability = availability
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| ServiceError::Internal("unknown availability".into()))?
                .unwrap_or_default();
            Ok(StaffAvailability {
                person: PersonRef {
                    id: UserId(id),
                    name,
                    role,
                },
                availability,
            })
        })
        .collect()
}

/// The availability a staff member chose (offline if never set).
pub async fn availability_of(db: &Db, user: UserId) -> ServiceResult<Availability> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT availability FROM staff_availability WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&db.read)
            .await?;
    match row {
        Some((raw,)) => raw
            .parse()
            .map_err(|_| ServiceError::Internal(format!("unknown availability {raw:?}"))),
        None => Ok(Availability::Offline),
    }
}

/// A staff member sets their own availability; announced to the hubs.
pub async fn set_availability(
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
    .bind(staff.id.0)
    .bind(availability.as_str())
    .bind(clock::now().0)
    .execute(&backend.db.write)
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
