//! The running server's settings, checked once at start-up: a bad public URL
//! stops the server with a clear message instead of failing one request later.
//!
//! Which `Origin` browsers must send is decided here ([`OriginPolicy`]). A
//! release build needs to be told: either the public URL, or that it serves
//! this machine only. Trusting the request's `Host` header instead would let
//! any site whose name resolves to this server (DNS rebinding) pass the
//! same-origin check, so only debug builds fall back to it, with a warning.

use crate::cli::ServeArgs;
use backend::limits::AuthQuotas;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Which `Origin` state-changing requests and socket upgrades must carry.
    pub origin: OriginPolicy,
    /// Cookies carry `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub site_root: PathBuf,
    pub presence_grace: Duration,
    pub heartbeat: Duration,
    pub messages_per_minute: u32,
    /// Sign-in and registration limits.
    pub auth_quotas: AuthQuotas,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// How many sockets, how fast they may send, how long a write may take.
    pub sockets: SocketLimits,
    /// Slowloris: how long headers may take, how many connections at once.
    pub http: HttpLimits,
    /// The Redis shared by every instance, if there are several.
    pub redis: Option<RedisConfig>,
}

/// `REDIS_URL` and its namespace (see `backend::cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub url: String,
    pub namespace: String,
}

/// Limits on live sockets (see `live::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    pub per_user: usize,
    pub total: usize,
    pub frames_per_second: NonZeroU32,
    pub frame_burst: NonZeroU32,
    pub write_timeout: Duration,
}

/// Limits on HTTP connections (see `http::serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Where browsers may call from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// `scheme://host[:port]` of `PARLEY_PUBLIC_URL`, whatever `Host` says.
    Public(String),
    /// `--local-only`: the request's own `Host`, which must be a loopback name.
    LocalOnly,
    /// The request's own `Host`, whatever it is. Debug builds without a
    /// public URL only; the server warns at start.
    SameHost,
}

/// Which build is running: release builds refuse to trust `Host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Debug,
    Release,
}

impl Build {
    pub const CURRENT: Build = if cfg!(debug_assertions) {
        Build::Debug
    } else {
        Build::Release
    };
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("PARLEY_PUBLIC_URL {0:?} is not a URL like https://support.example.com")]
    PublicUrl(String),
    #[error(
        "PARLEY_HEARTBEAT_SECS, PARLEY_RATE_PER_MINUTE and the limits (PARLEY_MAX_SOCKETS_PER_USER, \
         PARLEY_MAX_SOCKETS, PARLEY_SOCKET_FRAMES_PER_SEC, PARLEY_SOCKET_FRAME_BURST, \
         PARLEY_SOCKET_WRITE_TIMEOUT_SECS, PARLEY_HEADER_READ_TIMEOUT_SECS, \
         PARLEY_MAX_CONNECTIONS) and the sign-in and registration limits must be at least 1"
    )]
    Zero,
    #[error(
        "PARLEY_PUBLIC_URL is not set. Without it the server would have to trust each \
         request's Host header to decide which Origin is allowed, which a release build \
         does not do. Set PARLEY_PUBLIC_URL (--public-url) to the address people use, \
         e.g. https://support.example.com, or pass --local-only (PARLEY_LOCAL_ONLY=true) \
         to serve this machine only (http://127.0.0.1:3000)."
    )]
    NoPublicUrl,
    #[error(
        "--local-only (PARLEY_LOCAL_ONLY) serves this machine only, but the listen address \
         {0} is not a loopback address: listen on 127.0.0.1 or [::1], or set PARLEY_PUBLIC_URL instead"
    )]
    LocalOnlyAddress(SocketAddr),
    #[error("choose one of PARLEY_PUBLIC_URL and --local-only (PARLEY_LOCAL_ONLY), not both")]
    PublicAndLocal,
}

