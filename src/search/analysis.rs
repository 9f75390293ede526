//! Chinese analysis that does not come from a tokenizer: pinyin of names (with surname
//! readings), the character pieces of a query, and the normalisation of what people type.

use pinyin::ToPinyin;

/// Compound surnames and single-character surnames whose surname reading is not the
/// character's first dictionary reading (单雄信 is Shan Xiongxin, not Dan).
const SURNAMES: &[(&str, &[&str])] = &[
    ("万俟", &["mo", "qi"]),
    ("尉迟", &["yu", "chi"]),
    ("长孙", &["zhang", "sun"]),
    ("单于", &["chan", "yu"]),
    ("澹台", &["tan", "tai"]),
    ("单", &["shan"]),
    ("曾", &["zeng"]),
    ("解", &["xie"]),
    ("仇", &["qiu"]),
    ("区", &["ou"]),
    ("查", &["zha"]),
    ("朴", &["piao"]),
    ("盖", &["ge"]),
    ("缪", &["miao"]),
    ("乐", &["yue"]),
    ("覃", &["qin"]),
    ("秘", &["bi"]),
    ("繁", &["po"]),
    ("员", &["yun"]),
    ("种", &["chong"]),
    ("重", &["chong"]),
    ("召", &["shao"]),
    ("翟", &["zhai"]),
    ("黑", &["he"]),
    ("尉", &["yu"]),
    ("隗", &["wei"]),
    ("折", &["she"]),
    ("郇", &["huan"]),
    ("句", &["gou"]),
    ("能", &["nai"]),
    ("宓", &["fu"]),
    ("臧", &["zang"]),
    ("柏", &["bai"]),
    ("薄", &["bo"]),
    ("沈", &["shen"]),
    ("石", &["shi"]),
    ("叶", &["ye"]),
    ("华", &["hua"]),
    ("朝", &["chao"]),
    ("车", &["che"]),
];

/// The syllables of a name, surname first read as a surname. Characters without a reading
/// (latin letters, digits) are kept as themselves, lower-cased.
pub fn name_syllables(name: &str) -> Vec<String> {
    let name = name.trim();
    let mut out = Vec::new();
    let mut rest = name;
    if let Some((surname, readings)) = SURNAMES.iter().find(|(s, _)| name.starts_with(s)) {
        out.extend(readings.iter().map(|r| r.to_string()));
        rest = &name[surname.len()..];
    }
    for (c, p) in rest.chars().zip(rest.to_pinyin()) {
        match p {
            Some(p) => out.push(p.plain().to_string()),
            None if c.is_alphanumeric() => out.push(c.to_lowercase().collect()),
            None => {}
        }
    }
    out
}

/// Terms for the pinyin field: the full reading (`zhangsanfeng`) and the initials (`zsf`).
pub fn name_pinyin_terms(name: &str) -> Vec<String> {
    let syllables = name_syllables(name);
    if syllables.is_empty() {
        return Vec::new();
    }
    let full: String = syllables.concat();
    let initials: String = syllables.iter().filter_map(|s| s.chars().next()).collect();
    if full == initials {
        vec![full]
    } else {
        vec![full, initials]
    }
}

/// What people type, made comparable: full-width letters, digits and spaces become ASCII,
/// letters lower-case, runs of whitespace one space.
pub fn normalise(q: &str) -> String {
    let mapped: String = q
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1- and 2-character pieces a name or company is indexed as; a query of two or more
/// characters asks for its 2-character pieces, a single character for itself.
pub fn query_grams(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    match chars.len() {
        0 => Vec::new(),
        1 => vec![chars[0].to_string()],
        _ => chars.windows(2).map(|w| w.iter().collect()).collect(),
    }
}

/// Character ranges (in chars) of `haystack` covered by `needle` or, failing a whole match,
/// by its 2-character pieces. Used to highlight what matched.
pub fn highlight_ranges(haystack: &str, needle: &str) -> Vec<[usize; 2]> {
    let hay: Vec<char> = haystack.chars().flat_map(char::to_lowercase).collect();
    let needle: Vec<char> = needle.chars().collect();
    if needle.is_empty() || hay.len() != haystack.chars().count() {
        return Vec::new();
    }
    let mut covered = vec![false; hay.len()];
    mark(&mut covered, &hay, &needle);
    if !covered.iter().any(|c| *c) && needle.len() > 2 {
        for w in needle.windows(2) {
            mark(&mut covered, &hay, w);
        }
    }
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in covered.iter().enumerate() {
        match (c, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push([s, i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push([s, covered.len()]);
    }
    out
}

fn mark(covered: &mut [bool], hay: &[char], piece: &[char]) {
    if piece.is_empty() || piece.len() > hay.len() {
        return;
    }
    for start in 0..=(hay.len() - piece.len()) {
        if &hay[start..start + piece.len()] == piece {
            covered[start..start + piece.len()].fill(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surnames_are_read_as_surnames() {
        let cases = [
            ("张三丰", "zhangsanfeng", "zsf"),
            ("单雄信", "shanxiongxin", "sxx"),
            ("曾小贤", "zengxiaoxian", "zxx"),
            ("解缙", "xiejin", "xj"),
            ("仇英", "qiuying", "qy"),
            ("区志强", "ouzhiqiang", "ozq"),
            ("尉迟恭", "yuchigong", "ycg"),
        ];
        for (name, full, initials) in cases {
            assert_eq!(name_pinyin_terms(name), vec![full, initials], "{name}");
        }
    }

    #[test]
    fn typing_is_normalised() {
        assert_eq!(normalise("  ＺＳＦ　１２３４ "), "zsf 1234");
        assert_eq!(query_grams("张三丰"), vec!["张三", "三丰"]);
        assert_eq!(query_grams("张"), vec!["张"]);
    }

    #[test]
    fn highlights_cover_the_matched_characters() {
        assert_eq!(highlight_ranges("张三丰", "三丰"), vec![[1, 3]]);
        assert_eq!(
            highlight_ranges("成都某某科技有限公司", "科技"),
            vec![[4, 6]]
        );
        assert!(highlight_ranges("李四", "王五").is_empty());
    }
}
