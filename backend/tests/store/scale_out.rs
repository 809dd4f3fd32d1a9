//! The Redis half of scale-out on a real Redis (`PARLEY_TEST_REDIS_URL`,
//! which `scripts/services.sh run -- …` sets; without it each test prints
//! a note and passes): two buses on one Redis hear each other once and in
//! order, and two limiters share one allowance.
//!
//! Each test works in a namespace of its own, so they run in parallel on one
//! Redis; the one that kills subscriptions takes [`KILLING`] exclusively,
//! the others share it.

use backend::bus::Event;
use backend::cluster::Cluster;
use backend::limits::{AuthLimiter, AuthQuotas, ClientAddress, SendLimiter, TrustedProxies};
use backend::{Bus, ServiceError};
use parley::validate::Email;
use parley::{ConversationId, Role, Seq, UserId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, RwLock};

/// `CLIENT KILL TYPE pubsub` drops every subscription on the Redis, other
/// tests' too: that test holds this for writing, the others for reading.
static KILLING: RwLock<()> = RwLock::const_new(());

fn redis_url() -> Option<String> {
    match std::env::var("PARLEY_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "note: PARLEY_TEST_REDIS_URL is not set, so this Redis test is skipped \
                 (run it with scripts/services.sh run -- cargo test …)"
            );
            None
        }
    }
}

fn namespace() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// Two instances' handles on one Redis, in one fresh namespace.
async fn two_instances(url: &str) -> (Cluster, Cluster) {
    let namespace = namespace();
    let a = Cluster::connect_in(url, &namespace).await.expect("connect A");
    let b = Cluster::connect_in(url, &namespace).await.expect("connect B");
    assert_ne!(a.instance(), b.instance());
    (a, b)
}

/// A read event numbered `n`: its `up_to` says which one it is.
fn numbered(n: i64) -> Event {
    Event::Read {
        conversation_id: ConversationId(7),
        customer_id: UserId(3),
        user_id: UserId(4),
        role: Role::Agent,
        up_to: Seq(n),
        public_up_to: Some(Seq(n)),
    }
}

fn number_of(event: &Event) -> i64 {
    match event {
        Event::Read { up_to, .. } => up_to.0,
        other => panic!("expected a numbered read event, got {other:?}"),
    }
}

async fn next(events: &mut broadcast::Receiver<Arc<Event>>) -> Arc<Event> {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("the bus is open")
}

async fn nothing_more(events: &mut broadcast::Receiver<Arc<Event>>) {
    if let Ok(event) = tokio::time::timeout(Duration::from_millis(300), events.recv()).await {
        panic!("expected nothing more, got {event:?}");
    }
}

#[tokio::test]
async fn redis_bus_delivers_a_burst_to_the_other_instance_once_and_in_order() {
    let Some(url) = redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = two_instances(&url).await;
    let bus_a = Bus::with_redis(&a).await.expect("bus A");
    let bus_b = Bus::with_redis(&b).await.expect("bus B");
    assert!(bus_a.is_shared());
    let mut on_a = bus_a.subscribe();
    let mut on_b = bus_b.subscribe();

    for n in 1..=500 {
        bus_a.publish(numbered(n));
    }
    for n in 1..=500 {
        assert_eq!(
            number_of(&*next(&mut on_b).await),
            n,
            "B hears A's burst in order"
        );
    }
    // A heard each of its own once, on the local path, and not again from Redis.
    for n in 1..=500 {
        assert_eq!(number_of(&*next(&mut on_a).await), n);
    }
    // B's reply reaches A; B hears it only once (locally) too.
    bus_b.publish(numbered(1_000));
    assert_eq!(number_of(&*next(&mut on_a).await), 1_000);
    assert_eq!(number_of(&*next(&mut on_b).await), 1_000);
    nothing_more(&mut on_a).await;
    nothing_more(&mut on_b).await;

    // What only others must hear does not come back here.
    bus_a.publish_elsewhere(numbered(2_000));
    assert_eq!(number_of(&*next(&mut on_b).await), 2_000);
    nothing_more(&mut on_a).await;
}

#[tokio::test]
async fn redis_buses_in_other_namespaces_do_not_hear_each_other() {
    let Some(url) = redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, _) = two_instances(&url).await;
    let (elsewhere, _) = two_instances(&url).await;
    let bus_a = Bus::with_redis(&a).await.expect("bus A");
    let bus_elsewhere = Bus::with_redis(&elsewhere).await.expect("other bus");
    let mut on_elsewhere = bus_elsewhere.subscribe();
    bus_a.publish(numbered(1));
    nothing_more(&mut on_elsewhere).await;
}

