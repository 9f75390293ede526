//! Mainland China mobile numbers: normalising the many ways people and spreadsheets
//! write them into one 11-digit form, so that duplicate detection and dialing work.
//! Landlines are deliberately out of scope: the CRM keys customers on mobiles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an input is not a mainland mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Not 11 digits once separators and the country code are removed.
    Length,
    /// 11 digits, but not `1[3-9]` followed by nine digits.
    Format,
    /// Something other than digits, separators or a leading `+`.
    Characters,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown verbatim to staff next to the form field, hence short and in Chinese.
        f.write_str(match self {
            PhoneError::Length => "手机号应为11位",
            PhoneError::Format => "手机号格式不正确",
            PhoneError::Characters => "含有非法字符",
        })
    }
}

impl std::error::Error for PhoneError {}

/// A validated mobile number: exactly 11 ASCII digits matching `^1[3-9]\d{9}$`.
///
/// `Debug` prints the masked form so that a stray `{:?}` in a log line does not leak
/// personal information; use [`Mobile::as_str`] when the full number is really needed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

/// Longest digit string worth looking at: "0086" + 11 digits.
const MAX_DIGITS: usize = 15;

/// Parses a mobile number as typed, pasted or imported.
///
/// Ignores spaces, dashes, dots and parentheses (ASCII and full-width), converts
/// full-width digits, drops a trailing ".0" (Excel stores numbers as floats), and strips
/// a "+86", "0086" or "86" country code when exactly 11 digits remain.
pub fn parse(input: &str) -> Result<Mobile, PhoneError> {
    let trimmed = input.trim();
    // Must happen before dots are discarded as separators, or the "0" would stay.
    let trimmed = trimmed
        .strip_suffix(".0")
        .or_else(|| trimmed.strip_suffix("．０"))
        .unwrap_or(trimmed);

    let mut digits = [0u8; MAX_DIGITS];
    let mut len = 0usize;
    let mut plus = false;
    for c in trimmed.chars() {
        let d = match c {
            '0'..='9' => c as u8,
            // Full-width digits U+FF10..=U+FF19 map onto '0'..='9'.
            '０'..='９' => b'0' + (c as u32 - '０' as u32) as u8,
            ' ' | '\t' | '-' | '.' | '(' | ')' | '\u{3000}' | '－' | '—' | '．' | '（' | '）' =>
            {
                continue;
            }
            // A plus sign is only meaningful before any digit ("+86 …").
            '+' | '＋' if len == 0 && !plus => {
                plus = true;
                continue;
            }
            _ => return Err(PhoneError::Characters),
        };
        // Past the buffer keep counting so the length error is still reported.
        if len < MAX_DIGITS {
            digits[len] = d;
        }
        len += 1;
    }
    if len > MAX_DIGITS {
        return Err(PhoneError::Length);
    }

    let all = &digits[..len];
    let national: &[u8] = if plus {
        // With "+", only the country code 86 is acceptable.
        match all.strip_prefix(b"86") {
            Some(rest) if rest.len() == 11 => rest,
            Some(_) => return Err(PhoneError::Length),
            None => return Err(PhoneError::Format),
        }
    } else if len == 15 && all.starts_with(b"0086") {
        &all[4..]
    } else if len == 13 && all.starts_with(b"86") {
        &all[2..]
    } else {
        all
    };

    if national.len() != 11 {
        return Err(PhoneError::Length);
    }
    if national[0] != b'1' || !(b'3'..=b'9').contains(&national[1]) {
        return Err(PhoneError::Format);
    }
    Ok(Mobile(national.iter().map(|&b| char::from(b)).collect()))
}

impl Mobile {
    /// The 11-digit form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: what list views and exports show by default.
    pub fn masked(&self) -> String {
        let mut out = String::with_capacity(11);
        out.push_str(&self.0[..3]);
        out.push_str("****");
        out.push_str(&self.0[7..]);
        out
    }

    /// Last four digits, used to tell customers apart on the phone.
    pub fn last4(&self) -> &str {
        &self.0[7..]
    }
}

impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Mobile").field(&self.masked()).finish()
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Mobile {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Mobile {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Serialize for Mobile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mobile {
    /// Re-validates, so a hand-edited or corrupted record cannot smuggle in a bad number.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        parse(input).unwrap().as_str().to_owned()
    }

    #[test]
    fn messy_inputs_normalise() {
        assert_eq!(ok("+86 138-0013-8000"), "13800138000");
        assert_eq!(ok("138 0013 8000"), "13800138000");
        assert_eq!(ok("13800138000.0"), "13800138000");
        assert_eq!(ok("１３８００１３８０００"), "13800138000");
        assert_eq!(ok("8613800138000"), "13800138000");
        assert_eq!(ok("008613800138000"), "13800138000");
        assert_eq!(ok("(+86) 138.0013.8000"), "13800138000");
        assert_eq!(ok("＋８６　１３８－００１３－８０００"), "13800138000");
        assert_eq!(ok("  19912345678\t"), "19912345678");
        assert_eq!(ok("（138）00138000"), "13800138000");
    }

    #[test]
    fn rejects_invalid_numbers() {
        assert_eq!(parse("12345678901"), Err(PhoneError::Format));
        assert_eq!(parse("23800138000"), Err(PhoneError::Format));
        assert_eq!(parse("1380013800"), Err(PhoneError::Length));
        assert_eq!(parse("138001380001"), Err(PhoneError::Length));
        assert_eq!(parse(""), Err(PhoneError::Length));
        assert_eq!(parse("+8613800138"), Err(PhoneError::Length));
        assert_eq!(parse("+1 4155550100"), Err(PhoneError::Format));
        assert_eq!(parse("1380013800a"), Err(PhoneError::Characters));
        assert_eq!(parse("138+00138000"), Err(PhoneError::Characters));
        assert_eq!(parse("1234567890123456789"), Err(PhoneError::Length));
        // "86" is only a country code when 11 digits follow it.
        assert_eq!(parse("861380013800"), Err(PhoneError::Length));
    }

    #[test]
    fn masking_and_suffix() {
        let m = parse("13812345678").unwrap();
        assert_eq!(m.masked(), "138****5678");
        assert_eq!(m.last4(), "5678");
        assert_eq!(format!("{m:?}"), "Mobile(\"138****5678\")");
        assert_eq!(m.to_string(), "13812345678");
        assert_eq!("138 1234 5678".parse::<Mobile>(), Ok(m));
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(PhoneError::Length.to_string(), "手机号应为11位");
        assert_eq!(PhoneError::Format.to_string(), "手机号格式不正确");
        assert_eq!(PhoneError::Characters.to_string(), "含有非法字符");
    }
}
