//! The state every handler can reach. Cloning is cheap: each field is a
//! handle (Arc or pool) to shared data.

use crate::config::Config;
use crate::live::Hub;
use axum::extract::FromRef;
use backend::Backend;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the built site lives and what its bundles are called (for SSR and static files).
    pub leptos_options: LeptosOptions,
    /// The database and the rules around it, shared with the server functions.
    pub backend: Backend,
    /// Live sockets: who is connected, which conversations they follow.
    pub hub: Hub,
    pub config: Arc<Config>,
}
