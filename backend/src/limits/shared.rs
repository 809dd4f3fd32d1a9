//! The Redis half of the rate limiters (with `REDIS_URL`): GCRA in a Lua
//! script on Redis's clock, one round trip per check, so every instance
//! spends from the same allowance. While Redis cannot answer, the caller
//! falls back to its local `governor` limiter.

use crate::cluster::{with_timeout, Cluster};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A GCRA rate as the Redis script takes it: one cell every `interval_ms`,
/// bursts up to `burst` — what `governor::Quota::per_minute(n)` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rate {
    interval_ms: u64,
    burst: u32,
}

impl Rate {
    pub(super) fn new(per_period: NonZeroU32, period_secs: u64) -> Rate {
        Rate {
            interval_ms: (period_secs * 1000 / u64::from(per_period.get())).max(1),
            burst: per_period.get(),
        }
    }
}

/// GCRA on one key: the key holds the theoretical arrival time (TAT, in
/// Redis's clock, ms). A request at `now` is allowed when the TAT is at most
/// `(burst - 1) * interval` ahead, and moves it one interval on; otherwise
/// the answer is how long until it would be allowed. The key expires when
/// the allowance is full again, so idle keys cost nothing.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
";

/// After Redis failed, how long the limiters use only their local state
/// before trying Redis again (a send must not wait on a dead Redis each time).
const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The Redis half of a limiter. Cheap to clone (shared).
#[derive(Clone)]
pub(super) struct Shared {
    cluster: Cluster,
    script: Arc<redis::Script>,
    /// Until when Redis is not asked (it just failed).
    resting_until: Arc<Mutex<Option<Instant>>>,
    /// Whether the last attempt failed: logs the fall-back once, and the return.
    degraded: Arc<AtomicBool>,
}

impl Shared {
    pub(super) fn new(cluster: &Cluster) -> Shared {
        Shared {
            cluster: cluster.clone(),
            script: Arc::new(redis::Script::new(GCRA)),
            resting_until: Arc::new(Mutex::new(None)),
            degraded: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Takes one cell of `key`'s allowance in Redis: `Some(Ok)` allowed,
    /// `Some(Err(ms))` refused with the wait, `None` Redis could not answer
    /// (the caller uses its local limiter).
    pub(super) async fn take(&self, key: &str, rate: Rate) -> Option<Result<(), u64>> {
        {
            let mut resting = self.resting_until.lock().unwrap_or_else(|p| p.into_inner());
            match *resting {
                Some(until) if Instant::now() < until => return None,
                Some(_) => *resting = None,
                None => {}
            }
        }
        let mut manager = self.cluster.manager();
        let mut invocation = self.script.key(self.cluster.key(&format!("limit:{key}")));
        invocation.arg(rate.interval_ms).arg(rate.burst);
        match with_timeout(invocation.invoke_async::<i64>(&mut manager)).await {
            Ok(wait) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::warn!("rate limits are counted in Redis again");
                }
                Some(match u64::try_from(wait) {
                    Ok(ms) if ms > 0 => Err(ms),
                    _ => Ok(()),
                })
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        error = %e,
                        "rate limits cannot reach Redis: each instance counts on its own until it is back"
                    );
                }
                *self.resting_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + REST_AFTER_FAILURE);
                None
            }
        }
    }
}
