//! A dataset's DCAT-AP themes (`dcat:theme`, the EU data-theme vocabulary), read from the
//! words of its titles and tags in Mongolian and English, so that data.europa.eu-style
//! harvesters can file it without the publisher choosing from a list.

use opendata_datasets::DatasetMeta;

/// The vocabulary's base IRI; a theme is this plus its code.
pub const EU_THEMES: &str = "http://publications.europa.eu/resource/authority/data-theme/";

/// Word stems (lower case) that place a dataset under a theme, by theme code.
const STEMS: &[(&str, &[&str])] = &[
    (
        "AGRI",
        &[
            "мал",
            "газар тариалан",
            "хөдөө аж",
            "livestock",
            "agricultur",
            "crop",
            "herder",
            "малчин",
            "тэмээ",
            "хонь",
            "адуу",
        ],
    ),
    (
        "ECON",
        &["эдийн засаг", "үнэ", "инфляц", "худалдаа", "econom", "price", "inflation", "trade", "gdp", "дотоодын нийт"],
    ),
    ("EDUC", &["боловсрол", "сургууль", "education", "school", "student", "оюутан"]),
    ("ENER", &["эрчим хүч", "цахилгаан", "energy", "electric", "нүүрс", "coal"]),
    (
        "ENVI",
        &["агаар", "орчин", "цаг агаар", "air quality", "pollution", "environment", "climate", "weather", "бохирдол"],
    ),
    (
        "GOVE",
        &["төсөв", "засгийн газар", "сонгууль", "budget", "government", "election", "public sector", "татвар", "tax"],
    ),
    ("HEAL", &["эрүүл мэнд", "эмнэлэг", "өвчин", "health", "hospital", "disease"]),
    ("JUST", &["гэмт хэрэг", "шүүх", "хууль", "crime", "court", "justice", "осол", "accident"]),
    (
        "SOCI",
        &[
            "хүн ам",
            "ажилгүй",
            "ядуурал",
            "өрх",
            "population",
            "unemploy",
            "poverty",
            "household",
            "census",
            "тооллого",
        ],
    ),
    ("TRAN", &["тээвэр", "зам", "transport", "road", "traffic", "авто"]),
    ("TECH", &["шинжлэх ухаан", "технологи", "science", "technology", "research"]),
];

/// The theme codes a dataset's words point to, in the vocabulary's order.
/// A theme's label in the vocabulary, in English.
pub fn label(code: &str) -> &'static str {
    match code {
        "AGRI" => "Agriculture, fisheries, forestry and food",
        "ECON" => "Economy and finance",
        "EDUC" => "Education, culture and sport",
        "ENER" => "Energy",
        "ENVI" => "Environment",
        "GOVE" => "Government and public sector",
        "HEAL" => "Health",
        "INTR" => "International issues",
        "JUST" => "Justice, legal system and public safety",
        "REGI" => "Regions and cities",
        "SOCI" => "Population and society",
        "TECH" => "Science and technology",
        "TRAN" => "Transport",
        _ => "",
    }
}

pub fn of(m: &DatasetMeta) -> Vec<&'static str> {
    let words = [m.title.as_str(), m.title_en.as_deref().unwrap_or_default()]
        .into_iter()
        .chain(m.tags.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" | ")
        .to_lowercase();
    STEMS.iter().filter(|(_, stems)| stems.iter().any(|s| words.contains(s))).map(|(code, _)| *code).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(title: &str, title_en: Option<&str>, tags: &[&str]) -> DatasetMeta {
        DatasetMeta {
            title: title.into(),
            title_en: title_en.map(Into::into),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn themes_from_either_language() {
        assert_eq!(of(&meta("Хүн амын тоо, аймгаар", None, &[])), ["SOCI"]);
        assert_eq!(of(&meta("Агаарын чанар", Some("Air quality"), &["PM2.5"])), ["ENVI"]);
        assert_eq!(of(&meta("Тоо", Some("Livestock census"), &[])), ["AGRI", "SOCI"]);
        assert_eq!(of(&meta("Улсын төсөв", None, &["budget"])), ["GOVE"]);
        assert!(of(&meta("Бусад", Some("Other"), &[])).is_empty());
    }
}
