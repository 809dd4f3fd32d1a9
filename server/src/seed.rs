//! `parley seed-demo`: accounts for trying Parley in a minute. Idempotent:
//! existing demo accounts are left as they are.

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
