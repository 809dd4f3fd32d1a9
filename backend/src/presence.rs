//! Staff availability: what each agent or admin says about themselves
//! (online, away, offline), stored so it survives restarts. Whether they are
//! *effectively* online also needs a live socket; the hub in `server` adds
//! that. The statements are in `store/sql/presence.rs`, compiled for each engine.

use crate::error::ServiceResult;
use crate::store::on_engine;
use crate::{Backend, Db};
use parley::model::{CurrentUser, PersonRef};
use parley::{Availability, UserId};

/// A staff member and their chosen availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAvailability {
    pub person: PersonRef,
    pub availability: Availability,
}

/// Every agent and admin with their availability (offline if never set).
pub async fn staff_availability(db: &Db) -> ServiceResult<Vec<StaffAvailability>> {
    on_engine!(db, presence::staff_availability())
}

/// The availability a staff member chose (offline if never set).
pub async fn availability_of(db: &Db, user: UserId) -> ServiceResult<Availability> {
    on_engine!(db, presence::availability_of(user))
}

/// A staff member sets their own availability; announced to the hubs.
pub async fn set_availability(
    backend: &Backend,
    staff: &CurrentUser,
    availability: Availability,
) -> ServiceResult<Availability> {
    on_engine!(
        &backend.db,
        presence::set_availability(backend, staff, availability)
    )
}
