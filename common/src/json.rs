//! JSON text for the machine forms of the clients (`svstat --json`, `svscanctl -j`): only the
//! string escape is shared; each program writes its own objects.

use std::fmt::Write as _;

/// Appends `s` to `out` as a JSON string: quotes, backslashes and control characters
/// escaped, everything else as it is (JSON text is UTF-8).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped_and_the_rest_kept() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u000a\u0001é""#);
    }
}
