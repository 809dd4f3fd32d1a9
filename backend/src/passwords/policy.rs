//! Which new passwords are refused, beyond their length (which
//! [`parley::validate::Password`] checks, in the browser too): the ones
//! attackers try first. That is the 10,000 most common passwords of at least
//! 8 characters (`common-passwords.txt`, compiled into the binary; its header
//! names its source and license), and a password made of the person's own
//! email address, the part before the `@`, or their name.
//!
//! The list stays on the server: compiled into the WASM it would add ~90 KB
//! to every page load for a check only registration needs, and the server's
//! answer names the problem in the form all the same.
//!
//! One rule for every way an account gets a password: public registration,
//! `parley create-user` and the demo seed all go through
//! [`crate::accounts::create_user`], which asks [`check_new_password`].

use parley::validate::{DisplayName, Email, Password};
use parley::ValidationError;
use std::collections::HashSet;
use std::sync::OnceLock;

/// The list, one password a line after a `#` header (see the file).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// A personal detail shorter than this is only refused as the whole
/// password: "Al" inside a long passphrase is a coincidence, not a pattern.
const MIN_CONTAINED_CHARS: usize = 3;

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    })
}

/// Whether `password` is on the common-passwords list (compared in lower
/// case, without surrounding spaces: the list is lower case).
pub fn is_common(password: &str) -> bool {
    common_passwords().contains(password.trim().to_lowercase().as_str())
}

/// Refuses a new password that is common or built from the person's own
/// email address or name, with a sentence that says which and what to do.
pub fn check_new_password(
    password: &Password,
    email: &Email,
    name: &DisplayName,
) -> Result<(), ValidationError> {
    let refuse = |message: &str| Err(ValidationError::new("password", message));
    let candidate = password.as_str().trim().to_lowercase();
    if is_common(&candidate) {
        return refuse(
            "This is one of the most common passwords, which attackers try first. \
             Choose another: a few unrelated words make a good one.",
        );
    }
    let email = email.as_str();
    let local_part = email.split('@').next().unwrap_or(email);
    if uses(&candidate, email) || uses(&candidate, local_part) {
        return refuse("Your password must not contain your email address. Choose another.");
    }
    let name = name.as_str().to_lowercase();
    let name_joined: String = name.split_whitespace().collect();
    if uses(&candidate, &name) || uses(&candidate, &name_joined) {
        return refuse("Your password must not contain your name. Choose another.");
    }
    Ok(())
}

/// Whether `password` (lower case) is `detail` or, for a detail long enough
/// to be a pattern rather than a coincidence, contains it.
fn uses(password: &str, detail: &str) -> bool {
    let detail = detail.trim();
    if detail.is_empty() {
        return false;
    }
    password == detail || (detail.chars().count() >= MIN_CONTAINED_CHARS && password.contains(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, email: &str, name: &str) -> Result<(), ValidationError> {
        check_new_password(
            &Password::parse(password).expect("long enough"),
            &Email::parse(email).expect("email"),
            &DisplayName::parse(name).expect("name"),
        )
    }

    #[test]
    fn the_list_is_the_ten_thousand_from_the_file() {
        assert_eq!(common_passwords().len(), 10_000);
        assert!(common_passwords().iter().all(|p| p.chars().count() >= 8));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in [
            "password",
            "12345678",
            "Iloveyou",
            "  sunshine ",
            "QWERTYUIOP",
            "trustno1",
        ] {
            let err = check(common, "ann@example.com", "Ann").expect_err(common);
            assert_eq!(err.field, "password");
            assert!(err.message.contains("most common"), "{}", err.message);
        }
    }

    #[test]
    fn own_email_local_part_and_name_are_refused() {
        let cases = [
            ("ann.smith@example.com", "ann.smith@example.com", "email"),
            ("ann.smith@example.com", "my ann.smith!", "email"),
            ("ann.smith@example.com", "ANN.SMITH-2024", "email"),
            ("cc@example.com", "Casey Customer", "name"),
            ("cc@example.com", "caseycustomer99", "name"),
            ("cc@example.com", "i am casey customer", "name"),
        ];
        for (email, password, what) in cases {
            let name = "Casey Customer";
            let err = check(password, email, name).expect_err(password);
            assert_eq!(err.field, "password");
            assert!(err.message.contains(what), "{password}: {}", err.message);
        }
    }

    #[test]
    fn short_details_count_only_as_the_whole_password() {
        // "al" is in "natural", but that is no pattern.
        assert_eq!(check("a natural choice", "al@example.com", "Al"), Ok(()));
        assert!(check("al@example.com", "al@example.com", "Al").is_err());
    }

    #[test]
    fn ordinary_passphrases_pass() {
        assert_eq!(check("correct horse battery", "ann@example.com", "Ann"), Ok(()));
        assert_eq!(
            check("sunny-harbor-tea", "customer@parley.test", "Casey Customer"),
            Ok(())
        );
    }
}
