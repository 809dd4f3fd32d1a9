//! Rate limits, each a GCRA limiter from `governor` keyed by who is
//! asking, so one noisy account or address never slows anyone else:
//!
//! - [`SendLimiter`]: how many messages one user may send per minute,
//!   whichever door (socket or HTTP) they come through.
//! - [`AuthLimiter`]: how often anyone may guess a password — sign-ins per
//!   account and per client address — and how many accounts one address may
//!   register. Checked before any password is hashed, so a refused attempt
//!   costs no argon2 work.
//!
//! A client address is the connection's peer, or, behind a reverse proxy
//! the operator named ([`TrustedProxies`]), the address that proxy says it
//! forwarded for (`X-Forwarded-For`). IPv6 addresses count by their /64: one
//! host usually holds a whole /64 and could otherwise rotate through it.
//!
//! With several instances (`REDIS_URL`), an in-memory limiter per process
//! would multiply every quota by the number of instances, so the limiters
//! are made [`shared`](SendLimiter::shared): the same GCRA, kept in Redis
//! by one Lua script (one round trip, EVALSHA) with the same quotas and the
//! same answers. While Redis cannot be reached they fall back to the
//! in-memory limiter of this process, and say so in the log.

use crate::cluster::Cluster;
use crate::ServiceError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley::validate::Email;
use parley::UserId;
use shared::{Rate, Shared};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

mod shared;

#[derive(Clone)]
pub struct SendLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<UserId>>,
    clock: DefaultClock,
    rate: Rate,
    shared: Option<Shared>,
}

impl SendLimiter {
    /// `per_minute` messages a minute, with bursts up to the same number.
    pub fn per_minute(per_minute: u32) -> SendLimiter {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        SendLimiter {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            clock: DefaultClock::default(),
            rate: Rate::new(per_minute, 60),
            shared: None,
        }
    }

    /// The same limit, counted in `cluster`'s Redis for every instance.
    pub fn shared(mut self, cluster: &Cluster) -> SendLimiter {
        self.shared = Some(Shared::new(cluster));
        self
    }

    /// Takes one message from `user`'s allowance, or says how long to wait.
    pub async fn check(&self, user: UserId) -> Result<(), ServiceError> {
        if let Some(shared) = &self.shared {
            if let Some(answer) = shared.take(&format!("send:{}", user.0), self.rate).await {
                return answer.map_err(|retry_after_ms| ServiceError::RateLimited { retry_after_ms });
            }
        }
        self.limiter
            .check_key(&user)
            .map_err(|not_until| ServiceError::RateLimited {
                retry_after_ms: wait_ms(&not_until, &self.clock),
            })
    }

    /// Forgets users whose allowance is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Milliseconds until `not_until` allows again (at least 1).
fn wait_ms(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>, clock: &DefaultClock) -> u64 {
    let wait = not_until.wait_time_from(clock.now());
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Where a request comes from, as the per-address limits count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientAddress {
    /// An IPv4 address, or an IPv6 address with its last 64 bits cleared.
    Ip(IpAddr),
    /// The server could not tell (no peer address on the request): every
    /// such request shares this one key, so the limit still holds, for all
    /// of them together.
    Unknown,
}

impl ClientAddress {
    /// How the address is spelled in a Redis key.
    fn key(&self) -> String {
        match self {
            ClientAddress::Ip(ip) => ip.to_string(),
            ClientAddress::Unknown => "unknown".to_owned(),
        }
    }

    pub fn of(ip: IpAddr) -> ClientAddress {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientAddress::Ip(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !u128::from(u64::MAX);
                    ClientAddress::Ip(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
            v4 => ClientAddress::Ip(v4),
        }
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed. Empty (the
/// default): the header is ignored, since anyone can send it.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpAddr>) -> TrustedProxies {
        TrustedProxies(proxies)
    }

    /// The client behind a request that arrived from `peer` carrying
    /// `forwarded_for` (the `X-Forwarded-For` value, if any). A proxy appends
    /// the address it received the request from, so the client is the
    /// rightmost entry that is not one of our proxies; everything left of it
    /// was written by the client and proves nothing.
    pub fn client_address(&self, peer: IpAddr, forwarded_for: Option<&str>) -> ClientAddress {
        if !self.0.contains(&peer) {
            return ClientAddress::of(peer);
        }
        let Some(header) = forwarded_for else {
            return ClientAddress::of(peer);
        };
        for entry in header.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) if self.0.contains(&ip) => continue,
                Ok(ip) => return ClientAddress::of(ip),
                // Garbage where an address should be: not a client we can name.
                Err(_) => break,
            }
        }
        ClientAddress::of(peer)
    }
}

/// How often passwords may be tried and accounts registered. Each number is
/// a rate that also allows a burst of the same size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthQuotas {
    /// Sign-in attempts for one email address, per hour, from anywhere.
    pub sign_ins_per_account_per_hour: u32,
    /// Sign-in attempts from one client address, per minute, for any account.
    pub sign_ins_per_address_per_minute: u32,
    /// Registrations from one client address, per hour.
    pub registrations_per_address_per_hour: u32,
}

