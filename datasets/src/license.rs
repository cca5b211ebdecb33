//! Licenses: the catalog keeps SPDX ids (`CC-BY-4.0`); linked-data formats want IRIs.

/// The licenses agencies use, by SPDX id and canonical IRI.
const KNOWN: &[(&str, &str)] = &[
    ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
    ("CC-BY-SA-4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    ("CC0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("ODbL-1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
];

/// The license ids a publisher picks from.
pub fn known() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(id, _)| *id)
}

/// Checks that `id` has the shape of an SPDX license id (`CC-BY-4.0`, `LicenseRef-nso`):
/// 1 to 64 letters, digits, `.`, `-` and `+`. It becomes part of an IRI in linked data.
pub fn validate(id: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b));
    if ok { Ok(()) } else { Err(format!("`{id}` is not a license id; use an SPDX id such as CC-BY-4.0")) }
}

/// The IRI of a license id: its canonical page, or its SPDX page.
pub fn iri(id: &str) -> String {
    KNOWN
        .iter()
        .find(|(k, _)| *k == id)
        .map_or_else(|| format!("https://spdx.org/licenses/{id}.html"), |(_, iri)| (*iri).to_owned())
}

/// The license id of an IRI that [`iri`] writes (or an SPDX page), if it is one.
pub fn from_iri(iri: &str) -> Option<String> {
    let trimmed = iri.trim_end_matches('/');
    KNOWN
        .iter()
        .find(|(_, k)| k.trim_end_matches('/') == trimmed)
        .map(|(id, _)| (*id).to_owned())
        .or_else(|| iri.strip_prefix("https://spdx.org/licenses/")?.strip_suffix(".html").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_iris_round_trip() {
        for id in ["CC-BY-4.0", "CC0-1.0", "MIT"] {
            assert_eq!(from_iri(&iri(id)).as_deref(), Some(id));
        }
        assert_eq!(from_iri("http://example.org/my-license"), None);
        assert!(validate("CC-BY-4.0").is_ok() && validate("LicenseRef-nso+1.0").is_ok());
        for bad in ["", "x> <y", "a b", "CC-BY-4.0\n", &"x".repeat(65)] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }
}
