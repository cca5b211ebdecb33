//! The files agencies sent, kept beside the tables read from them: researchers cite and
//! re-check the spreadsheet as published, not only the portal's reading of it. Documents
//! that are not tables (a methodology PDF; see [`crate::Resource`]) are kept the same way.
//!
//! An original is stored once under its content hash (`originals/ab/<blake3>.<ext>`), so
//! the tables of a workbook's sheets, and an unchanged file sent again, share one copy.
//! Like a version file, it is stored before the catalog names it: a crash in between leaves
//! an unnamed file that the bucket's sweep removes.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::store::{ORIGINALS, Store};
use crate::{Error, Result};

impl Store {
    /// Keeps `from` (the file as sent, whose BLAKE3 is `hash`) and returns the path a
    /// version's [`crate::SourceInfo::original`] names it by. `extension` is the name the
    /// agency gave it, cut to what a file name may safely end with.
    pub fn keep_original(&self, from: &Path, hash: &str, extension: &str) -> Result<String> {
        if hash.len() < 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Unsupported("an original is kept under its hex content hash"));
        }
        let extension: String =
            extension.chars().filter(char::is_ascii_alphanumeric).take(10).collect::<String>().to_ascii_lowercase();
        let name = if extension.is_empty() { hash.to_owned() } else { format!("{hash}.{extension}") };
        let relative = format!("{ORIGINALS}/{}/{name}", &hash[..2]);
        let target = self.root.join(&relative);
        if !target.exists() {
            let mut staged = self.stage("original");
            std::fs::copy(from, staged.path()).map_err(Error::io(from))?;
            File::open(staged.path()).and_then(|f| f.sync_all()).map_err(Error::io(staged.path()))?;
            let dir = target.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            std::fs::rename(staged.path(), &target).map_err(Error::io(&target))?;
            staged.keep();
        }
        if let Some(bucket) = &self.bucket
            && !bucket.exists(&relative)?
        {
            bucket.put(&relative, &target)?;
        }
        Ok(relative)
    }

    /// The original named `relative` by a version, on this machine (fetched from the bucket
    /// if need be: call it off the async threads).
    pub fn original_path(&self, relative: &str) -> Result<PathBuf> {
        if !relative.starts_with(&format!("{ORIGINALS}/")) || relative.contains("..") {
            return Err(Error::Unsupported("not an original's path"));
        }
        self.local(relative)
    }
}
