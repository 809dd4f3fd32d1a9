//! The running server's settings, checked once at start-up: a bad public URL
//! stops the server with a clear message instead of failing one request later.

use crate::cli::ServeArgs;
use backend::limits::AuthQuotas;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// `scheme://host[:port]` that browsers must send as `Origin`; `None`
    /// means same-origin (compared with the request's `Host`).
    pub allowed_origin: Option<String>,
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
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("PARLEY_PUBLIC_URL {0:?} is not a URL like https://support.example.com")]
    PublicUrl(String),
    #[error(
        "PARLEY_HEARTBEAT_SECS, PARLEY_RATE_PER_MINUTE and the sign-in and registration limits must be at least 1"
    )]
    Zero,
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        let auth_quotas = AuthQuotas {
            sign_ins_per_account_per_hour: args.sign_ins_per_account_per_hour,
            sign_ins_per_address_per_minute: args.sign_ins_per_address_per_minute,
            registrations_per_address_per_hour: args.registrations_per_address_per_hour,
        };
        if args.heartbeat_secs == 0
            || args.messages_per_minute == 0
            || auth_quotas.sign_ins_per_account_per_hour == 0
            || auth_quotas.sign_ins_per_address_per_minute == 0
            || auth_quotas.registrations_per_address_per_hour == 0
        {
            return Err(ConfigError::Zero);
        }
        let (allowed_origin, secure_cookies) = match args.public_url.as_deref().map(str::trim) {
            None | Some("") => (None, false),
            Some(url) => {
                let origin = origin_of(url).ok_or_else(|| ConfigError::PublicUrl(url.to_owned()))?;
                let secure = origin.starts_with("https://");
                (Some(origin), secure)
            }
        };
        Ok(Config {
            addr: args.addr,
            allowed_origin,
            secure_cookies,
            site_root: args.site_root.clone(),
            presence_grace: Duration::from_secs(args.presence_grace_secs),
            heartbeat: Duration::from_secs(args.heartbeat_secs),
            messages_per_minute: args.messages_per_minute,
            auth_quotas,
            trusted_proxies: args.trusted_proxies.clone(),
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
        let config = Config::from_args(&args).expect("valid");
        assert_eq!(
            config.allowed_origin.as_deref(),
            Some("https://support.example.com")
        );
        assert!(config.secure_cookies);

        let args = ServeArgs {
            public_url: Some("http://localhost:3000".into()),
            ..ServeArgs::default()
        };
        let config = Config::from_args(&args).expect("valid");
        assert_eq!(config.allowed_origin.as_deref(), Some("http://localhost:3000"));
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
}
