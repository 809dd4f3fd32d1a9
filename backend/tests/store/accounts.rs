//! Accounts below HTTP: the password rule every way of creating an account
//! shares (registration, `parley create-user` and the demo seed all call
//! `accounts::create_user`).

use crate::helpers::store;
use backend::{accounts, ServiceError};
use parley::validate::{DisplayName, Email, Password};
use parley::Role;

async fn create(
    store: &crate::helpers::Store,
    email: &str,
    name: &str,
    password: &str,
) -> Result<(), ServiceError> {
    accounts::create_user(
        store.db(),
        &Email::parse(email).expect("email"),
        &DisplayName::parse(name).expect("name"),
        Role::Agent,
        &Password::parse(password).expect("long enough"),
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn a_new_password_is_neither_common_nor_personal() {
    let store = store().await;
    for (email, name, password, says) in [
        ("ann@example.com", "Ann Lee", "password1", "most common"),
        ("ann@example.com", "Ann Lee", "Baseball", "most common"),
        ("ann.lee@example.com", "Ann Lee", "ann.lee@example.com", "email"),
        ("ann.lee@example.com", "Ann Lee", "hello ann.lee 2024", "email"),
        ("al@example.com", "Ann Lee", "annlee-annlee", "name"),
    ] {
        match create(&store, email, name, password).await {
            Err(ServiceError::Validation(v)) => {
                assert_eq!(v.field, "password", "{password}");
                assert!(v.message.contains(says), "{password}: {}", v.message);
            }
            other => panic!("{password} was accepted: {other:?}"),
        }
    }
    // Nothing was stored, so the email is still free.
    create(&store, "ann.lee@example.com", "Ann Lee", "correct horse battery")
        .await
        .expect("a good password is accepted");
}
