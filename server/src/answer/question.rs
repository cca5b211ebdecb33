//! What a question asks, read without a model: its words as the search analyzer's terms
//! (with the glossary's other-language terms), and the year, quarter and month it names.

use std::collections::HashSet;

use search_index::Glossary;
use search_index::analysis;

/// A question, analyzed.
#[derive(Debug, Clone, Default)]
pub struct Question {
    /// Each word's terms: its own and the glossary's, per word.
    pub words: Vec<Vec<String>>,
    /// Every term of every word.
    pub terms: HashSet<String>,
    /// Years named (1900–2100), in order.
    pub years: Vec<i32>,
    /// A quarter named: `Q3`, `3-р улирал`, "third quarter".
    pub quarter: Option<u8>,
    /// A month named: `March`, `3-р сар`, `2024-03`.
    pub month: Option<u8>,
}

const MONTHS_EN: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Words that say a number is asked, not which one.
const GENERIC: &[&str] = &["тоо", "хэмжээ", "дүн", "number", "count", "total", "amount", "how", "many", "much"];
const ORDINALS_EN: [&str; 4] = ["first", "second", "third", "fourth"];

impl Question {
    pub fn parse(text: &str, glossary: &Glossary) -> Self {
        let mut q = Question::default();
        let lower = text.to_lowercase();
        let tokens: Vec<&str> =
            lower.split(|c: char| !(c.is_alphanumeric() || c == '-')).filter(|t| !t.is_empty()).collect();
        for (i, token) in tokens.iter().enumerate() {
            let next = tokens.get(i + 1).copied().unwrap_or_default();
            let after = tokens.get(i + 2).copied().unwrap_or_default();
            // `2024-03`, `2023-q2`: a year with its month or quarter.
            let (head, tail) = token.split_once('-').unwrap_or((token, ""));
            if let Some(year) = year_of(head) {
                q.years.push(year);
                if let Some(n) = tail.strip_prefix('q').and_then(|n| n.parse::<u8>().ok()) {
                    q.quarter = Some(n).filter(|n| (1..=4).contains(n));
                } else if let Ok(m) = tail.parse::<u8>() {
                    q.month = Some(m).filter(|m| (1..=12).contains(m));
                }
                continue;
            }
            if let Some(n) = token.strip_prefix('q').and_then(|n| n.parse::<u8>().ok()) {
                q.quarter = Some(n).filter(|n| (1..=4).contains(n));
            }
            // `3-р улирал`, `3 дугаар сар`: a number before the word.
            let number = token.trim_end_matches("-р").parse::<u8>().ok();
            let word_after =
                if next == "дугаар" || next == "дүгээр" || next == "р" { after } else { next };
            if let Some(n) = number {
                if word_after.starts_with("улира") && (1..=4).contains(&n) {
                    q.quarter = Some(n);
                } else if word_after.starts_with("сар") && (1..=12).contains(&n) {
                    q.month = Some(n);
                }
            }
            if let Some(m) = MONTHS_EN.iter().position(|m| token == m || (token.len() == 3 && m.starts_with(token))) {
                q.month = Some(m as u8 + 1);
            }
            if let Some(n) = ORDINALS_EN.iter().position(|o| token == o)
                && next == "quarter"
            {
                q.quarter = Some(n as u8 + 1);
            }
        }
        for word in analysis::words(text) {
            let mut terms = analysis::terms(word.text);
            // `-ны`/`-ний` is the genitive of a stem that keeps its н too (`шатахууны` of
            // `шатахуун`), which the analyzer cannot tell from a hidden н (`ямааны`).
            let lower = word.text.to_lowercase();
            if let Some(stem) =
                lower.strip_suffix("ы").or_else(|| lower.strip_suffix("ий")).filter(|s| s.ends_with('н'))
            {
                terms.extend(analysis::terms(stem));
            }
            glossary.expand(&mut terms);
            q.terms.extend(terms.iter().cloned());
            q.words.push(terms);
        }
        q
    }

