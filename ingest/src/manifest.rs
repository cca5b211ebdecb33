//! Manifests: an agency's ingest jobs described in TOML.
//!
//! ```toml
//! [[organization]]
//! id = "nso"
//! title = "Үндэсний статистикийн хороо"
//! title_en = "National Statistics Office"
//!
//! [[dataset]]
//! id = "population-by-aimag"
//! organization = "nso"
//! title = "Хүн амын тоо, аймгаар"
//! title_en = "Population by aimag"
//! tags = ["хүн ам", "population"]
//! license = "CC-BY-4.0"
//!
//!   [[dataset.table]]
//!   name = "population"
//!   source = "population.csv"      # relative to the manifest, or an http(s) URL
//!   encoding = "windows-1251"      # optional: overrides detection
//!   delimiter = ";"                # optional: overrides detection
//!   header_row = 3                 # optional: 1-based row of the header, 0 for none
//!   strict = false                 # optional: fail on any value that does not fit its column
//!   sort_by = ["aimag", "-year"]   # optional: sort keys instead of those chosen from the data
//!
//!     [dataset.table.columns.khun_amyn_too]
//!     type = "integer"             # boolean, integer, float, date, datetime, string
//!     label = "Хүн амын тоо"
//!     description = "Resident population at year end"
//!     # role = "longitude"         # latitude, geometry; "none" for one that only looks like it
//! ```

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use opendata_datasets::{ColumnOverride, DatasetMeta, Organization};
use serde::Deserialize;

use crate::{Error, ReadOptions, Result};

/// A parsed manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, rename = "organization")]
    pub organizations: Vec<OrganizationSpec>,
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<DatasetSpec>,
}

/// An organization the manifest creates or updates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSpec {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub url: Option<String>,
}

/// A dataset and its tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub id: String,
    pub organization: String,
    pub title: String,
    pub title_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub description_en: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_license")]
    pub license: String,
    pub source: Option<String>,
    #[serde(default, rename = "table")]
    pub tables: Vec<TableSpec>,
}

fn default_license() -> String {
    "CC-BY-4.0".into()
}

/// One table: where its file is and how to read it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    pub title: Option<String>,
    /// A path relative to the manifest, or an `http(s)://` URL.
    pub source: String,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    /// The quote character, when it is not `"`.
    pub quote: Option<String>,
    /// 1-based row of the (first) header row; 0 when the file has none.
    pub header_row: Option<usize>,
    /// How many header rows to merge into one label.
    pub header_rows: Option<usize>,
    /// Read only this sheet of a workbook (by default every sheet with data is a table).
    pub sheet: Option<String>,
    /// The member of a JSON document that holds the records (`DataList`, `data.items`).
    pub records: Option<String>,
    /// Read legacy-font Ї ї Є є as Mongolian Ү ү Ө ө (detected when not set).
    pub fix_mongolian: Option<bool>,
    /// Fail on any value that does not fit its column, instead of reporting it.
    #[serde(default)]
    pub strict: bool,
    /// Values that mean "no value" in this file (`-999`, `н/б`), beside the usual ones.
    #[serde(default)]
    pub null_markers: Vec<String>,
    /// Corrections by column name: type, label, description. They stay with the table.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnOverride>,
    /// Publish the table sorted by these columns (`-name` descending) instead of the keys
    /// the ingest chooses from the data; `["none"]` keeps the source's row order, `[]` goes
    /// back to the chosen keys. Kept for later versions until changed.
    pub sort_by: Option<Vec<String>>,
}

/// Where a table's file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Url(String),
}

impl Source {
    /// Reads what a publisher wrote: an `http(s)://` URL, or a path relative to `base`.
    pub fn parse(written: &str, base: &Path) -> Self {
        if written.starts_with("http://") || written.starts_with("https://") {
            Source::Url(written.to_owned())
        } else {
            Source::Path(base.join(written))
        }
    }
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| Error::Manifest(e.to_string()))?;
        for d in &manifest.datasets {
            opendata_datasets::license::validate(&d.license)
                .map_err(|e| Error::Manifest(format!("dataset `{}`: {e}", d.id)))?;
            opendata_datasets::ident::validate_local_id(&d.id).map_err(|e| Error::Manifest(e.to_string()))?;
        }
        for o in &manifest.organizations {
            opendata_datasets::ident::validate_local_id(&o.id).map_err(|e| Error::Manifest(e.to_string()))?;
        }
        Ok(manifest)
    }
}

