//! The `parley` binary: parse the command line, set up logging, run the command.

// Leptos view types nest deeply; the page types exceed the default limit of 128.
#![recursion_limit = "256"]

use backend::Db;
use clap::Parser;
use server::cli::{Cli, Command, CreateUserArgs, ServeArgs};
use server::config::{Config, OriginPolicy};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// See server/Cargo.toml: memory freed after sign-ins goes back to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.common.log, cli.common.log_json);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("parley: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open_db(url: &str) -> Result<Db, String> {
    let db = Db::connect(url)
        .await
        .map_err(|e| format!("opening the database failed: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| format!("migrating the database failed: {e}"))?;
    Ok(db)
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.common.database_url, cli.serve).await,
        Command::Migrate => {
            let db = open_db(&cli.common.database_url).await?;
            db.close().await;
            println!("Migrations applied to {}", cli.common.database_url);
            Ok(())
        }
        Command::CreateUser(args) => create_user(&cli.common.database_url, args).await,
        Command::SeedDemo => {
            let db = open_db(&cli.common.database_url).await?;
            let result = server::seed::seed_demo(&db).await;
            db.close().await;
            let accounts = result.map_err(|e| format!("seeding failed: {e}"))?;
            println!("Demo accounts (email / password / role):");
            for account in accounts {
                println!(
                    "  {:<24} {:<16} {}",
                    account.email, account.password, account.role
                );
            }
            Ok(())
        }
    }
}

async fn serve(database_url: &str, args: ServeArgs) -> Result<(), String> {
    let config = Config::from_args(&args).map_err(|e| e.to_string())?;
    if config.origin == OriginPolicy::SameHost {
        tracing::warn!(
            "PARLEY_PUBLIC_URL is not set: the same-origin check trusts each request's Host \
             header (a debug build only; release builds refuse to start like this). Set \
             PARLEY_PUBLIC_URL, or --local-only to serve this machine only"
        );
    }
    let db = open_db(database_url).await?;
    if let Err(refusal) = server::seed::check_demo_accounts(&db, args.demo).await {
        db.close().await;
        return Err(refusal);
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let result = server::serve(listener, config, db.clone(), shutdown_signal()).await;
    db.close().await;
    result.map_err(|e| e.to_string())
}

async fn create_user(database_url: &str, args: CreateUserArgs) -> Result<(), String> {
    use parley::validate::{DisplayName, Email, Password};
    let role: parley::Role = args.role.parse().map_err(|e| format!("{e}"))?;
    let email = Email::parse(&args.email).map_err(|e| e.message)?;
    let name = DisplayName::parse(&args.name).map_err(|e| e.message)?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin failed: {e}"))?;
    let password = Password::parse(line.trim_end_matches(['\r', '\n'])).map_err(|e| e.message)?;
    let db = open_db(database_url).await?;
    let result = backend::accounts::create_user(&db, &email, &name, role, &password).await;
    db.close().await;
    let user = result.map_err(|e| e.to_string())?;
    println!(
        "Created {} <{}> as {} (id {})",
        user.name, user.email, user.role, user.id
    );
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing open requests");
}
