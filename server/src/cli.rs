//! The command line of the `parley` binary. Every setting can also come from
//! an environment variable (named in `--help`), so the same binary runs under
//! cargo-leptos, systemd or a container without flags.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "parley", version, about = "Parley: real-time customer-support chat")]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the live socket (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create an account; the password is read from standard input.
    CreateUser(CreateUserArgs),
    /// Create demo customer, agent and admin accounts and print their credentials
    /// (for a demo only: `serve` then needs `--demo`).
    SeedDemo,
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Database URL. SQLite (a file, created if missing) by default.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/parley.db",
        global = true
    )]
    pub database_url: String,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `server=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "PARLEY_LOG_JSON", default_value_t = false, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. cargo-leptos sets LEPTOS_SITE_ADDR.
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// The public URL people use, e.g. https://support.example.com. It sets the
    /// allowed Origin for the WebSocket and form posts, and Secure cookies when
    /// https. Required by release builds unless --local-only is given; debug
    /// builds without it trust the request's Host (and say so at start).
    #[arg(long, env = "PARLEY_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Serve this machine only, without a public URL: the allowed Origin is the
    /// request's own Host, which must then be a loopback name (localhost,
    /// 127.0.0.1, [::1]), and the listen address must be a loopback address.
    #[arg(long, env = "PARLEY_LOCAL_ONLY", default_value_t = false, global = true)]
    pub local_only: bool,

    /// Folder with the built site (pkg/, favicon): cargo-leptos's site-root.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: PathBuf,

    /// Seconds after a staff member's last socket closes before they count as offline.
    #[arg(long, env = "PARLEY_PRESENCE_GRACE_SECS", default_value_t = 30, global = true)]
    pub presence_grace_secs: u64,

    /// Seconds between the heartbeats a client must send (its pings count).
    #[arg(long, env = "PARLEY_HEARTBEAT_SECS", default_value_t = 20, global = true)]
    pub heartbeat_secs: u64,

    /// Messages a user may send per minute.
    #[arg(long, env = "PARLEY_RATE_PER_MINUTE", default_value_t = 60, global = true)]
    pub messages_per_minute: u32,

    /// Sign-in attempts per hour for one account (email), from anywhere.
    #[arg(
        long,
        env = "PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR",
        default_value_t = 20,
        global = true
    )]
    pub sign_ins_per_account_per_hour: u32,

    /// Sign-in attempts per minute from one client address, for any account.
    #[arg(
        long,
        env = "PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub sign_ins_per_address_per_minute: u32,

    /// Registrations per hour from one client address.
    #[arg(
        long,
        env = "PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR",
        default_value_t = 20,
        global = true
    )]
    pub registrations_per_address_per_hour: u32,

    /// Reverse proxies (comma-separated IP addresses) whose X-Forwarded-For
    /// names the client for the sign-in limits. Unset: the header is ignored.
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Live sockets one user may have open at once (tabs, devices); more are
    /// refused with 429.
    #[arg(
        long,
        env = "PARLEY_MAX_SOCKETS_PER_USER",
        default_value_t = 50,
        global = true
    )]
    pub max_sockets_per_user: usize,

    /// Live sockets this server holds at once; more are refused with 503.
    #[arg(long, env = "PARLEY_MAX_SOCKETS", default_value_t = 10_000, global = true)]
    pub max_sockets: usize,

    /// Frames per second a socket may send on average; beyond it (and the burst)
    /// the server reads that socket's next frame only when the rate allows.
    #[arg(
        long,
        env = "PARLEY_SOCKET_FRAMES_PER_SEC",
        default_value_t = 20,
        global = true
    )]
    pub socket_frames_per_sec: u32,

    /// Frames a socket may send at once before the per-second rate applies.
    #[arg(long, env = "PARLEY_SOCKET_FRAME_BURST", default_value_t = 100, global = true)]
    pub socket_frame_burst: u32,

    /// Seconds one write to a socket may take before the socket is dropped
    /// (a client that never reads cannot hold its task).
    #[arg(
        long,
        env = "PARLEY_SOCKET_WRITE_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub socket_write_timeout_secs: u64,

    /// Seconds a client has to send a request's headers (slowloris); an idle
    /// keep-alive connection is closed after the same time.
    #[arg(
        long,
        env = "PARLEY_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_read_timeout_secs: u64,

    /// HTTP connections served at once; further ones wait in the kernel's
    /// accept queue until one closes. Upgraded sockets do not count (see
    /// PARLEY_MAX_SOCKETS).
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS", default_value_t = 1_000, global = true)]
    pub max_connections: usize,

    /// Redis shared by every instance (redis://host:6379): live events,
    /// presence and rate limits across instances. Unset: one instance,
    /// everything in this process, no Redis needed.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel, so that two deployments can
    /// share one Redis. Every instance of one deployment must use the same.
    #[arg(long, env = "PARLEY_REDIS_NAMESPACE", default_value = "parley", global = true)]
    pub redis_namespace: String,

    /// This is a demo: serve even though the demo accounts (`parley seed-demo`),
    /// whose passwords are published, exist. Without it, `serve` refuses to start
    /// while any of them does.
    #[arg(long, env = "PARLEY_DEMO", default_value_t = false, global = true)]
    pub demo: bool,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            local_only: false,
            site_root: PathBuf::from("target/site"),
            presence_grace_secs: 30,
            heartbeat_secs: 20,
            messages_per_minute: 60,
            sign_ins_per_account_per_hour: 20,
            sign_ins_per_address_per_minute: 30,
            registrations_per_address_per_hour: 20,
            trusted_proxies: Vec::new(),
            max_sockets_per_user: 50,
            max_sockets: 10_000,
            socket_frames_per_sec: 20,
            socket_frame_burst: 100,
            socket_write_timeout_secs: 10,
            header_read_timeout_secs: 10,
            max_connections: 1_000,
            redis_url: None,
            redis_namespace: "parley".to_owned(),
            demo: false,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// customer, agent or admin
    #[arg(long, default_value = "customer")]
    pub role: String,
    /// Read the password from standard input (required: never pass passwords as arguments).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}