impl OrganizationSpec {
    pub fn organization(&self) -> Organization {
        Organization {
            id: self.id.clone(),
            title: self.title.clone(),
            title_en: self.title_en.clone(),
            description: self.description.clone(),
            url: self.url.clone(),
        }
    }
}

impl DatasetSpec {
    pub fn meta(&self) -> DatasetMeta {
        DatasetMeta {
            id: self.id.clone(),
            organization: self.organization.clone(),
            title: self.title.clone(),
            title_en: self.title_en.clone(),
            description: self.description.clone(),
            description_en: self.description_en.clone(),
            tags: self.tags.clone(),
            license: self.license.clone(),
            source: self.source.clone(),
            ..Default::default()
        }
    }
}

impl TableSpec {
    /// The table's source, with relative paths resolved against the manifest's folder. A
    /// path must stay inside that folder, after links are followed: a manifest names its
    /// own files, never `/etc/passwd` or `../../secrets`.
    pub fn source(&self, manifest_dir: &Path) -> Result<Source> {
        let source = Source::parse(&self.source, manifest_dir);
        if let Source::Path(path) = &source {
            let outside = || {
                Error::Manifest(format!(
                    "`{}` is outside the manifest's folder; sources are files beside it",
                    self.source
                ))
            };
            let dir = manifest_dir.canonicalize().map_err(Error::io(manifest_dir))?;
            // A missing file fails later with its own message; what exists must be inside.
            let resolved = match path.canonicalize() {
                Ok(p) => p,
                Err(_) if Path::new(&self.source).is_relative() && !self.source.contains("..") => return Ok(source),
                Err(_) => return Err(outside()),
            };
            if !resolved.starts_with(&dir) {
                return Err(outside());
            }
        }
        Ok(source)
    }

    pub fn read_options(&self) -> Result<ReadOptions> {
        Ok(ReadOptions {
            encoding: self.encoding.clone(),
            delimiter: parse_delimiter(self.delimiter.as_deref())?,
            quote: parse_delimiter(self.quote.as_deref())?,
            header_row: self.header_row,
            header_rows: self.header_rows,
            sheet: self.sheet.clone(),
            records: self.records.clone(),
            fix_mongolian: self.fix_mongolian,
            strict: self.strict,
            null_markers: self.null_markers.clone(),
        })
    }
}

/// A delimiter as a person writes it: one character, or `\t` / `tab`.
pub fn parse_delimiter(d: Option<&str>) -> Result<Option<u8>> {
    match d {
        None => Ok(None),
        Some("\\t") | Some("tab") | Some("\t") => Ok(Some(b'\t')),
        Some(d) if d.len() == 1 => Ok(Some(d.as_bytes()[0])),
        Some(d) => Err(Error::Manifest(format!("a delimiter is one ASCII character, not `{d}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc: String = include_str!("manifest.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let m: Manifest = toml::from_str(&doc).unwrap();
        assert_eq!(m.organizations[0].id, "nso");
        let t = &m.datasets[0].tables[0];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("population.csv"), "a\n1\n").unwrap();
        assert_eq!(t.source(dir.path()).unwrap(), Source::Path(dir.path().join("population.csv")));
        let mut escaping = t.clone();
        for outside in ["/etc/passwd", "../../etc/passwd", "sub/../../x.csv"] {
            escaping.source = outside.into();
            assert!(escaping.source(dir.path()).is_err(), "{outside}");
        }
        escaping.source = "https://example.mn/x.csv".into();
        assert!(matches!(escaping.source(dir.path()), Ok(Source::Url(_))));
        assert_eq!(t.read_options().unwrap().delimiter, Some(b';'));
        assert_eq!(t.read_options().unwrap().header_row, Some(3));
        assert_eq!(t.columns["khun_amyn_too"].kind, Some(opendata_datasets::ColumnType::Integer));
        assert_eq!(m.datasets[0].meta().license, "CC-BY-4.0");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Manifest>("[[dataset]]\nid='a'\norganization='o'\ntitle='t'\ntitel='x'\n").is_err());
    }
}
