//! `parley seed-demo`: accounts for trying Parley in a minute. Idempotent:
//! existing demo accounts are left as they are.
//!
//! Their passwords are in the README, so they must never exist on a real
//! instance: `parley serve` asks [`demo_accounts_present`] and refuses to
//! start when any is there, unless it is told this is a demo (`--demo`).

use backend::{accounts, Db, ServiceError};
use parley::validate::{DisplayName, Email, Password};
use parley::Role;

pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
}

pub const DEMO_ACCOUNTS: [(&str, &str, &str, Role); 3] = [
    (
        "Casey Customer",
        "customer@parley.test",
        "sunny-harbor-tea",
        Role::Customer,
    ),
    (
        "Avery Agent",
        "agent@parley.test",
        "quiet-river-desk",
        Role::Agent,
    ),
    (
        "Alex Admin",
        "admin@parley.test",
        "bright-lantern-key",
        Role::Admin,
    ),
];

pub async fn seed_demo(db: &Db) -> Result<Vec<DemoAccount>, ServiceError> {
    let mut created = Vec::new();
    for (name, email, password, role) in DEMO_ACCOUNTS {
        let result = accounts::create_user(
            db,
            &Email::parse(email)?,
            &DisplayName::parse(name)?,
            role,
            &Password::parse(password)?,
        )
        .await;
        match result {
            Ok(_) => {}
            // Already there from an earlier run: keep it.
            Err(ServiceError::Validation(v)) if v.field == "email" => {}
            Err(e) => return Err(e),
        }
        created.push(DemoAccount {
            email,
            password,
            role,
        });
    }
    Ok(created)
}

/// The demo accounts this database holds (by email), if any.
pub async fn demo_accounts_present(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let [(_, customer, _, _), (_, agent, _, _), (_, admin, _, _)] = DEMO_ACCOUNTS;
    let found: Vec<(String,)> = backend::with_pools!(db, |pools| {
        sqlx::query_as("SELECT email FROM users WHERE email IN ($1, $2, $3) ORDER BY id")
            .bind(customer)
            .bind(agent)
            .bind(admin)
            .fetch_all(&pools.read)
            .await
    })?;
    Ok(found.into_iter().map(|(email,)| email).collect())
}

/// Whether `serve` may use this database: not while a demo account exists,
/// unless this is a demo (`--demo`). `Err` says why not and what to do.
pub async fn check_demo_accounts(db: &Db, demo: bool) -> Result<(), String> {
    let present = demo_accounts_present(db)
        .await
        .map_err(|e| format!("checking for demo accounts failed: {e}"))?;
    if present.is_empty() {
        return Ok(());
    }
    if !demo {
        return Err(demo_refusal(&present));
    }
    tracing::warn!(
        accounts = %present.join(", "),
        "demo mode: the demo accounts exist and their passwords are published"
    );
    Ok(())
}

/// Why `serve` will not start on a database with demo accounts, and what to do.
fn demo_refusal(present: &[String]) -> String {
    format!(
        "this database holds demo accounts whose passwords are published ({}). \
         If this is a demo, start with --demo (or PARLEY_DEMO=true). Otherwise use a \
         database without them (DATABASE_URL) and create real accounts with \
         `parley create-user --email you@example.com --name You --role admin --password-stdin`.",
        present.join(", ")
    )
}
