//! What one client can take from the hub, so that no single user (or a
//! flood of sockets) can exhaust the process.
//!
//! - **Sockets**: a user may hold `per_user` open sockets and the server
//!   `total`; beyond either the upgrade is refused before it happens (429 for
//!   the user's cap, 503 for the server's), so no task or buffer is ever
//!   allocated for it. A seat is taken at the upgrade and given back when
//!   the socket's task ends ([`Seat`]).
//! - **Frames**: each socket has a GCRA limiter (`governor`) of
//!   `frames_per_second` with a burst of `frame_burst`. A socket over it is
//!   not answered with errors (which would cost writes) and not closed (a
//!   browser flushing an offline outbox is legitimate): a frame over the
//!   rate is handled, but the socket's next frame is read only once that
//!   one is paid for, so TCP pushes back on the sender and nothing is lost.
//!   In any window of `t` seconds a socket gets at most
//!   `frame_burst + frames_per_second × t + 1` frames handled.
//! - **Writes**: every write to a socket has `write_timeout`
//!   (`super::outgoing`); a client that never reads is dropped.

use crate::config::SocketLimits;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley::UserId;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

/// Open sockets, per user and in all.
#[derive(Debug, Default)]
pub(super) struct Occupancy {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

/// Why a socket was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This user already holds this many sockets.
    UserFull(usize),
    /// The server already holds this many sockets.
    ServerFull(usize),
}

impl Occupancy {
    pub(super) fn admit(&mut self, user: UserId, limits: &SocketLimits) -> Result<(), Refusal> {
        if self.total >= limits.total {
            return Err(Refusal::ServerFull(limits.total));
        }
        let mine = self.per_user.entry(user).or_default();
        if *mine >= limits.per_user {
            return Err(Refusal::UserFull(limits.per_user));
        }
        *mine += 1;
        self.total += 1;
        Ok(())
    }

    pub(super) fn leave(&mut self, user: UserId) {
        if let Some(mine) = self.per_user.get_mut(&user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                self.per_user.remove(&user);
            }
            self.total = self.total.saturating_sub(1);
        }
    }
}

/// A socket's place under the caps; dropping it gives the place back.
pub(crate) struct Seat {
    pub(super) hub: super::Hub,
    pub(super) user: UserId,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.hub.leave(self.user);
    }
}

const MOST_FRAMES_PER_SECOND: NonZeroU32 = match NonZeroU32::new(1_000_000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// How fast one socket may send frames.
pub(super) struct FrameRate {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl FrameRate {
    pub(super) fn new(limits: &SocketLimits) -> FrameRate {
        // Above a million a second governor's interval between frames would
        // round to zero nanoseconds; that many is "unlimited" anyway.
        let per_second = limits.frames_per_second.min(MOST_FRAMES_PER_SECOND);
        let quota = Quota::per_second(per_second).allow_burst(limits.frame_burst);
        FrameRate {
            limiter: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Pays for one frame: `None` when paid, or how long until it can be.
    /// A frame not paid for yet stays owed: the caller asks again after the
    /// wait and reads nothing meanwhile, so every frame is paid exactly once.
    pub(super) fn pay(&self) -> Option<Duration> {
        self.limiter
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_user: usize, total: usize) -> SocketLimits {
        SocketLimits {
            per_user,
            total,
            frames_per_second: NonZeroU32::MIN,
            frame_burst: NonZeroU32::MIN,
            write_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn sockets_are_capped_per_user_and_in_all_and_seats_come_back() {
        let limits = limits(2, 3);
        let mut occupancy = Occupancy::default();
        let (ann, bob) = (UserId(1), UserId(2));
        assert_eq!(occupancy.admit(ann, &limits), Ok(()));
        assert_eq!(occupancy.admit(ann, &limits), Ok(()));
        assert_eq!(occupancy.admit(ann, &limits), Err(Refusal::UserFull(2)));
        assert_eq!(occupancy.admit(bob, &limits), Ok(()));
        assert_eq!(occupancy.admit(bob, &limits), Err(Refusal::ServerFull(3)));
        occupancy.leave(ann);
        assert_eq!(occupancy.admit(bob, &limits), Ok(()), "Ann's seat is free again");
        occupancy.leave(ann);
        occupancy.leave(ann);
        assert_eq!(
            occupancy.total, 2,
            "leaving more often than admitted changes nothing"
        );
        assert!(!occupancy.per_user.contains_key(&ann), "no entry left for Ann");
    }

    #[test]
    fn frames_beyond_the_burst_must_wait() {
        let rate = FrameRate::new(&SocketLimits {
            frame_burst: NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN),
            ..limits(1, 1)
        });
        for _ in 0..3 {
            assert_eq!(rate.pay(), None);
        }
        let pause = rate.pay().expect("the fourth frame must wait");
        assert!(
            pause > Duration::ZERO && pause <= Duration::from_secs(1),
            "{pause:?}"
        );
    }
}
