//! What text a field may hold. Names and other single-line fields refuse control characters
//! (NUL, ESC and ANSI sequences, newlines), bidirectional overrides (an RTL override turns
//! `txt.exe` into `exe.txt` on screen) and zero-width characters (two names that look the same
//! but are not); multi-line fields (follow-up content) keep line breaks and nothing else of
//! the kind. Refused rather than stripped, so the caller sees what was wrong.

/// Formatting characters that change how text is shown without being seen themselves.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}' // Arabic letter mark
        | '\u{180E}' // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space/non-joiner/joiner, LRM, RLM
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates, deprecated format
        | '\u{FEFF}' // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        // The rest of Unicode's default-ignorable code points, and blanks that show as nothing:
        // a soft hyphen or a Hangul filler made a second "一部" beside the first.
        | '\u{00AD}' // soft hyphen
        | '\u{034F}' // combining grapheme joiner
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}' // Mongolian variation selectors
        | '\u{2800}' // braille blank
        | '\u{FE00}'..='\u{FE0E}' // variation selectors (U+FE0F, emoji presentation: see below)
        | '\u{FFF0}'..='\u{FFF8}' // reserved specials
        | '\u{E000}'..='\u{F8FF}' // private use: no agreed glyph
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical formatting
        | '\u{E0000}'..='\u{E0FFF}' // tags and variation selectors supplement
        | '\u{F0000}'..='\u{10FFFF}' // supplementary private use
    )
}

pub const REFUSED: &str = "不能包含控制字符、换行或不可见的格式字符（如零宽字符、文字方向控制符）";
pub const REFUSED_MULTI: &str =
    "不能包含控制字符或不可见的格式字符（如零宽字符、文字方向控制符），换行除外";

/// Characters that have an emoji form for U+FE0F (emoji presentation) to select: keycap bases,
/// ©, ®, the symbol blocks from ‼ to the arrows and shapes, four CJK marks and the emoji planes.
/// After anything else the selector changes nothing on screen: "一\u{FE0F}部" looks exactly like
/// "一部" and would pass for it.
fn takes_emoji_presentation(c: char) -> bool {
    matches!(c,
        '#' | '*' | '0'..='9' | '\u{A9}' | '\u{AE}'
        | '\u{203C}'..='\u{2BFF}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{1F000}'..='\u{1FAFF}'
    )
}

/// Whether every U+FE0F in `s` follows a character it can turn into an emoji.
fn selectors_select(s: &str) -> bool {
    let mut before = None;
    for c in s.chars() {
        if c == '\u{FE0F}' && !before.is_some_and(takes_emoji_presentation) {
            return false;
        }
        before = Some(c);
    }
    true
}

/// A single-line field: no control or invisible formatting character at all.
pub fn single_line_ok(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || invisible(c)) && selectors_select(s)
}

/// A multi-line field: line breaks (`\n`, `\r`) allowed, and the zero-width joiner that emoji
/// sequences need; no other control or invisible formatting character.
pub fn multi_line_ok(s: &str) -> bool {
    !s.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\r') || (invisible(c) && c != '\u{200D}'))
        && selectors_select(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bidi_and_zero_width_are_refused() {
        for bad in [
            "张\0三",
            "张三\u{1b}[31m",
            "a\u{202E}txt.exe",
            "张\u{200B}三",
            "张\u{FEFF}三",
            "张\n三",
            "张\t三",
            "\u{2066}x",
            "x\u{85}",
            "一\u{00AD}部",
            "一\u{3164}部",
            "刘\u{115F}筠",
            "a\u{034F}b",
            "a\u{2800}b",
            "a\u{E000}b",
            "一\u{FE00}部",
            "a\u{E0041}b",
            "a\u{206A}b",
            "一\u{FE0F}部",
            "\u{FE0F}张三",
            "❤\u{FE0F}\u{FE0F}",
        ] {
            assert!(!single_line_ok(bad), "{bad:?}");
        }
        assert!(single_line_ok("张三丰 Zhang-San (成都)"));
        assert!(single_line_ok("小王❤\u{FE0F}"), "emoji presentation stays");
        assert!(
            single_line_ok("1\u{FE0F}\u{20E3} 号 ☎\u{FE0F} 🙂\u{FE0F}"),
            "keycaps, symbols, emoji"
        );
        assert!(multi_line_ok("第一行\r\n第二行\n👨\u{200D}👩"));
        for bad in [
            "a\0b",
            "a\u{1b}[2J",
            "a\u{202E}b",
            "a\u{200B}b",
            "a\tb",
            "一\u{FE0F}部",
        ] {
            assert!(!multi_line_ok(bad), "{bad:?}");
        }
    }
}
