//! Text analysis shared by the index and the queries: one tokenizer under which Mongolian
//! Cyrillic, Latin transliterations of it and English meet on the same terms.
//!
//! Words are runs of letters and digits (`Дархан-Уул` → `Дархан`, `Уул`), lowercased. Each
//! word then becomes one or two terms at the same position:
//! - the **Mongolian term**, for every word: folded to one Latin spelling (MNS 5217:2012,
//!   with the informal variants people type merged: `ү`/`у`/`ü` → `u`, `ө`/`о`/`ö` → `o`,
//!   `х`/`kh`/`h` → `h`, `ц`/`ts`/`c` → `ts`, long vowels `aa` → `a`), stripped of one case
//!   ending and one plural (`-ын/-ийн`, `-д/-т`, `-аас/-ээс`, `-ууд/-үүд`, …), then reduced
//!   to its consonant skeleton after the first vowel, because Mongolian drops the vowel of
//!   the last syllable before an ending (`аймаг`, `аймгийн` → `aimg`);
//! - the **English term**, for Latin words: Snowball English (`statistics` → `statist`).
//!
//! So `хүн ам`, `hun am` and `khün am` index and query alike, `аймгийн` finds `аймаг`, and
//! `prices` finds `price`. Folding is lossy on purpose: a language typed in two scripts,
//! with and without its special letters, must be one set of words to a search box. Offsets
//! still point into the original text, so highlights mark what the reader sees.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The tokenizer's name in tantivy's registry.
pub const ANALYZER: &str = "mn_en_2";

/// Words longer than this are not indexed (base64, hashes, URLs).
const MAX_WORD_CHARS: usize = 40;

/// Splits, lowercases, stems and folds text into search terms.
#[derive(Debug, Clone, Default)]
pub struct MnEnTokenizer {
    tokens: Vec<Token>,
}

/// The terms of one text.
#[derive(Debug)]
pub struct MnEnTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl Tokenizer for MnEnTokenizer {
    type TokenStream<'a> = MnEnTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MnEnTokenStream<'a> {
        self.tokens.clear();
        for (position, word) in words(text).enumerate() {
            for term in terms(word.text) {
                self.tokens.push(Token {
                    offset_from: word.from,
                    offset_to: word.to,
                    position,
                    text: term,
                    position_length: 1,
                });
            }
        }
        MnEnTokenStream { tokens: &mut self.tokens, next: 0 }
    }
}

impl TokenStream for MnEnTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// A word of the original text and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub from: usize,
    pub to: usize,
}

/// The words of `text`: runs of letters and digits, at most [`MAX_WORD_CHARS`] long.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    let mut start = None;
    let mut out = Vec::new();
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let word = &text[s..i];
                if word.chars().count() <= MAX_WORD_CHARS {
                    out.push(Word { text: word, from: s, to: i });
                }
                start = None;
            }
            _ => {}
        }
    }
    out.into_iter()
}

/// The terms of one word: its Mongolian term, and for a Latin word its English term when
/// that differs.
pub fn terms(word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    let mn = mongolian(&lower);
    if !lower.chars().any(is_cyrillic) && lower.chars().all(|c| c.is_ascii_alphanumeric()) {
        let en = english().stem(&lower).into_owned();
        if en != mn {
            return vec![mn, en];
        }
    }
    vec![mn]
}

fn english() -> &'static frostem::Stemmer {
    static STEMMER: std::sync::OnceLock<frostem::Stemmer> = std::sync::OnceLock::new();
    STEMMER.get_or_init(|| frostem::Stemmer::new(frostem::Algorithm::English))
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// Case endings in their folded spelling (long vowels already short: `-аас` is `as`,
/// `-ийн` is `in`), longest first. Each keeps a stem of at least two letters.
const CASE_ENDINGS: &[&str] = &[
    "ias", "ios", "iar", "ior", "tai", "tei", "toi", "as", "es", "os", "ar", "er", "or", "ru", "lu", "in", "ig", "ad",
    "ed", "od", "nd", "yn", "yg", "i",
];
/// Plurals, folded.
const PLURALS: &[&str] = &["chud", "nud", "nar", "ud"];