impl Default for AuthQuotas {
    fn default() -> Self {
        AuthQuotas {
            sign_ins_per_account_per_hour: 20,
            sign_ins_per_address_per_minute: 30,
            registrations_per_address_per_hour: 20,
        }
    }
}

/// The sign-in and registration limits. Cheap to clone (shared).
#[derive(Clone)]
pub struct AuthLimiter {
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
    per_address: Arc<DefaultKeyedRateLimiter<ClientAddress>>,
    registrations: Arc<DefaultKeyedRateLimiter<ClientAddress>>,
    proxies: Arc<TrustedProxies>,
    clock: DefaultClock,
    /// The three rates, for the Redis script.
    rates: [Rate; 3],
    shared: Option<Shared>,
}

impl AuthLimiter {
    pub fn new(quotas: AuthQuotas, proxies: TrustedProxies) -> AuthLimiter {
        let rate = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        AuthLimiter {
            per_account: Arc::new(RateLimiter::keyed(Quota::per_hour(rate(
                quotas.sign_ins_per_account_per_hour,
            )))),
            per_address: Arc::new(RateLimiter::keyed(Quota::per_minute(rate(
                quotas.sign_ins_per_address_per_minute,
            )))),
            registrations: Arc::new(RateLimiter::keyed(Quota::per_hour(rate(
                quotas.registrations_per_address_per_hour,
            )))),
            proxies: Arc::new(proxies),
            clock: DefaultClock::default(),
            rates: [
                Rate::new(rate(quotas.sign_ins_per_account_per_hour), 3600),
                Rate::new(rate(quotas.sign_ins_per_address_per_minute), 60),
                Rate::new(rate(quotas.registrations_per_address_per_hour), 3600),
            ],
            shared: None,
        }
    }

    /// The same limits, counted in `cluster`'s Redis for every instance.
    pub fn shared(mut self, cluster: &Cluster) -> AuthLimiter {
        self.shared = Some(Shared::new(cluster));
        self
    }

    /// One cell of `key` in Redis, if shared and Redis answers.
    async fn take_shared(&self, key: String, rate: Rate) -> Option<Result<(), ServiceError>> {
        let answer = self.shared.as_ref()?.take(&key, rate).await?;
        Some(answer.map_err(|retry_after_ms| ServiceError::TooManyAttempts { retry_after_ms }))
    }

    /// Who is asking: see [`TrustedProxies::client_address`].
    pub fn client_address(&self, peer: IpAddr, forwarded_for: Option<&str>) -> ClientAddress {
        self.proxies.client_address(peer, forwarded_for)
    }

    /// Takes one sign-in attempt from `from`'s allowance and then from
    /// `account`'s (whether or not the account exists: the answer must not
    /// tell), or says how long to wait.
    pub async fn sign_in(&self, account: &Email, from: ClientAddress) -> Result<(), ServiceError> {
        let [per_account, per_address, _] = self.rates;
        let refused = |not_until| ServiceError::TooManyAttempts {
            retry_after_ms: wait_ms(&not_until, &self.clock),
        };
        match self
            .take_shared(format!("sign_in:address:{}", from.key()), per_address)
            .await
        {
            Some(answer) => answer?,
            None => self.per_address.check_key(&from).map_err(refused)?,
        }
        match self
            .take_shared(format!("sign_in:account:{}", account.as_str()), per_account)
            .await
        {
            Some(answer) => answer,
            None => self
                .per_account
                .check_key(&account.as_str().to_owned())
                .map_err(refused),
        }
    }

