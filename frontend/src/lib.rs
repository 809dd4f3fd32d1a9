//! The WASM entry point: hydrate the server-rendered `<body>` with the same
//! components the server used. Everything else lives in `app/`.

// The app's view types nest deeply; the release (wasm-release) build needs more.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronous hydration: a page behind an account is a lazy route
    // (app::routes) whose code may first have to be fetched. The page is
    // interactive, and marked so for the tests, only once all of it is.
    // (hydrate_from_async starts Leptos' executor itself.)
    wasm_bindgen_futures::spawn_local(async {
        let app = leptos::mount::hydrate_from_async(leptos::tachys::dom::body(), app::App).await;
        app.forget();
        app::browser::mark_hydrated();
    });
}
