//! The real account flow, over HTTP: the same server functions the browser
//! calls (`/api/login`, `/api/register`), through the test kit's typed
//! client, so a load run pays for what users pay for and holds real session
//! cookies.
//!
//! Accounts are reused across runs: each one is signed in first and only
//! created when that fails. Customers register publicly. Agents cannot (public
//! registration only makes customers), so a missing agent is created with the
//! server's own CLI, `parley create-user --role agent --password-stdin`,
//! against the same database (`--parley-bin` and `--database-url`); agents
//! that already exist need neither.

use parley::Role;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use testkit::Client;

/// How to create agents that do not exist yet.
#[derive(Clone, Debug, Default)]
pub struct AgentMaker {
    pub parley_bin: Option<PathBuf>,
    pub database_url: Option<String>,
}

/// A customer signed in at `base`: reused when it exists, registered when
/// not. The client holds the session cookie (its clones share it, as a
/// user's tabs do).
pub async fn customer(base: &str, email: &str, name: &str, password: &str) -> Result<Client, String> {
    let client = Client::new(base)?;
    let user = match client.login(email, password).await? {
        Some(user) => user,
        None => client.register(email, name, password).await?,
    };
    if user.role != Role::Customer {
        return Err(format!(
            "{email} is a {} here, not a customer: pick another --prefix",
            user.role
        ));
    }
    Ok(client)
}

/// An agent signed in at `base`: reused when it exists, created with the CLI when not.
pub async fn agent(
    base: &str,
    email: &str,
    name: &str,
    password: &str,
    maker: &AgentMaker,
) -> Result<Client, String> {
    let client = Client::new(base)?;
    let user = match client.login(email, password).await? {
        Some(user) => user,
        None => {
            create_agent(maker, email, name, password).await?;
            client
                .login(email, password)
                .await?
                .ok_or_else(|| format!("{email} was created but cannot sign in"))?
        }
    };
    if !user.role.is_staff() {
        return Err(format!(
            "{email} is a {} here, not an agent: pick another --prefix",
            user.role
        ));
    }
    Ok(client)
}

/// Runs `parley create-user --role agent --password-stdin` against the database.
async fn create_agent(maker: &AgentMaker, email: &str, name: &str, password: &str) -> Result<(), String> {
    let (Some(bin), Some(url)) = (&maker.parley_bin, &maker.database_url) else {
        return Err(format!(
            "agent {email} does not exist and cannot be registered over HTTP (registration makes \
             customers): pass --parley-bin and --database-url so the load generator can create it \
             with `parley create-user --role agent`, or create it yourself"
        ));
    };
    let (bin, url) = (bin.clone(), url.clone());
    let (email, name, password) = (email.to_owned(), name.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&bin)
            .args(["create-user", "--email", &email, "--name", &name])
            .args(["--role", "agent", "--password-stdin"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{password}").map_err(|e| format!("writing the password: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {}: {e}", bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`parley create-user` for {email} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
    .await
    .map_err(|e| format!("create-user task: {e}"))?
}