    /// How much of `text` (a value) the question names: (its words named, its words), over
    /// words of two letters or more that are not numbers. `None` unless its first such word
    /// is named: that is the head of a name (`Гурил` of `Гурил, 1-р зэрэг`, `Дархан` of
    /// `Дархан-Уул`, `Үхрийн` of `Үхрийн мах`).
    pub fn coverage(&self, text: &str) -> Option<(usize, usize)> {
        let words: Vec<_> = analysis::words(text)
            .filter(|w| w.text.chars().count() >= 2 && !w.text.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let named = |w: &analysis::Word<'_>| analysis::terms(w.text).iter().any(|t| self.terms.contains(t));
        if !named(words.first()?) {
            return None;
        }
        Some((words.iter().filter(|w| named(w)).count(), words.len()))
    }

    /// Whether the question names every word of `text`.
    pub fn mentions(&self, text: &str) -> bool {
        self.coverage(text).is_some_and(|(named, all)| named == all)
    }

    /// How many words of `text` are words of the question, leaving out words every
    /// question about a number has (`тоо`, "number").
    pub fn overlap(&self, text: &str) -> usize {
        self.named_words(text).len()
    }

    /// The analyzed words of `text` the question names, generic ones left out.
    pub fn named_words(&self, text: &str) -> Vec<String> {
        analysis::words(text)
            .filter(|w| !GENERIC.contains(&w.text.to_lowercase().as_str()))
            .filter_map(|w| analysis::terms(w.text).into_iter().find(|t| self.terms.contains(t)))
            .collect()
    }
}

fn year_of(token: &str) -> Option<i32> {
    let year: i32 = token.strip_suffix("он").unwrap_or(token).parse().ok()?;
    (token.len() == 4 && (1900..=2100).contains(&year)).then_some(year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Question {
        Question::parse(text, &Glossary::builtin())
    }

    #[test]
    fn years_quarters_and_months_in_both_languages() {
        let q = parse("Ховд аймгийн 2020 оны тэмээний тоо");
        assert_eq!(q.years, [2020]);
        assert_eq!((q.quarter, q.month), (None, None));
        assert_eq!(parse("unemployment rate Darkhan-Uul 2023 Q2").quarter, Some(2));
        assert_eq!(parse("ажилгүйдэл 2023 оны 3-р улирал").quarter, Some(3));
        assert_eq!(parse("unemployment in the second quarter of 2022").quarter, Some(2));
        assert_eq!(parse("2023-Q4 ажилгүйдэл").quarter, Some(4));
        let m = parse("price of bread in March 2024");
        assert_eq!((m.years.as_slice(), m.month), (&[2024][..], Some(3)));
        assert_eq!(parse("талхны үнэ 2024 оны 3-р сар").month, Some(3));
        assert_eq!(parse("2024-11 үнэ").month, Some(11));
        assert!(parse("population of 12345 people").years.is_empty(), "not a year");
    }

    #[test]
    fn words_are_matched_through_folding_and_the_glossary() {
        let q = parse("how many camels were there in Khovd in 2020");
        assert!(q.mentions("Ховд"), "Latin spelling of a Cyrillic value");
        assert!(q.mentions("Тэмээ"), "the glossary's Mongolian for camels");
        assert!(!q.mentions("Хонь"));
        assert!(!q.mentions(""));
        let mn = parse("Ховд аймгийн тэмээний тоо");
        assert!(mn.mentions("Ховд"));
        assert!(parse("unemployment Darkhan-Uul").mentions("Дархан-Уул"));
        assert_eq!(parse("flour prices").coverage("Гурил, 1-р зэрэг"), Some((1, 2)));
        assert_eq!(parse("beef").coverage("Үхрийн мах"), Some((2, 2)));
        assert_eq!(parse("beef").coverage("Хонины мах"), None, "the head word is not named");
        assert!(parse("шатахууны үнэ").mentions("Шатахуун"), "a stem that keeps its н");
        assert!(parse("Дорнод аймгийн хонины тоо").mentions("Хонь"));
        assert!(parse("Хэнтий аймгийн үхрийн тоо").mentions("Үхэр"));
    }
}
