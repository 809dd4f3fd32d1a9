//! Sign-in under a flood: password hashes take turns, and the line for a
//! turn is bounded, so a flood of anonymous sign-ins is refused early
//! ("busy") instead of putting every real user behind all of it.

use crate::helpers::store;
use backend::limits::{AuthLimiter, AuthQuotas, ClientAddress, TrustedProxies};
use backend::passwords::Hasher;
use backend::{accounts, ServiceError};
use parley::Role;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// A made-up client address per flooding request, so the per-address limit
/// does not stop the flood before the hashing line does.
fn address(i: u32) -> ClientAddress {
    ClientAddress::of(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_is_refused_early_and_a_real_user_still_gets_in() {
    const FLOOD: u32 = 40;
    const AT_ONCE: usize = 1;
    const WAITING: usize = 3;
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let backend = store
        .backend
        .clone()
        .with_hasher(Hasher::new(AT_ONCE, WAITING))
        .with_auth_limits(AuthLimiter::new(
            AuthQuotas {
                sign_ins_per_account_per_hour: 1_000,
                sign_ins_per_address_per_minute: 1_000,
                registrations_per_address_per_hour: 1_000,
            },
            TrustedProxies::default(),
        ));
    // Make the decoy hash now, so the flood's first requests do not race to.
    let _ = accounts::authenticate(&backend, address(0), "warm@example.com", "not it").await;

    let flood: Vec<_> = (1..=FLOOD)
        .map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let email = format!("nobody{i}@example.com");
                accounts::authenticate(&backend, address(i), &email, "guess-guess-guess").await
            })
        })
        .collect();
    // Ann signs in in the middle of it.
    let first_try =
        accounts::authenticate(&backend, address(1_000), &ann.email, "correct horse battery").await;
    let flood_still_running = flood.iter().any(|task| !task.is_finished());

    let mut busy = 0;
    for task in flood {
        match task.await.expect("task") {
            Err(ServiceError::Busy) => busy += 1,
            Err(ServiceError::Validation(wrong)) => assert_eq!(wrong.field, "password"),
            other => panic!("a guess got {other:?}"),
        }
    }
    // Only the line's worth (plus what finished while the flood was being
    // spawned) was admitted; the rest was refused without hashing.
    let admitted = FLOOD - busy;
    assert!(
        admitted <= 10,
        "{admitted} of {FLOOD} guesses waited for a hash; the line holds {}",
        AT_ONCE + WAITING
    );

    match first_try {
        // Refused at once — while the flood was still being hashed, not after it.
        Err(ServiceError::Busy) => assert!(flood_still_running, "the refusal came only after the flood"),
        // Or admitted, behind at most the line.
        Ok(user) => assert_eq!(user.id, ann.id),
        other => panic!("Ann got {other:?}"),
    }
    // Trying again as the answer says, she gets in.
    let mut signed_in = None;
    for _ in 0..100 {
        match accounts::authenticate(&backend, address(1_000), &ann.email, "correct horse battery").await {
            Ok(user) => {
                signed_in = Some(user);
                break;
            }
            Err(ServiceError::Busy) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(other) => panic!("Ann got {other:?}"),
        }
    }
    assert_eq!(signed_in.map(|u| u.id), Some(ann.id));
}

#[tokio::test]
async fn guesses_are_limited_per_account_before_any_hashing() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let backend = store.backend.clone().with_auth_limits(AuthLimiter::new(
        AuthQuotas {
            sign_ins_per_account_per_hour: 3,
            sign_ins_per_address_per_minute: 1_000,
            registrations_per_address_per_hour: 1_000,
        },
        TrustedProxies::default(),
    ));
    for i in 0..3 {
        let wrong = accounts::authenticate(&backend, address(i), &ann.email, "not the password").await;
        assert!(matches!(wrong, Err(ServiceError::Validation(_))), "{wrong:?}");
    }
    // From a fourth address, with the right password: still too many for Ann.
    let refused = accounts::authenticate(&backend, address(3), &ann.email, "correct horse battery").await;
    match refused {
        Err(e @ ServiceError::TooManyAttempts { .. }) => {
            assert!(
                e.to_string().starts_with("Too many attempts. Try again in "),
                "{e}"
            );
            assert!(e.retry_after_ms().is_some_and(|ms| ms > 60_000), "{e:?}");
        }
        other => panic!("expected too many attempts, got {other:?}"),
    }
}