/// The Mongolian term of a lowercase word.
pub fn mongolian(word: &str) -> String {
    let folded = fold(hidden_n(word));
    let letters = |s: &str| s.chars().count();
    let mut stem = folded.as_str();
    let plural = PLURALS.iter().any(|p| stem.ends_with(p));
    // The instrumental is written with a long vowel (`-аар`, folded `ar`): a word that
    // ends in a short one keeps it (`үхэр`, `Улаанбаатар`).
    let instrumental = ["аар", "ээр", "оор", "өөр", "aar", "eer", "oor"].iter().any(|e| word.ends_with(e));
    let ending = |e: &&&str| instrumental || !matches!(**e, "ar" | "er" | "or");
    if let Some(s) = CASE_ENDINGS.iter().filter(ending).find_map(|e| stem.strip_suffix(e).filter(|s| letters(s) >= 2)) {
        stem = s;
    } else if !plural && letters(stem) >= 5 {
        // Dative -д/-т on a longer word: `аймагт`, `Улаанбаатарт`.
        stem = stem.strip_suffix('d').or_else(|| stem.strip_suffix('t')).unwrap_or(stem);
    }
    if let Some(s) = PLURALS.iter().find_map(|e| stem.strip_suffix(e).filter(|s| letters(s) >= 2)) {
        stem = s;
    } else if stem.ends_with("chid") {
        // The plural `-ид` of an agent noun: `суугчид` of `суугч`.
        stem = &stem[..stem.len() - 2];
    }
    skeleton(stem)
}

/// A Cyrillic word without the genitive's hidden н, which folding would make a stem letter:
/// `-ний`/`-ны` after a long vowel (`тэмээний`, `ямааны`), `-ны` after a consonant
/// (`талхны`). After a short vowel `-ний` is a stem's н and the ending (`хүний`).
fn hidden_n(word: &str) -> &str {
    let Some(stem) = word.strip_suffix("ний").or_else(|| word.strip_suffix("ны")) else { return word };
    let last: Vec<char> = stem.chars().rev().take(2).collect();
    let vowel = |c: char| "аэиоуөүяеёюы".contains(c);
    let long_vowel = last.len() == 2 && last[0] == last[1] && vowel(last[0]);
    let after_consonant =
        word.ends_with("ны") && last.first().is_some_and(|c| c.is_alphabetic() && !vowel(*c) && *c != 'ь' && *c != 'й');
    if (long_vowel || after_consonant) && stem.chars().count() >= 3 { stem } else { word }
}

/// Drops the vowels after the first run of vowels: `aimag` → `aimg`, `baigullaga` → `baigllg`.
fn skeleton(stem: &str) -> String {
    let vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut out = String::with_capacity(stem.len());
    let mut seen_vowel = false;
    let mut past_first = false;
    for c in stem.chars() {
        if vowel(c) {
            if past_first {
                continue;
            }
            seen_vowel = true;
        } else if seen_vowel {
            past_first = true;
        }
        out.push(c);
    }
    out
}

