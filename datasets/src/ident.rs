//! Identifiers: safe slugs for ids, and SQL-friendly column names made from published headers.
//!
//! Ids become path components in the data folder, so they are checked here, once,
//! and everything that builds a path takes an already-validated id.

use crate::{Error, Result};

/// Checks that `value` is a slug: 1–100 chars of `a-z`, `0-9`, `-`, `_`, starting alphanumeric.
pub fn validate_id(value: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidId { value: value.to_owned(), reason });
    if value.is_empty() || value.len() > 100 {
        return bad("must be 1 to 100 characters");
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return bad("must start with a lowercase letter or digit");
    }
    if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        return bad("may contain only a-z, 0-9, '-' and '_'");
    }
    Ok(())
}

/// What separates a harvested source's namespace from the id it has there.
pub const NAMESPACE_SEPARATOR: &str = "--";

/// Checks an id made here (not harvested): a slug without `--`, which only harvested
/// organizations and datasets have, so a harvest can never reach a local one.
pub fn validate_local_id(value: &str) -> Result<()> {
    validate_id(value)?;
    if value.contains(NAMESPACE_SEPARATOR) {
        return Err(Error::InvalidId {
            value: value.to_owned(),
            reason: "may not contain `--`, which marks harvested organizations and datasets",
        });
    }
    Ok(())
}

/// The id that `id` of a harvested source gets here: `<namespace>--<id>`, within 100 chars.
pub fn namespaced(namespace: &str, id: &str) -> String {
    let mut out = format!("{namespace}{NAMESPACE_SEPARATOR}{}", slug(id));
    out.truncate(100);
    out.trim_end_matches('-').to_owned()
}

/// Words that cannot be a bare column name: SQL keywords (so names work unquoted in SQL)
/// and the rows API's own query parameters (so `?<column>=` filters are never ambiguous).
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "between",
    "by",
    "case",
    "cast",
    "cursor",
    "date",
    "desc",
    "distinct",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "format",
    "from",
    "full",
    "group",
    "having",
    "in",
    "inner",
    "intersect",
    "interval",
    "is",
    "join",
    "left",
    "like",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "over",
    "right",
    "select",
    "table",
    "then",
    "time",
    "timestamp",
    "total",
    "true",
    "union",
    "using",
    "values",
    "version",
    "when",
    "where",
    "window",
    "with",
];

/// Transliterates one Cyrillic character to Latin.
///
/// Mongolian follows MNS 5217:2012 (ө → ö is written `o`, ү → `u`, х → `kh`, ц → `ts`),
/// and Russian letters that Mongolian lacks follow the common passport scheme.
pub fn transliterate_char(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' => "e",
        'ё' => "yo",
        'ж' => "j",
        'з' => "z",
        'и' => "i",
        'й' => "i",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'ө' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ү' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' => "",
        'ы' => "y",
        'ь' => "",
        'э' => "e",
        'ю' => "yu",
        'я' => "ya",
        'є' => "e",
        'ї' => "i",
        'і' => "i",
        'ґ' => "g",
        _ => return None,
    })
}

/// Lowercase ASCII letters and digits, Cyrillic transliterated, every other run of
/// characters one `separator`.
fn fold(text: &str, separator: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if let Some(t) = transliterate_char(c) {
            out.push_str(t);
        } else if !out.ends_with(separator) {
            out.push(separator);
        }
    }
    out
}

/// Turns a published header into a stable name usable unquoted in SQL and as a query parameter:
/// lowercase ASCII, digits and `_`, not starting with a digit, not a reserved word.
pub fn column_name(label: &str) -> String {
    let out = fold(label, '_');
    let trimmed = out.trim_matches('_');
    let mut name = if trimmed.is_empty() { "column".to_owned() } else { trimmed.to_owned() };
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "c_");
    }
    if RESERVED.contains(&name.as_str()) {
        name.push('_');
    }
    name.truncate(63);
    name
}

/// Turns a title (a sheet name, a file name) into an id: transliterated, lowercase, words
/// joined by `-`. `Data 1` → `data-1`, `Содержание` → `soderjanie`.
pub fn slug(text: &str) -> String {
    let mut slug = fold(text, '-').trim_matches('-').to_owned();
    slug.truncate(80);
    if slug.is_empty() { "table".to_owned() } else { slug.trim_end_matches('-').to_owned() }
}

/// Names every header uniquely: duplicates get `_2`, `_3`, … so no label is lost. A column
/// without a header is named after its position, `column_4`, as a spreadsheet shows it.
pub fn column_names<S: AsRef<str>>(labels: &[S]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let base = match label.as_ref().trim() {
                "" => format!("column_{}", i + 1),
                l => column_name(l),
            };
            let mut name = base.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            name
        })
        .collect()
}

/// The identifier a table has in SQL: `<dataset>__<table>`, with `-` folded to `_`.
pub fn sql_name(dataset: &str, table: &str) -> String {
    format!("{}__{}", dataset.replace('-', "_"), table.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongolian_headers_are_transliterated() {
        assert_eq!(column_name("Аймаг"), "aimag");
        assert_eq!(column_name("Хүн амын тоо"), "khun_amyn_too");
        assert_eq!(column_name("Өрхийн тоо, мянга"), "orkhiin_too_myanga");
        assert_eq!(column_name("  Цаг  "), "tsag");
    }

    #[test]
    fn names_are_sql_safe() {
        assert_eq!(column_name("2019"), "c_2019");
        assert_eq!(column_name("Order"), "order_");
        assert_eq!(column_name("limit"), "limit_");
        assert_eq!(column_name("%"), "column");
        assert_eq!(column_name("PM2.5 (мкг/м3)"), "pm2_5_mkg_m3");
    }

    #[test]
    fn slugs_are_ids() {
        for (title, id) in [("Data 1", "data-1"), ("Содержание", "soderjanie"), ("1", "1"), ("  ", "table")] {
            assert_eq!(slug(title), id);
            assert!(validate_id(id).is_ok());
        }
    }

    #[test]
    fn duplicates_are_numbered() {
        assert_eq!(column_names(&["Year", "year", "", " "]), ["year", "year_2", "column_3", "column_4"]);
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("population-2020").is_ok());
        for bad in ["", "../etc", "A", "-x", "a/b", "a.b"] {
            assert!(validate_id(bad).is_err(), "{bad} accepted");
        }
    }
}
