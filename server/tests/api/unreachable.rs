//! A deployment's servers must be there when an instance starts: `parley
//! serve` with a `DATABASE_URL` or `REDIS_URL` that nothing answers says
//! which one and where, and exits non-zero (so a supervisor shows the
//! failure instead of an instance that serves errors). Port 1 on loopback:
//! nothing listens there.

use crate::process::{free_addr, Scratch};
use std::time::Duration;

/// Runs `parley serve` with `env` until it exits: its exit code and log.
async fn refused_start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let scratch = Scratch::new().await;
    let mut command = scratch.command(free_addr(), &["serve"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let status = tokio::time::timeout(Duration::from_secs(30), command.status())
        .await
        .expect("parley exits within 30 s")
        .expect("parley runs");
    (status.code(), scratch.log())
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_and_the_start_fails() {
    let (code, log) = refused_start(&[("DATABASE_URL", "postgres://parley@127.0.0.1:1/parley")]).await;
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("PostgreSQL at 127.0.0.1:1/parley is unreachable"),
        "{log}"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_named_and_the_start_fails() {
    let (code, log) = refused_start(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("Redis at redis://127.0.0.1:1 is unreachable"),
        "{log}"
    );
}