    /// Takes one registration from `from`'s allowance, or says how long to wait.
    pub async fn register(&self, from: ClientAddress) -> Result<(), ServiceError> {
        let [_, _, registrations] = self.rates;
        if let Some(answer) = self
            .take_shared(format!("register:{}", from.key()), registrations)
            .await
        {
            return answer;
        }
        self.registrations
            .check_key(&from)
            .map_err(|not_until| ServiceError::TooManyAttempts {
                retry_after_ms: wait_ms(&not_until, &self.clock),
            })
    }

    /// Forgets keys whose allowance is full again (bounded memory, however
    /// many addresses and made-up emails an attacker tries).
    pub fn forget_idle(&self) {
        for limiter in [&self.per_address, &self.registrations] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.per_account.retain_recent();
        self.per_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_the_quota_then_refuses_with_a_wait() {
        let limiter = SendLimiter::per_minute(3);
        let ann = UserId(1);
        for _ in 0..3 {
            assert!(limiter.check(ann).await.is_ok());
        }
        match limiter.check(ann).await {
            Err(ServiceError::RateLimited { retry_after_ms }) => {
                assert!(retry_after_ms > 0 && retry_after_ms <= 20_000, "{retry_after_ms}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // someone else is not affected
        assert!(limiter.check(UserId(2)).await.is_ok());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[tokio::test]
    async fn sign_ins_are_limited_per_address_and_per_account() {
        let limiter = AuthLimiter::new(
            AuthQuotas {
                sign_ins_per_account_per_hour: 2,
                sign_ins_per_address_per_minute: 3,
                registrations_per_address_per_hour: 1,
            },
            TrustedProxies::default(),
        );
        let ann = Email::parse("ann@example.com").expect("email");
        let bob = Email::parse("bob@example.com").expect("email");
        let here = ClientAddress::of(ip("192.0.2.1"));
        let there = ClientAddress::of(ip("192.0.2.2"));
        assert!(limiter.sign_in(&ann, here).await.is_ok());
        assert!(limiter.sign_in(&ann, there).await.is_ok());
        // Ann's account has had its two tries, from wherever they come.
        let refused = limiter.sign_in(&ann, ClientAddress::of(ip("192.0.2.3"))).await;
        assert!(
            matches!(refused, Err(ServiceError::TooManyAttempts { retry_after_ms }) if retry_after_ms > 1_000)
        );
        // `here` has two tries left for any account, then none.
        assert!(limiter.sign_in(&bob, here).await.is_ok());
        assert!(limiter.sign_in(&bob, here).await.is_ok());
        let carol = Email::parse("carol@example.com").expect("email");
        assert!(limiter.sign_in(&carol, here).await.is_err());
        assert!(limiter.sign_in(&carol, there).await.is_ok());
        // Registrations count apart.
        assert!(limiter.register(here).await.is_ok());
        assert!(limiter.register(here).await.is_err());
        assert!(limiter.register(there).await.is_ok());
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        let client = Some("198.51.100.7");
        // Anyone else's header is ignored: the peer is the client.
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), client),
            ClientAddress::of(ip("203.0.113.9"))
        );
        // Our proxy's is believed, from the right, past our own proxies.
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), Some("1.2.3.4, 198.51.100.7, 10.0.0.2")),
            ClientAddress::of(ip("198.51.100.7"))
        );
        // No header, or garbage where the client should be: the proxy itself.
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), None),
            ClientAddress::of(ip("10.0.0.1"))
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), Some("1.2.3.4, nonsense")),
            ClientAddress::of(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv6_counts_by_its_slash_64() {
        assert_eq!(
            ClientAddress::of(ip("2001:db8:1:2:aaaa::1")),
            ClientAddress::of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            ClientAddress::of(ip("2001:db8:1:2::1")),
            ClientAddress::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientAddress::of(ip("::ffff:192.0.2.1")),
            ClientAddress::of(ip("192.0.2.1"))
        );
    }
}