impl Config {
    /// The settings for this build (see [`Config::for_build`]).
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        Config::for_build(args, Build::CURRENT)
    }

    pub fn for_build(args: &ServeArgs, build: Build) -> Result<Config, ConfigError> {
        let auth_quotas = AuthQuotas {
            sign_ins_per_account_per_hour: args.sign_ins_per_account_per_hour,
            sign_ins_per_address_per_minute: args.sign_ins_per_address_per_minute,
            registrations_per_address_per_hour: args.registrations_per_address_per_hour,
        };
        let (Some(frames_per_second), Some(frame_burst)) = (
            NonZeroU32::new(args.socket_frames_per_sec),
            NonZeroU32::new(args.socket_frame_burst),
        ) else {
            return Err(ConfigError::Zero);
        };
        if [
            args.heartbeat_secs,
            u64::from(args.messages_per_minute),
            u64::from(auth_quotas.sign_ins_per_account_per_hour),
            u64::from(auth_quotas.sign_ins_per_address_per_minute),
            u64::from(auth_quotas.registrations_per_address_per_hour),
            args.max_sockets_per_user as u64,
            args.max_sockets as u64,
            args.socket_write_timeout_secs,
            args.header_read_timeout_secs,
            args.max_connections as u64,
        ]
        .contains(&0)
        {
            return Err(ConfigError::Zero);
        }
        let public_url = args
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty());
        let (origin, secure_cookies) = match (public_url, args.local_only) {
            (Some(_), true) => return Err(ConfigError::PublicAndLocal),
            (Some(url), false) => {
                let origin = origin_of(url).ok_or_else(|| ConfigError::PublicUrl(url.to_owned()))?;
                let secure = origin.starts_with("https://");
                (OriginPolicy::Public(origin), secure)
            }
            (None, true) => {
                if !args.addr.ip().is_loopback() {
                    return Err(ConfigError::LocalOnlyAddress(args.addr));
                }
                (OriginPolicy::LocalOnly, false)
            }
            (None, false) => match build {
                Build::Release => return Err(ConfigError::NoPublicUrl),
                Build::Debug => (OriginPolicy::SameHost, false),
            },
        };
        Ok(Config {
            addr: args.addr,
            origin,
            secure_cookies,
            site_root: args.site_root.clone(),
            presence_grace: Duration::from_secs(args.presence_grace_secs),
            heartbeat: Duration::from_secs(args.heartbeat_secs),
            messages_per_minute: args.messages_per_minute,
            auth_quotas,
            trusted_proxies: args.trusted_proxies.clone(),
            sockets: SocketLimits {
                per_user: args.max_sockets_per_user,
                total: args.max_sockets,
                frames_per_second,
                frame_burst,
                write_timeout: Duration::from_secs(args.socket_write_timeout_secs),
            },
            http: HttpLimits {
                header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
                max_connections: args.max_connections,
            },
            redis: args
                .redis_url
                .as_deref()
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(|url| RedisConfig {
                    url: url.to_owned(),
                    namespace: args.redis_namespace.clone(),
                }),
        })
    }
}

/// `https://Example.com:8443/path` → `https://example.com:8443`.
fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = uri.authority()?;
    Some(format!("{scheme}://{}", authority.as_str().to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_gives_origin_and_secure_cookies() {
        let args = ServeArgs {
            public_url: Some("https://Support.Example.com/chat".into()),
            ..ServeArgs::default()
        };
        let config = Config::for_build(&args, Build::Release).expect("valid");
        assert_eq!(
            config.origin,
            OriginPolicy::Public("https://support.example.com".into())
        );
        assert!(config.secure_cookies);

        let args = ServeArgs {
            public_url: Some("http://localhost:3000".into()),
            ..ServeArgs::default()
        };
        let config = Config::for_build(&args, Build::Release).expect("valid");
        assert_eq!(
            config.origin,
            OriginPolicy::Public("http://localhost:3000".into())
        );
        assert!(!config.secure_cookies);
    }

    #[test]
    fn bad_public_url_is_refused() {
        for bad in ["support.example.com", "ftp://x.y", "not a url"] {
            let args = ServeArgs {
                public_url: Some(bad.into()),
                ..ServeArgs::default()
            };
            assert!(Config::from_args(&args).is_err(), "{bad}");
        }
    }

    #[test]
    fn release_builds_refuse_to_trust_host_without_a_public_url() {
        let args = ServeArgs::default();
        assert!(matches!(
            Config::for_build(&args, Build::Release),
            Err(ConfigError::NoPublicUrl)
        ));
        let message = ConfigError::NoPublicUrl.to_string();
        assert!(message.contains("PARLEY_PUBLIC_URL") && message.contains("--local-only"));
        // Debug builds still run (and warn at start).
        let config = Config::for_build(&args, Build::Debug).expect("debug runs");
        assert_eq!(config.origin, OriginPolicy::SameHost);
    }

    #[test]
    fn local_only_needs_a_loopback_address() {
        let local = ServeArgs {
            local_only: true,
            ..ServeArgs::default()
        };
        let config = Config::for_build(&local, Build::Release).expect("loopback is fine");
        assert_eq!(config.origin, OriginPolicy::LocalOnly);
        assert!(!config.secure_cookies);

        let everywhere = ServeArgs {
            local_only: true,
            addr: SocketAddr::from(([0, 0, 0, 0], 3000)),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::for_build(&everywhere, Build::Release),
            Err(ConfigError::LocalOnlyAddress(_))
        ));

        let both = ServeArgs {
            local_only: true,
            public_url: Some("https://support.example.com".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::for_build(&both, Build::Release),
            Err(ConfigError::PublicAndLocal)
        ));
    }
}
