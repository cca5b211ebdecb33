//! The bilingual glossary of the statistics vocabulary (`search-index/glossary.toml`): words
//! and phrases that mean the same in Mongolian and English. A search word that is one of
//! them also matches the others' terms, so `camels` finds a table described as `тэмээ`, and
//! `хүн ам` one titled "Population census". Transliteration already joins Mongolian typed
//! in Latin letters with Cyrillic; the glossary joins what only meaning joins.

use std::collections::HashMap;

use serde::Deserialize;

use crate::analysis;
use crate::{Error, Result};

/// The glossary the portal ships.
pub const BUILTIN: &str = include_str!("../glossary.toml");

/// Most terms one word may grow by: a bound on a query's size, whatever the glossary holds.
const MAX_EXTRA_TERMS: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    entry: Vec<Entry>,
}

/// One meaning, in both languages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    mn: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

/// Each analyzed term of the glossary, and the terms of the other forms of its meaning.
#[derive(Debug, Clone)]
pub struct Glossary {
    others: HashMap<String, Vec<String>>,
}

impl Default for Glossary {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Glossary {
    /// The glossary the portal ships.
    pub fn builtin() -> Self {
        // Checked by a test: the shipped file always parses.
        Self::parse(BUILTIN).unwrap_or_else(|_| Self::empty())
    }

    /// A glossary that joins nothing.
    pub fn empty() -> Self {
        Self { others: HashMap::new() }
    }

    /// A glossary from its TOML text (`[[entry]] mn = [...] en = [...]`).
    pub fn parse(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| Error::Glossary(e.to_string()))?;
        let mut others: HashMap<String, Vec<String>> = HashMap::new();
        for entry in file.entry {
            // Each form's terms, kept apart: a form's own words do not expand each other.
            let forms: Vec<Vec<String>> = entry
                .mn
                .iter()
                .chain(&entry.en)
                .map(|form| analysis::words(form).flat_map(|w| analysis::terms(w.text)).collect())
                .collect();
            for (i, form) in forms.iter().enumerate() {
                for term in form {
                    let list = others.entry(term.clone()).or_default();
                    for other in forms.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, f)| f) {
                        if other != term && !list.contains(other) {
                            list.push(other.clone());
                        }
                    }
                }
            }
        }
        Ok(Self { others })
    }

    /// `terms` (one word's) with the terms of the words the glossary says mean the same.
    pub fn expand(&self, terms: &mut Vec<String>) {
        let extra: Vec<String> = terms
            .iter()
            .filter_map(|t| self.others.get(t))
            .flatten()
            .filter(|t| !terms.contains(t))
            .take(MAX_EXTRA_TERMS)
            .cloned()
            .collect();
        for t in extra {
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.others.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(g: &Glossary, word: &str) -> Vec<String> {
        let mut terms = analysis::terms(word);
        g.expand(&mut terms);
        terms
    }

    #[test]
    fn the_shipped_glossary_parses_and_joins_both_languages() {
        let g = Glossary::parse(BUILTIN).unwrap();
        assert!(g.len() > 80, "{}", g.len());
        let camel = analysis::terms("тэмээ")[0].clone();
        assert!(expanded(&g, "camels").contains(&camel));
        assert!(expanded(&g, "тэмээ").iter().any(|t| t == "camel"), "and back");
        assert!(expanded(&g, "аймгийн").iter().any(|t| t == "provinc"), "an inflected word meets its entry");
        assert!(expanded(&g, "unemployment").contains(&analysis::terms("ажилгүйдэл")[0]));
        assert_eq!(expanded(&g, "дотоод").len(), 1, "a word not in the glossary stays as it is");
    }

    #[test]
    fn a_bad_glossary_is_an_error() {
        assert!(Glossary::parse("[[entry]]\nmn = 3").is_err());
        assert!(Glossary::parse("[[entry]]\nfr = [\"x\"]").is_err());
    }
}