/// One Latin spelling for Cyrillic and for the ways people transliterate it.
pub fn fold(word: &str) -> String {
    let mut latin = String::with_capacity(word.len());
    for c in word.chars() {
        match c {
            'а' => latin.push('a'),
            'б' => latin.push('b'),
            'в' | 'w' => latin.push('v'),
            'г' => latin.push('g'),
            'д' => latin.push('d'),
            'е' | 'э' => latin.push('e'),
            'ё' => latin.push_str("yo"),
            'ж' => latin.push('j'),
            'з' => latin.push('z'),
            'и' | 'й' | 'ы' | 'ь' | 'і' => latin.push('i'),
            'к' | 'q' => latin.push('k'),
            'л' => latin.push('l'),
            'м' => latin.push('m'),
            'н' => latin.push('n'),
            'о' | 'ө' | 'ö' | 'ø' => latin.push('o'),
            'п' => latin.push('p'),
            'р' => latin.push('r'),
            'с' => latin.push('s'),
            'т' => latin.push('t'),
            'у' | 'ү' | 'ü' => latin.push('u'),
            'ф' => latin.push('f'),
            'х' => latin.push('h'),
            'ц' => latin.push_str("ts"),
            'ч' => latin.push_str("ch"),
            'ш' | 'щ' => latin.push_str("sh"),
            'ъ' => {}
            'ю' => latin.push_str("yu"),
            'я' => latin.push_str("ya"),
            other => latin.push(other),
        }
    }
    // Informal Latin spellings, now that the Cyrillic ones are Latin too.
    let chars: Vec<char> = latin.chars().collect();
    let mut out = String::with_capacity(latin.len());
    let mut i = 0;
    while i < chars.len() {
        let next = chars.get(i + 1).copied();
        match (chars[i], next) {
            ('k', Some('h')) => {
                out.push('h');
                i += 2;
            }
            ('z', Some('h')) => {
                out.push('j');
                i += 2;
            }
            ('c', Some('h')) => {
                out.push_str("ch");
                i += 2;
            }
            ('c', _) => {
                out.push_str("ts");
                i += 1;
            }
            // Long vowels are often typed short: Ulaanbaatar, Ulanbatar.
            (v @ ('a' | 'e' | 'i' | 'o' | 'u'), Some(n)) if n == v => {
                out.push(v);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_terms(text: &str) -> Vec<String> {
        let mut t = MnEnTokenizer::default();
        let mut stream = t.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// The Mongolian term of each word: what Cyrillic and Latin spellings share.
    fn mn(text: &str) -> Vec<String> {
        words(text).map(|w| terms(w.text).swap_remove(0)).collect()
    }

    #[test]
    fn scripts_and_spellings_meet() {
        for (cyrillic, latin) in [
            ("Хүн ам", "hun am"),
            ("Хүн ам", "khün am"),
            ("Улаанбаатар", "Ulaanbaatar"),
            ("Улаанбаатар", "ulanbatar"),
            ("Өмнөговь", "Omnogovi"),
            ("Цагаан", "tsagaan"),
            ("Цагаан", "cagaan"),
            ("Хөвсгөл", "Khovsgol"),
            ("аймгийн", "aimgiin"),
        ] {
            assert_eq!(mn(cyrillic), mn(latin), "{cyrillic} / {latin}");
        }
        assert_eq!(mn("Дархан-Уул"), ["darhn", "ul"]);
    }

    #[test]
    fn inflected_mongolian_meets_its_base() {
        for (form, base) in [
            ("аймгийн", "аймаг"),
            ("аймагт", "аймаг"),
            ("хүний", "хүн"),
            ("ажилгүйдлийн", "ажилгүйдэл"),
            ("байгууллагууд", "байгууллага"),
            ("хотод", "хот"),
            ("сургуулиас", "сургууль"),
            ("малын", "мал"),
            ("үнийн", "үнэ"),
            ("үхрийн", "үхэр"),
            ("суугчид", "суугч"),
            ("Улаанбаатарын", "Улаанбаатар"),
            ("аймгаар", "аймаг"),
            // The genitive's hidden н: after a long vowel (-ний) and after some stems (-ны).
            ("тэмээний", "тэмээ"),
            ("ямааны", "ямаа"),
            ("адууны", "адуу"),
            ("талхны", "талх"),
        ] {
            assert_eq!(mn(form), mn(base), "{form} / {base}");
        }
    }

    #[test]
    fn english_is_stemmed() {
        let en = |w: &str| terms(w).pop().unwrap();
        assert_eq!(en("statistics"), en("statistic"));
        assert_eq!(en("Prices"), en("price"));
        assert_eq!(en("pollution"), en("polluted"));
        // A Latin word has both readings, at one position.
        assert_eq!(all_terms("prices").len(), 2);
        assert_eq!(all_terms("хүн").len(), 1);
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "Агаарын чанар, 2024";
        let mut t = MnEnTokenizer::default();
        let mut stream = t.token_stream(text);
        let mut seen = Vec::new();
        while stream.advance() {
            let tok = stream.token();
            seen.push(&text[tok.offset_from..tok.offset_to]);
        }
        assert_eq!(seen, ["Агаарын", "чанар", "2024"]);
    }
}
