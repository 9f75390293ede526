//! Chinese resident identity card numbers (GB 11643-1999): parsing, validation and
//! the facts encoded in them (birth date, gender). Customers type these by hand or paste
//! them from spreadsheets, so parsing is lenient about form and strict about content.

use std::fmt;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Gender as encoded by the parity of the 17th digit of an ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The wire name (`"male"` / `"female"`), identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    /// The label shown to staff.
    pub fn label_zh(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }
}

/// Why an input is not a valid ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdNumberError {
    /// Neither 18 nor 15 characters after normalisation.
    Length,
    /// A character other than a digit, or an X anywhere but the check position.
    Characters,
    /// The ISO 7064 MOD 11-2 check character does not match.
    Checksum,
    /// The birth date is not a calendar date, is before 1900 or lies in the future.
    BirthDate,
    /// The first two digits are not a province-level code.
    Area,
}

impl fmt::Display for IdNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown verbatim to staff next to the form field, hence short and in Chinese.
        f.write_str(match self {
            IdNumberError::Length => "长度应为18位或15位",
            IdNumberError::Characters => "含有非法字符",
            IdNumberError::Checksum => "校验码不正确",
            IdNumberError::BirthDate => "出生日期无效",
            IdNumberError::Area => "地区码无效",
        })
    }
}

impl std::error::Error for IdNumberError {}

/// A validated ID number, always in the 18-character form with an uppercase `X`.
///
/// `Debug` prints the masked form so that a stray `{:?}` in a log line does not leak
/// personal information; use [`IdNumber::as_str`] when the full number is really needed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

/// Province-level prefixes of GB/T 2260 (71 Taiwan, 81 Hong Kong, 82 Macao,
/// 83 the residence permits for Taiwan residents).
const PROVINCE_PREFIXES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// Weights 2^(17-i) mod 11 of ISO 7064 MOD 11-2 for positions 1..=17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by (weighted sum mod 11).
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Computes the ISO 7064 MOD 11-2 check character for the first 17 characters of an
/// ID number, given as ASCII digits (`b'0'..=b'9'`) exactly as they appear in the text.
/// Bytes that are not ASCII digits give a meaningless (but non-panicking) result.
pub fn check_digit(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| u32::from(b.wrapping_sub(b'0') % 10) * w)
        .sum();
    // `sum % 11` is always < 11, so the index is in bounds.
    CHECK_CHARS[(sum % 11) as usize]
}

/// Parses and validates an ID number typed or pasted by a person.
///
/// Accepts the 18-character form (check character `x` or `X`) and the legacy 15-digit
/// form (born 19xx), which is converted to 18 characters. Whitespace is ignored and
/// full-width digits/`Ｘ` are accepted because Chinese input methods produce them.
/// `today` bounds the birth date; pass the date in China (UTC+8), not the UTC date.
pub fn parse(input: &str, today: NaiveDate) -> Result<IdNumber, IdNumberError> {
    let mut digits = [0u8; 18];
    let mut len = 0usize;
    for c in input.chars() {
        if c.is_whitespace() {
            continue;
        }
        let b = match c {
            '0'..='9' => c as u8,
            // Full-width digits U+FF10..=U+FF19 map onto '0'..='9'.
            '０'..='９' => b'0' + (c as u32 - '０' as u32) as u8,
            'x' | 'X' | 'ｘ' | 'Ｘ' => b'X',
            _ => return Err(IdNumberError::Characters),
        };
        // Past 18 characters keep counting (not storing) so that an illegal character
        // later in the input still reports Characters rather than Length.
        if len < digits.len() {
            digits[len] = b;
        }
        len += 1;
    }

    let mut full = [0u8; 18];
    match len {
        18 => {
            if digits[..17].contains(&b'X') {
                return Err(IdNumberError::Characters);
            }
            full = digits;
        }
        15 => {
            // The legacy form has no check character and always means 19YY.
            if digits[..15].contains(&b'X') {
                return Err(IdNumberError::Characters);
            }
            full[..6].copy_from_slice(&digits[..6]);
            full[6] = b'1';
            full[7] = b'9';
            full[8..17].copy_from_slice(&digits[6..15]);
        }
        _ => return Err(IdNumberError::Length),
    }

    let province = (full[0] - b'0') * 10 + (full[1] - b'0');
    if !PROVINCE_PREFIXES.contains(&province) {
        return Err(IdNumberError::Area);
    }

    let birth = birth_from_digits(&full).ok_or(IdNumberError::BirthDate)?;
    if birth.year() < 1900 || birth > today {
        return Err(IdNumberError::BirthDate);
    }

    let mut first17 = [0u8; 17];
    first17.copy_from_slice(&full[..17]);
    let check = check_digit(&first17);
    if len == 15 {
        full[17] = check as u8;
    } else if full[17] != check as u8 {
        return Err(IdNumberError::Checksum);
    }

    Ok(IdNumber(full.iter().map(|&b| char::from(b)).collect()))
}

