//! Canned responses: prepared answers staff insert by typing `/shortcut`.
//! Every staff member can use them; only admins write them. The statements
//! are in `store/sql/canned.rs`, compiled for each engine.

use crate::error::ServiceResult;
use crate::store::on_engine;
use crate::Db;
use parley::model::{CannedResponse, CurrentUser};
use parley::CannedResponseId;

/// All canned responses, by shortcut (staff only).
pub async fn list(db: &Db, viewer: &CurrentUser) -> ServiceResult<Vec<CannedResponse>> {
    on_engine!(db, canned::list(viewer))
}

/// Creates (`id` = None) or updates a canned response (admins only); a
/// shortcut another response uses is refused.
pub async fn save(
    db: &Db,
    admin: &CurrentUser,
    id: Option<CannedResponseId>,
    shortcut: &str,
    title: &str,
    body: &str,
) -> ServiceResult<CannedResponse> {
    on_engine!(db, canned::save(admin, id, shortcut, title, body))
}

/// Deletes a canned response (admins only).
pub async fn delete(db: &Db, admin: &CurrentUser, id: CannedResponseId) -> ServiceResult<()> {
    on_engine!(db, canned::delete(admin, id))
}
