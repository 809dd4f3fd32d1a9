//! The Redis that the instances of one deployment share (`REDIS_URL`).
//!
//! One Parley process needs no other server: the event bus is a tokio
//! channel, presence is a map in the hub, the rate limits live in memory.
//! Several identical instances behind a load balancer must agree on all
//! three, so with `REDIS_URL` set each of them reaches one Redis through a
//! [`Cluster`]: the bus bridges events over Redis pub/sub (`bus::redis`),
//! presence is a sorted set with heartbeats ([`Cluster::touch_presence`],
//! [`Cluster::present_staff`]), and the limits are GCRA cells kept by a Lua
//! script (`limits`). Every key and the channel start with a namespace
//! (`parley` unless told otherwise), so two deployments — or two test
//! servers — can share one Redis without hearing each other.
//!
//! Time: every score and every limit is computed from Redis's own clock
//! (`TIME` inside the scripts), so the instances' clocks need not agree.

use parley::UserId;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How long connecting (and each command) may take before Redis counts as
/// unreachable. Redis answers in well under a millisecond when it is up.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("REDIS_URL {url:?} is not a Redis URL like redis://127.0.0.1:6379: {source}")]
    Url {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("Redis at {url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("Redis at {url} is unreachable: no answer within {}s", TIMEOUT.as_secs())]
    TimedOut { url: String },
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {}s", TIMEOUT.as_secs())]
    NoAnswer,
}

/// A handle on the shared Redis: cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// Reconnects by itself after Redis restarts; shared by presence and
    /// the limits (commands are multiplexed on one connection).
    manager: ConnectionManager,
    /// `REDIS_URL` without its password, for messages.
    url: String,
    /// Random per process: tags what this instance publishes, names its
    /// presence members.
    instance: String,
    namespace: String,
    touch: redis::Script,
    present: redis::Script,
}

/// Refreshes members of the presence set with Redis's clock, in ms.
const TOUCH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[1], now, ARGV[i])
end
return now
";

/// Members seen within ARGV[1] ms; drops those gone for twice as long
/// (instances that died never remove their own).
const PRESENT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 2 * grace)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - grace, '+inf')
";

impl Cluster {
    /// Connects to `url` and checks that Redis answers, with the default
    /// namespace `parley`.
    pub async fn connect(url: &str) -> Result<Cluster, ClusterError> {
        Cluster::connect_in(url, "parley").await
    }

    /// Connects to `url`; every key and channel starts with `namespace:`.
    pub async fn connect_in(url: &str, namespace: &str) -> Result<Cluster, ClusterError> {
        let shown = redact(url);
        let client = redis::Client::open(url).map_err(|source| ClusterError::Url {
            url: shown.clone(),
            source,
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            // Retries are ours (callers fall back to local state at once);
            // the manager only reconnects in the background.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let connecting = client.get_connection_manager_with_config(config);
        let mut manager = match tokio::time::timeout(TIMEOUT * 2, connecting).await {
            Err(_) => return Err(ClusterError::TimedOut { url: shown }),
            Ok(Err(source)) => return Err(ClusterError::Unreachable { url: shown, source }),
            Ok(Ok(manager)) => manager,
        };
        let ping = redis::cmd("PING");
        match tokio::time::timeout(TIMEOUT, ping.query_async::<String>(&mut manager)).await {
            Err(_) => return Err(ClusterError::TimedOut { url: shown }),
            Ok(Err(source)) => return Err(ClusterError::Unreachable { url: shown, source }),
            Ok(Ok(_)) => {}
        }
        Ok(Cluster {
            inner: Arc::new(Inner {
                client,
                manager,
                url: shown,
                instance: uuid::Uuid::new_v4().simple().to_string(),
                namespace: namespace.to_owned(),
                touch: redis::Script::new(TOUCH),
                present: redis::Script::new(PRESENT),
            }),
        })
    }

    /// This process's random id.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// `REDIS_URL` without a password, for logs.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    pub(crate) fn manager(&self) -> ConnectionManager {
        self.inner.manager.clone()
    }

    /// `namespace:what`.
    pub(crate) fn key(&self, what: &str) -> String {
        format!("{}:{what}", self.inner.namespace)
    }

    fn presence_key(&self) -> String {
        self.key("presence")
    }

    fn member(&self, user: UserId) -> String {
        format!("{}:{}", user.0, self.inner.instance)
    }

    /// Marks `users` as seen on this instance now.
    pub async fn touch_presence(&self, users: &[UserId]) -> Result<(), ClusterError> {
        if users.is_empty() {
            return Ok(());
        }
        let mut invocation = self.inner.touch.key(self.presence_key());
        for user in users {
            invocation.arg(self.member(*user));
        }
        let mut manager = self.manager();
        with_timeout(invocation.invoke_async::<i64>(&mut manager)).await?;
        Ok(())
    }

    /// Forgets `users` on this instance (their last socket here closed and
    /// the grace period ran out, or their access changed).
    pub async fn remove_presence(&self, users: &[UserId]) -> Result<(), ClusterError> {
        if users.is_empty() {
            return Ok(());
        }
        let members: Vec<String> = users.iter().map(|u| self.member(*u)).collect();
        let mut manager = self.manager();
        let mut removing = redis::cmd("ZREM");
        removing.arg(self.presence_key()).arg(members);
        with_timeout(removing.query_async::<i64>(&mut manager)).await?;
        Ok(())
    }

    /// Staff with a socket on any instance, or who lost their last one less
    /// than `grace` ago.
    pub async fn present_staff(&self, grace: Duration) -> Result<HashSet<UserId>, ClusterError> {
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        let mut manager = self.manager();
        let members: Vec<String> = with_timeout(
            self.inner
                .present
                .key(self.presence_key())
                .arg(grace_ms)
                .invoke_async(&mut manager),
        )
        .await?;
        Ok(members
            .iter()
            .filter_map(|member| member.split_once(':'))
            .filter_map(|(user, _instance)| user.parse().ok().map(UserId))
            .collect())
    }
}

/// Runs one Redis request with the [`TIMEOUT`]: a Redis that stopped
/// answering (a partition, not a refused connection) must not hold a send.
pub(crate) async fn with_timeout<T>(
    request: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(TIMEOUT, request).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ClusterError::NoAnswer),
    }
}

/// `redis://:secret@host:6379/0` → `redis://host:6379/0`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &url[..scheme + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("redis://:hunter2@cache:6379/0"), "redis://cache:6379/0");
        assert_eq!(redact("redis://user:pw@cache"), "redis://cache");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
