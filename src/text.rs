//! Text that hides itself: what a name, a subject or a message may not be
//! made of, whoever types it.
//!
//! - **Direction overrides and isolates** (U+202A–U+202E, U+2066–U+2069)
//!   reorder what follows them on screen, so text can read differently from
//!   what it is ("Trojan Source"; a file name `cod\u{202E}fdp.exe` shows as
//!   `codexe.pdf`). Nobody types them by accident; they are refused.
//!   The plain direction *marks* (U+200E, U+200F, U+061C) stay: right-to-left
//!   writers need them and they reorder nothing by themselves.
//! - **Nothing visible**: text made only of spaces and invisible characters
//!   (zero-width space and joiners, word joiner, byte-order mark, soft
//!   hyphen, variation selectors, Hangul fillers, tag characters, other
//!   format characters) would be an empty-looking name or message. Such
//!   characters stay allowed *inside* visible text: an emoji sequence like
//!   👩‍💻 is two emoji joined by a zero-width joiner.
//! - **Control characters** (NUL and the other C0/C1 codes): refused, except
//!   line breaks and tabs in multi-line text (messages).
//!
//! Pure and shared: the browser refuses by the same rule before sending.

/// Whether text is one line (names, subjects, titles) or may have line breaks (messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// What is wrong with a piece of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// A control character (NUL among them), or a line break in one-line text.
    ControlCharacter,
    /// A bidirectional override or isolate.
    DirectionOverride,
    /// Only spaces and invisible characters.
    NothingVisible,
}

/// The first thing that makes `text` hide itself, if any.
pub fn check(text: &str, lines: Lines) -> Option<Hidden> {
    if text.chars().any(|c| is_forbidden_control(c, lines)) {
        return Some(Hidden::ControlCharacter);
    }
    if text.chars().any(is_direction_override) {
        return Some(Hidden::DirectionOverride);
    }
    if text.chars().all(is_invisible) {
        return Some(Hidden::NothingVisible);
    }
    None
}

/// A bidirectional embedding, override or isolate: U+202A–U+202E, U+2066–U+2069.
pub fn is_direction_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_forbidden_control(c: char, lines: Lines) -> bool {
    let allowed = lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    c.is_control() && !allowed
}

/// Whether `c` shows nothing by itself: whitespace, controls, and the
/// format and filler characters that render as nothing.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                    // combining grapheme joiner
            | '\u{061C}'                    // Arabic letter mark
            | '\u{115F}' | '\u{1160}'       // Hangul choseong / jungseong fillers
            | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'       // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{202A}'..='\u{202E}'       // embeddings and overrides
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, isolates, deprecated formats
            | '\u{2800}'                    // braille pattern blank
            | '\u{3164}'                    // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'       // variation selectors
            | '\u{FEFF}'                    // byte-order mark / zero-width no-break space
            | '\u{FFA0}'                    // halfwidth Hangul filler
            | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
            | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}'     // musical symbol format controls
            | '\u{E0000}'..='\u{E007F}'     // tags
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_direction_override_and_isolate_is_refused() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let text = format!("invoice{c}fdp.exe");
            assert_eq!(
                check(&text, Lines::Many),
                Some(Hidden::DirectionOverride),
                "U+{:04X}",
                c as u32
            );
            assert_eq!(
                check(&text, Lines::One),
                Some(Hidden::DirectionOverride),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn direction_marks_in_right_to_left_text_are_kept() {
        assert_eq!(check("שלום \u{200F}(123)", Lines::One), None);
        assert_eq!(check("abc\u{200E}", Lines::Many), None);
    }

    #[test]
    fn only_invisible_characters_is_nothing() {
        for text in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{2060}",
            "\u{FEFF}",
            "\u{00AD}\u{00AD}",
            "\u{3164}",
            "\u{2800}",
            "\u{FE0F}",
            "\u{E0041}\u{E0042}",
            " \u{200B} \u{200D} ",
            "",
        ] {
            assert_eq!(check(text, Lines::Many), Some(Hidden::NothingVisible), "{text:?}");
            assert_eq!(check(text, Lines::One), Some(Hidden::NothingVisible), "{text:?}");
        }
    }

    #[test]
    fn emoji_sequences_and_joiners_inside_visible_text_are_fine() {
        for text in [
            "👩\u{200D}💻",                                             // woman technologist
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",                         // family
            "🏳\u{FE0F}\u{200D}🌈",                                      // rainbow flag
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", // Scotland
            "❤\u{FE0F}",
            "soft\u{00AD}hyphen",
            "a\u{200B}b",
        ] {
            assert_eq!(check(text, Lines::Many), None, "{text:?}");
            assert_eq!(check(text, Lines::One), None, "{text:?}");
        }
    }

    #[test]
    fn messages_keep_line_breaks_and_tabs_but_not_other_controls() {
        assert_eq!(check("line one\nline two\r\n\tindented", Lines::Many), None);
        for text in [
            "nul\0here",
            "bell\u{7}",
            "escape\u{1B}[31m",
            "del\u{7F}",
            "c1\u{85}x",
        ] {
            assert_eq!(
                check(text, Lines::Many),
                Some(Hidden::ControlCharacter),
                "{text:?}"
            );
        }
    }

    #[test]
    fn one_line_text_has_no_controls_at_all() {
        for text in ["two\nlines", "tab\there", "nul\0", "cr\r"] {
            assert_eq!(
                check(text, Lines::One),
                Some(Hidden::ControlCharacter),
                "{text:?}"
            );
        }
        assert_eq!(check("Ann Lee", Lines::One), None);
    }
}
