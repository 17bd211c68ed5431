//! Untrusted text (a server's detail, a name from a lockfile, an identity from a bundle)
//! made safe to show on a terminal. The libraries return such text as it came; whoever
//! prints it for a person escapes it here first.

/// Text from a server or a file, made safe to print on a terminal: every control
/// character (C0, DEL, C1) and every bidirectional-override or isolate character
/// (U+202A..U+202E, U+2066..U+2069, and the LRM/RLM/ALM marks) is written as a visible
/// escape (`\n`, `\u{1b}`), so a hostile `detail` cannot clear the screen, move the
/// cursor, reorder what is shown or start a forged line of its own (issue 13, item 7).
/// Every human-readable print of untrusted text goes through here, error messages
/// included; `--json` output is escaped by the JSON encoder instead.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
    }
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(clean("plain text: ok"), "plain text: ok");
        assert_eq!(
            clean("x\u{1b}[2J\nverified: @a/b"),
            "x\\u{1b}[2J\\nverified: @a/b"
        );
        for c in [
            '\u{0}', '\u{7}', '\u{7f}', '\u{80}', '\u{9b}', '\u{9f}', '\u{202a}', '\u{202e}',
            '\u{2066}', '\u{2069}',
        ] {
            let s = c.to_string();
            let out = clean(&s);
            assert!(out.starts_with("\\u{"), "{:?} -> {out}", c);
            assert!(!out.contains(c));
        }
        assert_eq!(clean("\r\t"), "\\r\\t");
        // Just outside the ranges: printed as is.
        for c in ['\u{a0}', '\u{2029}', '\u{206a}', '\u{2065}', 'é'] {
            assert_eq!(clean(&c.to_string()), c.to_string());
        }
    }
}
