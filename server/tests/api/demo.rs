//! Demo accounts have passwords printed in the README. `parley serve`
//! refuses a database that holds one, with a clear message and a non-zero
//! exit, unless it is told this is a demo (`--demo` / `PARLEY_DEMO=true`).

use crate::process::{free_addr, parley_command, server_log, start_serving};
use std::time::Duration;

async fn seeded_database(dir: &std::path::Path) -> String {
    let db_url = format!("sqlite://{}", dir.join("parley.db").display());
    let status = parley_command(dir, &db_url, free_addr(), &["seed-demo"])
        .status()
        .await
        .expect("run seed-demo");
    assert!(status.success(), "seed-demo: {}", server_log(dir));
    db_url
}

#[tokio::test]
async fn serve_refuses_a_database_with_demo_accounts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = seeded_database(dir.path()).await;
    let mut child = parley_command(dir.path(), &db_url, free_addr(), &["serve"])
        .spawn()
        .expect("start parley");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("parley stops by itself")
        .expect("exit status");
    assert!(!status.success(), "refused with a non-zero exit");
    let log = server_log(dir.path());
    for needed in [
        "demo account",
        "admin@parley.test",
        "--demo",
        "PARLEY_DEMO=true",
        "create-user",
    ] {
        assert!(log.contains(needed), "the message names {needed:?}:\n{log}");
    }
}

#[tokio::test]
async fn serve_starts_with_demo_accounts_when_told_it_is_a_demo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = seeded_database(dir.path()).await;
    let addr = free_addr();
    let _by_flag = start_serving(
        parley_command(dir.path(), &db_url, addr, &["serve", "--demo"]),
        dir.path(),
        addr,
    )
    .await;
    let addr = free_addr();
    let mut by_env = parley_command(dir.path(), &db_url, addr, &["serve"]);
    by_env.env("PARLEY_DEMO", "true");
    let _by_env = start_serving(by_env, dir.path(), addr).await;
}

#[tokio::test]
async fn serve_starts_without_demo_accounts_and_without_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}", dir.path().join("parley.db").display());
    let addr = free_addr();
    let _server = start_serving(
        parley_command(dir.path(), &db_url, addr, &["serve"]),
        dir.path(),
        addr,
    )
    .await;
}
