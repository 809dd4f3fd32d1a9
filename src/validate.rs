//! Parse, don't validate: every value a user types becomes one of these
//! newtypes at the server boundary, or a [`ValidationError`] naming the field
//! and saying, in a sentence the user can act on, what is wrong.
//!
//! Lengths are counted in characters (Unicode scalar values), not bytes.
//! Names, subjects, titles and messages must also not hide what they are
//! ([`crate::text`]: no direction overrides, not only invisible characters,
//! no NUL or other control characters).

use crate::text::{self, Hidden, Lines};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A rejected input: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Refuses text that hides itself ([`text::check`]) with a sentence about
/// `field`: `one` names one of them ("name"), `many` all ("Names").
fn shown_as_written(
    field: &str,
    (one, many): (&str, &str),
    value: &str,
    lines: Lines,
) -> Result<(), ValidationError> {
    let message = match text::check(value, lines) {
        None => return Ok(()),
        Some(Hidden::ControlCharacter) if lines == Lines::Many => {
            format!("{many} cannot contain control characters other than line breaks and tabs.")
        }
        Some(Hidden::ControlCharacter) => format!("{many} cannot contain control characters."),
        Some(Hidden::DirectionOverride) => format!(
            "{many} cannot contain characters that change the direction of the text \
             (U+202A–U+202E, U+2066–U+2069): they make text read differently from what it is."
        ),
        Some(Hidden::NothingVisible) => {
            format!("This {one} has only invisible characters; write something visible.")
        }
    };
    Err(ValidationError::new(field, message))
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A trimmed, lower-cased email address of a plausible shape.
    Email
);
string_newtype!(
    /// A password of acceptable length (never trimmed: spaces count).
    Password
);
string_newtype!(
    /// The name shown beside someone's messages.
    DisplayName
);
string_newtype!(
    /// A message body: trimmed, 1..=5000 characters.
    MessageBody
);
string_newtype!(
    /// A conversation subject: trimmed, 1..=200 characters.
    Subject
);
string_newtype!(
    /// A canned response's shortcut, typed after `/`: lowercase letters, digits, `-`, `_`.
    Shortcut
);
string_newtype!(
    /// A canned response's title.
    CannedTitle
);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        let err = |m: &str| Err(ValidationError::new("email", m));
        if email.is_empty() {
            return err("Enter your email address.");
        }
        if char_len(&email) > Self::MAX_CHARS {
            return err("That email address is too long.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return err("Enter an email address like name@example.com.");
        };
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        // No spaces, and nothing invisible that could make two addresses look alike.
        if local.is_empty() || !domain_ok || email.chars().any(text::is_invisible) {
            return err("Enter an email address like name@example.com.");
        }
        Ok(Email(email))
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = char_len(raw);
        if n < Self::MIN_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("Use at least {} characters for your password.", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("Use at most {} characters for your password.", Self::MAX_CHARS),
            ));
        }
        Ok(Password(raw.to_owned()))
    }
}

impl DisplayName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Enter your name."));
        }
        if char_len(name) > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("Use at most {} characters for your name.", Self::MAX_CHARS),
            ));
        }
        shown_as_written("name", ("name", "Names"), name, Lines::One)?;
        Ok(DisplayName(name.to_owned()))
    }
}

impl MessageBody {
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let body = raw.trim();
        if body.is_empty() {
            return Err(ValidationError::new("body", "Write a message first."));
        }
        shown_as_written("body", ("message", "Messages"), body, Lines::Many)?;
        let n = char_len(body);
        if n > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "body",
                format!(
                    "Messages can be at most {} characters; this one has {}.",
                    Self::MAX_CHARS,
                    n
                ),
            ));
        }
        Ok(MessageBody(body.to_owned()))
    }
}

impl Subject {
    pub const MAX_CHARS: usize = 200;

    /// An empty subject is no subject: `Ok(None)`.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, ValidationError> {
        let subject = raw.trim();
        if subject.is_empty() {
            return Ok(None);
        }
        shown_as_written("subject", ("subject", "Subjects"), subject, Lines::One)?;
        if char_len(subject) > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "subject",
                format!("Subjects can be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(Some(Subject(subject.to_owned())))
    }
}

impl Shortcut {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().trim_start_matches('/').to_lowercase();
        let ok = !s.is_empty()
            && char_len(&s) <= Self::MAX_CHARS
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Shortcut(s))
        } else {
            Err(ValidationError::new(
                "shortcut",
                "Use 1 to 32 letters, digits, '-' or '_' for the shortcut.",
            ))
        }
    }
}