#[tokio::test]
async fn a_dropped_subscription_resubscribes_and_resyncs_then_events_flow_again() {
    let Some(url) = redis_url() else { return };
    let _alone = KILLING.write().await;
    let (a, b) = two_instances(&url).await;
    let bus_a = Bus::with_redis(&a).await.expect("bus A");
    let bus_b = Bus::with_redis(&b).await.expect("bus B");
    let mut on_b = bus_b.subscribe();
    bus_a.publish(numbered(1));
    assert_eq!(number_of(&*next(&mut on_b).await), 1);
    let mut on_a = bus_a.subscribe();

    // Through a connection of our own: drop every subscriber connection.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut admin = client
        .get_multiplexed_async_connection()
        .await
        .expect("admin connection");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert!(killed >= 2, "A's and B's subscriptions: {killed}");

    // Each tells its own sockets to resync once it is subscribed again…
    let resync = next(&mut on_b).await;
    assert!(matches!(*resync, Event::Resync), "B got {resync:?}");
    let resync = next(&mut on_a).await;
    assert!(matches!(*resync, Event::Resync), "A got {resync:?}");
    // …and events flow both ways again.
    bus_a.publish(numbered(2));
    assert_eq!(number_of(&*next(&mut on_b).await), 2);
    assert_eq!(number_of(&*next(&mut on_a).await), 2);
    bus_b.publish(numbered(3));
    assert_eq!(number_of(&*next(&mut on_a).await), 3);
    assert_eq!(number_of(&*next(&mut on_b).await), 3);
    nothing_more(&mut on_a).await;
    nothing_more(&mut on_b).await;
}

#[tokio::test]
async fn two_send_limiters_on_one_redis_share_the_allowance() {
    let Some(url) = redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = two_instances(&url).await;
    let on_a = SendLimiter::per_minute(3).shared(&a);
    let on_b = SendLimiter::per_minute(3).shared(&b);
    let ann = UserId(1);
    assert!(on_a.check(ann).await.is_ok());
    assert!(on_b.check(ann).await.is_ok());
    assert!(on_a.check(ann).await.is_ok());
    // Three in all: the fourth is refused on either, with the same wait an
    // in-memory limiter gives (one cell every 20 s).
    for limiter in [&on_b, &on_a] {
        match limiter.check(ann).await {
            Err(ServiceError::RateLimited { retry_after_ms }) => {
                assert!(retry_after_ms > 0 && retry_after_ms <= 20_000, "{retry_after_ms}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
    }
    assert!(
        on_b.check(UserId(2)).await.is_ok(),
        "someone else is not affected"
    );
}

#[tokio::test]
async fn two_sign_in_limiters_on_one_redis_share_the_allowance() {
    let Some(url) = redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = two_instances(&url).await;
    let quotas = AuthQuotas {
        sign_ins_per_account_per_hour: 2,
        sign_ins_per_address_per_minute: 3,
        registrations_per_address_per_hour: 1,
    };
    let on_a = AuthLimiter::new(quotas, TrustedProxies::default()).shared(&a);
    let on_b = AuthLimiter::new(quotas, TrustedProxies::default()).shared(&b);
    let ann = Email::parse("ann@example.com").expect("email");
    let here = ClientAddress::of("192.0.2.1".parse().expect("ip"));
    let there = ClientAddress::of("192.0.2.2".parse().expect("ip"));
    assert!(on_a.sign_in(&ann, here).await.is_ok());
    assert!(on_b.sign_in(&ann, there).await.is_ok());
    match on_a.sign_in(&ann, there).await {
        Err(ServiceError::TooManyAttempts { retry_after_ms }) => {
            // Two an hour: one attempt back every 30 minutes.
            assert!(
                retry_after_ms > 1_000 && retry_after_ms <= 1_800_000,
                "{retry_after_ms}"
            )
        }
        other => panic!("expected too many attempts, got {other:?}"),
    }
    assert!(on_b.register(here).await.is_ok());
    assert!(
        on_a.register(here).await.is_err(),
        "one registration per hour, on any instance"
    );
    assert!(on_a.register(there).await.is_ok());
}
