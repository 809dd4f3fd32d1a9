//! The WASM entry point: hydrate the server-rendered `<body>` with the same
//! components the server used. Everything else lives in `app/`.

// The app's view types nest deeply; the release (wasm-release) build needs more.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