impl CannedTitle {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(ValidationError::new("title", "Give the response a title."));
        }
        shown_as_written("title", ("title", "Titles"), t, Lines::One)?;
        if char_len(t) > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "title",
                format!("Titles can be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(CannedTitle(t.to_owned()))
    }
}

/// The first `max_chars` characters of `text` on one line, with `…` when cut:
/// list previews and subjects derived from a first message.
pub fn preview(text: &str, max_chars: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if char_len(&one_line) <= max_chars {
        one_line
    } else {
        let cut: String = one_line.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_lowercased_and_shaped() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").map(Email::into_inner),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "   ",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a@@b.c",
            "a b@c.d",
            "ann@.com",
            "ann@x..com",
        ] {
            let e = Email::parse(bad).expect_err(bad);
            assert_eq!(e.field, "email");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn password_counts_characters_not_bytes() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("éééééééé").is_ok(), "8 chars, 16 bytes");
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            Password::parse("  spaced  ").map(Password::into_inner),
            Ok("  spaced  ".into())
        );
    }

    #[test]
    fn message_body_limits_are_in_characters() {
        assert!(MessageBody::parse("   \n ").is_err());
        assert_eq!(
            MessageBody::parse("  hi \n").map(MessageBody::into_inner),
            Ok("hi".into())
        );
        let max = "é".repeat(5000);
        assert!(
            MessageBody::parse(&max).is_ok(),
            "5000 chars is 10000 bytes and allowed"
        );
        let over = "é".repeat(5001);
        let err = MessageBody::parse(&over).expect_err("over the limit");
        assert!(err.message.contains("5001"));
    }

    #[test]
    fn subject_is_optional_and_bounded() {
        assert_eq!(Subject::parse_optional("  "), Ok(None));
        assert!(Subject::parse_optional(&"s".repeat(200)).is_ok());
        assert!(Subject::parse_optional(&"s".repeat(201)).is_err());
    }

    #[test]
    fn names_and_shortcuts() {
        assert!(DisplayName::parse(" ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert_eq!(
            DisplayName::parse(" Ann ").map(DisplayName::into_inner),
            Ok("Ann".into())
        );
        assert_eq!(
            Shortcut::parse("/Refund").map(Shortcut::into_inner),
            Ok("refund".into())
        );
        assert!(Shortcut::parse("two words").is_err());
        assert!(CannedTitle::parse("").is_err());
    }

    /// Each field refuses hidden text by the rule in `text`, naming itself.
    #[test]
    fn names_subjects_titles_and_messages_refuse_hidden_text() {
        let rlo = "abc\u{202E}fdp.exe";
        let only_invisible = "\u{200B}\u{2060}\u{FEFF}";
        let nul = "a\0b";
        type Parse = fn(&str) -> Result<(), ValidationError>;
        let fields: [(&str, Parse); 4] = [
            ("name", |s| DisplayName::parse(s).map(drop)),
            ("subject", |s| Subject::parse_optional(s).map(drop)),
            ("title", |s| CannedTitle::parse(s).map(drop)),
            ("body", |s| MessageBody::parse(s).map(drop)),
        ];
        for (field, parse) in fields {
            for (bad, says) in [
                (rlo, "direction"),
                (only_invisible, "only invisible"),
                (nul, "control characters"),
            ] {
                let err = parse(bad).expect_err(bad);
                assert_eq!(err.field, field, "{bad:?}");
                assert!(err.message.contains(says), "{field} {bad:?}: {}", err.message);
            }
            assert_eq!(parse("Ann 👩\u{200D}💻 Lee"), Ok(()), "{field}");
        }
        assert_eq!(
            MessageBody::parse("line one\r\n\tline two").map(MessageBody::into_inner),
            Ok("line one\r\n\tline two".into())
        );
        assert!(DisplayName::parse("two\nlines").is_err());
        assert!(Email::parse("ann\u{200B}@example.com").is_err());
        assert!(Email::parse("ann\u{202E}@example.com").is_err());
    }

    #[test]
    fn previews_fold_whitespace_and_cut() {
        assert_eq!(preview("a\n  b", 10), "a b");
        assert_eq!(preview("abcdefghij", 5), "abcd…");
        assert_eq!(preview("ééééé", 5), "ééééé");
    }
}
