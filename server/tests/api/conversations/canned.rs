//! Canned responses: admins manage them, staff read them, customers neither.

use super::cast;
use reqwest::StatusCode;

#[tokio::test]
async fn canned_responses_are_admin_managed_and_staff_readable() {
    let c = cast().await;
    let (status, saved) = c
        .admin
        .call(
            "canned/save",
            &[
                ("shortcut", "/Refund"),
                ("title", "Refunds"),
                ("body", "Refunds take 5 days."),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["shortcut"], "refund");
    let (status, body) = c
        .admin
        .call(
            "canned/save",
            &[("shortcut", "refund"), ("title", "Again"), ("body", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "shortcut");
    let (status, list) = c.agent.call("canned/list", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["body"], "Refunds take 5 days.");
    let (status, _) = c
        .agent
        .call("canned/save", &[("shortcut", "x"), ("title", "X"), ("body", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let id = saved["id"].to_string();
    let (status, _) = c.agent.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c.admin.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.admin.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