/// Reads YYYYMMDD at positions 7..=14; `None` when it is not a calendar date.
fn birth_from_digits(full: &[u8; 18]) -> Option<NaiveDate> {
    let num = |range: std::ops::Range<usize>| -> u32 {
        full[range].iter().fold(0u32, |acc, &b| {
            acc * 10 + u32::from(b.wrapping_sub(b'0') % 10)
        })
    };
    let year = i32::try_from(num(6..10)).ok()?;
    NaiveDate::from_ymd_opt(year, num(10..12), num(12..14))
}

/// Age in completed years on `date` of someone born on `birth` (0 before the birthday).
pub fn age_on(birth: NaiveDate, date: NaiveDate) -> u32 {
    if date <= birth {
        return 0;
    }
    let mut years = date.year() - birth.year();
    if (date.month(), date.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// Today's date in China (UTC+8, no daylight saving), the reference for birth dates.
fn china_today() -> NaiveDate {
    (Utc::now() + TimeDelta::hours(8)).date_naive()
}

impl IdNumber {
    /// A number this program normalised and stored earlier (decrypted): 18 characters with a
    /// calendar birth date. Unlike [`parse`] it does not compare the date with today, so a
    /// stored number stays readable whatever the clock says. `None` for anything else.
    pub fn from_stored(s: &str) -> Option<IdNumber> {
        Self::birth_date_of_stored(s).map(|_| IdNumber(s.to_string()))
    }

    /// The birth date of a stored number when [`IdNumber::from_stored`] accepts it, without
    /// keeping a copy of the number (the customer view needs only the date and the age).
    pub fn birth_date_of_stored(s: &str) -> Option<NaiveDate> {
        let bytes: &[u8; 18] = s.as_bytes().try_into().ok()?;
        let ok = bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if ok { birth_from_digits(bytes) } else { None }
    }

    /// The normalised 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date encoded in positions 7..=14.
    pub fn birth_date(&self) -> NaiveDate {
        let mut full = [0u8; 18];
        full.copy_from_slice(&self.0.as_bytes()[..18]);
        // `parse` only builds values whose date is valid, so the fallback is unreachable;
        // it exists because the type system cannot carry that invariant.
        birth_from_digits(&full).unwrap_or_default()
    }

    /// Gender from the parity of the 17th digit (odd = male).
    pub fn gender(&self) -> Gender {
        if self.0.as_bytes()[16].wrapping_sub(b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Age in completed years on `date`; 0 if `date` is before the birth date.
    /// Someone born on 29 February turns a year older on 1 March in common years.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        age_on(self.birth_date(), date)
    }

    /// `110101********1234`: what list views and exports show by default.
    pub fn masked(&self) -> String {
        let mut out = String::with_capacity(18);
        out.push_str(&self.0[..6]);
        out.push_str("********");
        out.push_str(&self.0[14..]);
        out
    }

    /// Last four characters, used for quick identity checks on the phone.
    pub fn last4(&self) -> &str {
        &self.0[14..]
    }

    /// Last six characters (some banks ask for these).
    pub fn last6(&self) -> &str {
        &self.0[12..]
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IdNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for IdNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdNumber {
    /// Re-validates, so a hand-edited or corrupted record cannot smuggle in a bad number.
    /// A birth date accepted once stays valid as time passes, so using "now" is safe.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse(&s, china_today()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    /// Builds a valid 18-character number from its first 17 characters.
    fn with_check(first17: &str) -> String {
        let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
        format!("{first17}{}", check_digit(&bytes))
    }

    #[test]
    fn check_digit_of_known_numbers() {
        // Widely published sample numbers whose check characters are known.
        assert_eq!(check_digit(b"11010519491231002"), 'X');
        assert_eq!(check_digit(b"44052418800101001"), '4');
        assert_eq!(check_digit(b"11010120000101001"), '0');
    }

    #[test]
    fn parses_valid_18_digit_number() {
        let id = parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.gender(), Gender::Female);
        assert_eq!(id.age_on(today()), 75);
        assert_eq!(id.last4(), "002X");
        assert_eq!(id.last6(), "31002X");

        let male = parse(&with_check("51010419850617123"), today()).unwrap();
        assert_eq!(male.gender(), Gender::Male);
        assert_eq!(
            male.age_on(NaiveDate::from_ymd_opt(2025, 6, 16).unwrap()),
            39
        );
        assert_eq!(
            male.age_on(NaiveDate::from_ymd_opt(2025, 6, 17).unwrap()),
            40
        );
        assert_eq!(male.age_on(NaiveDate::from_ymd_opt(1980, 1, 1).unwrap()), 0);
    }

    #[test]
    fn lower_case_x_and_spaces_are_normalised() {
        let id = parse("  110105 19491231 002x ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn full_width_input_is_accepted() {
        let id = parse("１１０１０５１９４９１２３１００２Ｘ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        let id = parse("１１０１０５１９４９１２３１００２ｘ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn converts_15_digit_form() {
        // 110105 491231 002 → 110105 19491231 002 + check.
        let id = parse("110105491231002", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        let id = parse("440524800101001", today()).unwrap();
        assert_eq!(id.as_str(), "440524198001010013");
        assert_eq!(id.gender(), Gender::Male);
    }

    #[test]
    fn rejects_wrong_checksum() {
        assert_eq!(
            parse("110105194912310021", today()),
            Err(IdNumberError::Checksum)
        );
        // A single mistyped digit in the body is caught by the check character.
        assert_eq!(
            parse("11010519491231003X", today()),
            Err(IdNumberError::Checksum)
        );
    }

    #[test]
    fn rejects_impossible_birth_dates() {
        // Check characters are made valid so that only the date is wrong.
        assert_eq!(
            parse(&with_check("11010519900230123"), today()),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            parse(&with_check("11010519901301123"), today()),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            parse(&with_check("11010518991231123"), today()),
            Err(IdNumberError::BirthDate)
        );
        // 15-digit form: 19900230.
        assert_eq!(
            parse("110105900230123", today()),
            Err(IdNumberError::BirthDate)
        );
        // 29 February only exists in leap years.
        assert!(parse(&with_check("11010520000229123"), today()).is_ok());
        assert_eq!(
            parse(&with_check("11010519000229123"), today()),
            Err(IdNumberError::BirthDate)
        );
    }

    #[test]
    fn rejects_future_birth_date() {
        assert_eq!(
            parse(&with_check("11010520250616123"), today()),
            Err(IdNumberError::BirthDate)
        );
        // Born today is fine (newborns get numbers too).
        assert!(parse(&with_check("11010520250615123"), today()).is_ok());
    }

    #[test]
    fn rejects_bad_length_characters_and_area() {
        assert_eq!(parse("", today()), Err(IdNumberError::Length));
        assert_eq!(
            parse("1101051949123100", today()),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            parse("11010519491231002X1", today()),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            parse("11010519491231002Y", today()),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            parse("1101051949123100X2", today()),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            parse("11010549123100X", today()),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            parse(&with_check("91010519491231002"), today()),
            Err(IdNumberError::Area)
        );
        assert_eq!(
            parse(&with_check("16010519491231002"), today()),
            Err(IdNumberError::Area)
        );
        assert_eq!(
            parse(&with_check("00010519491231002"), today()),
            Err(IdNumberError::Area)
        );
        assert!(parse(&with_check("83000019800101002"), today()).is_ok());
    }

    #[test]
    fn masked_output() {
        let id = parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(\"110105********002X\")");
        assert_eq!(id.to_string(), "11010519491231002X");
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(IdNumberError::Checksum.to_string(), "校验码不正确");
        assert_eq!(IdNumberError::BirthDate.to_string(), "出生日期无效");
        assert_eq!(IdNumberError::Length.to_string(), "长度应为18位或15位");
        assert_eq!(IdNumberError::Characters.to_string(), "含有非法字符");
        assert_eq!(IdNumberError::Area.to_string(), "地区码无效");
    }

    #[test]
    fn gender_labels() {
        assert_eq!(Gender::Male.as_str(), "male");
        assert_eq!(Gender::Female.label_zh(), "女");
    }
}
