//! Server-rendered pages under concurrent load: every request gets its
//! whole page (a render that never finishes would hang a browser tab).

use crate::helpers::*;
use parley::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn many_pages_render_at_once_and_each_one_finishes() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("boss@example.com", Role::Admin).await;
    for _ in 0..10 {
        let mut renders = Vec::new();
        for i in 0..20 {
            let client = if i % 2 == 0 { app.client() } else { admin.clone() };
            let path = ["/no/such/page", "/login", "/admin/users", "/inbox"][i % 4];
            renders.push(tokio::spawn(async move { (path, client.get(path).await) }));
        }
        for render in renders {
            let (path, (status, page)) = render.await.expect("render task");
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {page}");
            assert!(page.contains("</html>"), "{path} was cut short ({status})");
            assert!(
                !page.contains("misconfigured"),
                "{path} rendered without its context: {page}"
            );
        }
    }
}
