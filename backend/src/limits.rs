//! Rate limits: how many messages one user may send per minute, whichever
//! door (socket or HTTP) they come through. A GCRA limiter from `governor`,
//! keyed by user, so one noisy account never slows anyone else.

use crate::ServiceError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley::UserId;
use std::num::NonZeroU32;
use std::sync::Arc;

#[derive(Clone)]
pub struct SendLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<UserId>>,
    clock: DefaultClock,
}

impl SendLimiter {
    /// `per_minute` messages a minute, with bursts up to the same number.
    pub fn per_minute(per_minute: u32) -> SendLimiter {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        SendLimiter {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one message from `user`'s allowance, or says how long to wait.
    pub fn check(&self, user: UserId) -> Result<(), ServiceError> {
        self.limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ServiceError::RateLimited {
                retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
            }
        })
    }

    /// Forgets users whose allowance is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_quota_then_refuses_with_a_wait() {
        let limiter = SendLimiter::per_minute(3);
        let ann = UserId(1);
        for _ in 0..3 {
            assert!(limiter.check(ann).is_ok());
        }
        match limiter.check(ann) {
            Err(ServiceError::RateLimited { retry_after_ms }) => {
                assert!(retry_after_ms > 0 && retry_after_ms <= 20_000, "{retry_after_ms}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // someone else is not affected
        assert!(limiter.check(UserId(2)).is_ok());
    }
}
