//! Demo accounts have passwords printed in the README. `parley serve`
//! refuses a database that holds one, with a clear message and a non-zero
//! exit, unless it is told this is a demo (`--demo` / `PARLEY_DEMO=true`).

use crate::process::{free_addr, Scratch};
use std::time::Duration;

/// A scratch folder whose database holds the demo accounts.
async fn seeded_database() -> Scratch {
    let scratch = Scratch::new().await;
    let status = scratch
        .command(free_addr(), &["seed-demo"])
        .status()
        .await
        .expect("run seed-demo");
    assert!(status.success(), "seed-demo: {}", scratch.log());
    scratch
}

#[tokio::test]
async fn serve_refuses_a_database_with_demo_accounts() {
    let scratch = seeded_database().await;
    let mut child = scratch
        .command(free_addr(), &["serve"])
        .spawn()
        .expect("start parley");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("parley stops by itself")
        .expect("exit status");
    assert!(!status.success(), "refused with a non-zero exit");
    let log = scratch.log();
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
    let scratch = seeded_database().await;
    let _by_flag = scratch.serve_with(&["serve", "--demo"]).await;
    let addr = free_addr();
    let mut by_env = scratch.command(addr, &["serve"]);
    by_env.env("PARLEY_DEMO", "true");
    let _by_env = scratch.serve(by_env, addr).await;
}

#[tokio::test]
async fn serve_starts_without_demo_accounts_and_without_the_flag() {
    let _server = Scratch::new().await.serve_with(&["serve"]).await;
}
