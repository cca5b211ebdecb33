//! The data folder: catalog, Parquet versions, staging area.
//!
//! ```text
//! DATA/
//!   catalog.sqlite            the catalog
//!   index/                    the search index (owned by search-index)
//!   tables/<dataset>/<table>/<unique>.parquet
//!   staging/                  files being written; never referenced by the catalog
//!   uploads/<job>.<ext>       uploads waiting for their ingest job, whichever node runs it
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::catalog::{Catalog, NewVersion};
use crate::delta;
use crate::ident::validate_id;
use crate::model::TableVersion;
use crate::storage::{self, Bucket};
use crate::{Error, PostgresCatalog, Result, SqliteCatalog};

/// The data folder and its catalog.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) root: PathBuf,
    catalog: Arc<dyn Catalog>,
    /// The bucket the files live in, when they are not the data folder's own.
    pub(crate) bucket: Option<Arc<Bucket>>,
    /// What [`Store::connect`] was given, for child processes that open the store again.
    locations: Locations,
}

/// Where a store keeps what is not in its data folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Locations {
    /// `None` or `sqlite://PATH` for a SQLite file (by default the data folder's own),
    /// `postgres://…` for a PostgreSQL database that several nodes share.
    pub catalog: Option<String>,
    /// `None` for the data folder, or `s3://BUCKET/PREFIX` for a bucket that several nodes
    /// share; the data folder then caches what it reads.
    pub storage: Option<String>,
    /// MB of the bucket's files the data folder keeps.
    pub cache_mb: u64,
    /// Settings of the bucket's client, by object_store's names (`endpoint`,
    /// `access_key_id`, `region`…), over the `AWS_*` variables.
    pub storage_options: std::collections::BTreeMap<String, String>,
}

/// A file being written in the staging area. Dropping it without publishing deletes it.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    published: bool,
}

impl StagedFile {
    /// The file moved where it stays: dropping this no longer deletes it.
    pub(crate) fn keep(&mut self) {
        self.published = true;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.published {
            // A staged path is a file or, for scratch space, a folder.
            let _ = std::fs::remove_file(&self.path).or_else(|_| std::fs::remove_dir_all(&self.path));
        }
    }
}

impl Store {
    /// Opens the data folder with its own SQLite catalog, creating both if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::connect(root, &Locations::default())
    }

    /// Opens the data folder with the catalog and the storage `locations` name.
    pub fn connect(root: impl Into<PathBuf>, locations: &Locations) -> Result<Self> {
        let root = root.into();
        for dir in [root.clone(), root.join("tables"), root.join("staging"), root.join(UPLOADS)] {
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        }
        let catalog: Arc<dyn Catalog> = match locations.catalog.as_deref() {
            None => Arc::new(SqliteCatalog::open(&root.join(CATALOG))?),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Arc::new(PostgresCatalog::connect(url)?)
            }
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) => Arc::new(SqliteCatalog::open(Path::new(path))?),
                None => return Err(Error::Unsupported("a catalog URL is sqlite://PATH or postgres://…")),
            },
        };
        let bucket = match locations.storage.as_deref() {
            None => None,
            Some(url) => {
                let cache = locations.cache_mb.saturating_mul(1 << 20);
                Some(Arc::new(Bucket::open(url, &locations.storage_options, cache)?))
            }
        };
        let store = Self { root, catalog, bucket, locations: locations.clone() };
        store.sweep()?;
        Ok(store)
    }

    /// Removes what interrupted ingests left behind: staging files of processes that no
    /// longer run, and Parquet files renamed into `tables/` whose catalog commit never came
    /// (only when older than an hour, so a publisher between rename and commit is safe).
    /// Neither was ever visible: the catalog is what makes a version exist.
    fn sweep(&self) -> Result<()> {
        let staging = self.root.join("staging");
        for entry in std::fs::read_dir(&staging).map_err(Error::io(&staging))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| pid != std::process::id() && !process_alive(pid)) {
                let path = entry.path();
                let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path));
            }
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        // Uploads whose job ended (or was never recorded) and that nobody touched for an hour.
        let uploads = self.root.join(UPLOADS);
        for entry in std::fs::read_dir(&uploads).map_err(Error::io(&uploads))?.flatten() {
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < hour_ago);
            if old && !self.upload_waits(&entry.file_name().to_string_lossy()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let referenced: std::collections::HashSet<PathBuf> =
            named_files(self.catalog.as_ref())?.iter().map(|f| self.root.join(f)).collect();
        let tables = self.root.join("tables");
        for dataset in std::fs::read_dir(&tables).map_err(Error::io(&tables))?.flatten() {
            for table in std::fs::read_dir(dataset.path()).into_iter().flatten().flatten() {
                for file in std::fs::read_dir(table.path()).into_iter().flatten().flatten() {
                    let path = file.path();
                    let old = file.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < hour_ago);
                    if old && !referenced.contains(&path) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a consistent snapshot of the data folder to `to`, which must be empty or
    /// absent, while the portal goes on serving and publishing: the catalog as of one
    /// moment, and every version file it names (immutable, so copying them afterwards is
    /// exact). The search index is not copied; [`Store::restore`]'s caller rebuilds it.
    /// Returns the number of files (versions, originals and drafts).
    pub fn backup(&self, to: &Path) -> Result<usize> {
        if self.bucket.is_some() {
            return Err(Error::Unsupported("files in a bucket are backed up with the bucket (see deploy/README.md)"));
        }
        empty_dir(to)?;
        let catalog = to.join(CATALOG);
        self.catalog.backup(&catalog)?;
        let copy = SqliteCatalog::open(&catalog)?;
        let mut files = 0;
        for file in &named_files(&copy)? {
            let (from, into) = (self.root.join(file), to.join(file));
            if let Some(dir) = into.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            // A hard link costs nothing and cannot go stale: a stored file never changes.
            std::fs::hard_link(&from, &into)
                .or_else(|_| std::fs::copy(&from, &into).map(|_| ()))
                .map_err(Error::io(&into))?;
            files += 1;
        }
        Ok(files)
    }

    /// Opens a data folder restored from a backup at `from` into `to` (empty or absent).
    pub fn restore(from: &Path, to: &Path) -> Result<Self> {
        empty_dir(to)?;
        let copy = SqliteCatalog::open(&from.join(CATALOG))?;
        for file in &named_files(&copy)? {
            let (source, into) = (from.join(file), to.join(file));
            if let Some(dir) = into.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            std::fs::copy(&source, &into).map_err(Error::io(&source))?;
        }
        drop(copy);
        std::fs::copy(from.join(CATALOG), to.join(CATALOG)).map_err(Error::io(from.join(CATALOG)))?;
        Self::open(to)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn catalog(&self) -> &dyn Catalog {
        self.catalog.as_ref()
    }

    /// The catalog, to hold beyond the store's lifetime (a follower thread).
    pub fn shared_catalog(&self) -> Arc<dyn Catalog> {
        self.catalog.clone()
    }

    /// Where the store keeps what is not in its data folder.
    pub fn locations(&self) -> &Locations {
        &self.locations
    }

    /// Where the search index lives.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// The Parquet file of a version, on this machine: with a bucket, read into the data
    /// folder first if it is not there yet. The path comes from the catalog, never from a
    /// request. With a bucket this may take a while: call it off the async threads.
    pub fn version_path(&self, version: &TableVersion) -> Result<PathBuf> {
        self.local(&version.file)
    }

    /// Whether [`Store::version_path`] answers without reading the bucket.
    pub fn is_local(&self, version: &TableVersion) -> bool {
        self.bucket.is_none() || self.root.join(&version.file).exists()
    }

    /// A URL that reads a version's file straight from the bucket for `valid`, when the
    /// files are in one; `None` for a data folder's own files.
    pub fn signed_url(&self, version: &TableVersion, valid: std::time::Duration) -> Result<Option<String>> {
        self.bucket.as_ref().map(|b| b.signed_url(&version.file, valid)).transpose()
    }

    /// The local copy of the stored file `relative`, fetched from the bucket if needed.
    pub(crate) fn local(&self, relative: &str) -> Result<PathBuf> {
        let path = self.root.join(relative);
        let Some(bucket) = &self.bucket else { return Ok(path) };
        if path.exists() {
            storage::touch(&path);
            return Ok(path);
        }
        let staged = self.stage("fetch");
        bucket.get(relative, staged.path())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        std::fs::rename(staged.path(), &path).map_err(Error::io(&path))?;
        bucket.trim_cache(&self.root, &["tables", UPLOADS, ORIGINALS]);
        Ok(path)
    }

    /// A fresh, uniquely named file in the staging area, with the given extension.
    pub fn stage(&self, extension: &str) -> StagedFile {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{}-{}-{}.{extension}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        StagedFile { path: self.root.join("staging").join(unique), published: false }
    }

    /// With a bucket: removes what nothing names any more, once an hour old: version files
    /// no version names (a publish whose catalog commit never came, a withdrawn dataset),
    /// the Delta logs of tables that are gone, and uploads whose job ended. Returns how many
    /// objects went. One node does this at a time (see [`Catalog::lead`]).
    pub fn sweep_bucket(&self) -> Result<usize> {
        let Some(bucket) = &self.bucket else { return Ok(0) };
        let withdrawn = self.catalog.withdrawn_datasets()?.into_iter().map(std::sync::Arc::new);
        let datasets: Vec<_> = self.catalog.datasets()?.into_iter().chain(withdrawn).collect();
        let named = named_files(self.catalog.as_ref())?;
        let files: std::collections::HashSet<&str> = named.iter().map(String::as_str).collect();
        let tables: std::collections::HashSet<String> =
            datasets.iter().flat_map(|d| d.tables.iter().map(move |t| delta::log_dir(&d.meta.id, &t.name))).collect();
        let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
        let mut removed = 0;
        for (path, written) in bucket.list("tables")? {
            let named = match path.split_once("/_delta_log/") {
                Some((table, _)) => tables.contains(&format!("{table}/_delta_log")),
                None => files.contains(path.as_str()),
            };
            if !named && written < hour_ago {
                bucket.delete(&path)?;
                removed += 1;
            }
        }
        for (path, written) in bucket.list(ORIGINALS)? {
            if !files.contains(path.as_str()) && written < hour_ago {
                bucket.delete(&path)?;
                removed += 1;
            }
        }
        for (path, written) in bucket.list(UPLOADS)? {
            if written < hour_ago && !self.upload_waits(path.rsplit('/').next().unwrap_or_default()) {
                bucket.delete(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Brings a table's Delta log up to its versions in the catalog: the commits missing at
    /// its end are written (see [`crate::delta`]); returns how many.
    pub fn write_delta_log(&self, dataset: &str, table: &str) -> Result<usize> {
        let d = self.catalog.dataset(dataset)?;
        let t = d.tables.iter().find(|t| t.name == table);
        let t = t.ok_or_else(|| Error::TableNotFound { dataset: dataset.into(), table: table.into() })?;
        let mut missing = Vec::new();
        for (at, v) in t.versions.iter().enumerate().rev() {
            let path = delta::commit_path(dataset, table, v.version);
            let present = match &self.bucket {
                Some(bucket) => bucket.exists(&path)?,
                None => self.root.join(&path).exists(),
            };
            if present {
                break;
            }
            missing.push((at, path));
        }
        for (at, path) in missing.iter().rev() {
            let staged = self.stage("json");
            std::fs::write(staged.path(), delta::commit(t, *at)).map_err(Error::io(staged.path()))?;
            match &self.bucket {
                Some(bucket) => bucket.put(path, staged.path())?,
                None => {
                    let target = self.root.join(path);
                    if let Some(dir) = target.parent() {
                        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
                    }
                    File::open(staged.path()).and_then(|f| f.sync_all()).map_err(Error::io(staged.path()))?;
                    std::fs::rename(staged.path(), &target).map_err(Error::io(&target))?;
                }
            }
        }
        Ok(missing.len())
    }

    /// [`Store::write_delta_log`] for every table; returns the commits written.
    pub fn repair_delta_logs(&self) -> Result<usize> {
        let mut written = 0;
        for d in self.catalog.datasets()? {
            for t in &d.tables {
                written += self.write_delta_log(&d.meta.id, &t.name)?;
            }
        }
        Ok(written)
    }

    /// Keeps a staged upload for the ingest job `job`, in the shared `uploads/` area where
    /// any node can read it; returns its path relative to the data folder.
    pub fn keep_upload(&self, mut staged: StagedFile, job: &str, extension: &str) -> Result<String> {
        validate_id(job)?;
        let ext: String = extension.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        let relative = format!("{UPLOADS}/{job}.{}", if ext.is_empty() { "bin" } else { &ext });
        let target = self.root.join(&relative);
        File::open(&staged.path).and_then(|f| f.sync_all()).map_err(Error::io(&staged.path))?;
        std::fs::rename(&staged.path, &target).map_err(Error::io(&target))?;
        staged.published = true;
        if let Some(bucket) = &self.bucket {
            bucket.put(&relative, &target).inspect_err(|_| {
                let _ = std::fs::remove_file(&target);
            })?;
        }
        Ok(relative)
    }

    /// Removes an upload whose job has ended, here and in the bucket.
    pub fn remove_upload(&self, relative: &str) -> Result<()> {
        let path = self.checked_upload(relative)?;
        let _ = std::fs::remove_file(path);
        match &self.bucket {
            Some(bucket) => bucket.delete(relative),
            None => Ok(()),
        }
    }

    /// Whether the upload `file_name` (`<job>.<ext>`) still waits for its job: queued or
    /// running. One whose job ended, or was never recorded, may be swept.
    fn upload_waits(&self, file_name: &str) -> bool {
        let job = file_name.split('.').next().unwrap_or_default();
        self.catalog.job(job).is_ok_and(|j| matches!(j.status, crate::JobStatus::Queued | crate::JobStatus::Running))
    }

    /// The file of an upload kept by [`Store::keep_upload`], on this machine.
    pub fn upload_path(&self, relative: &str) -> Result<PathBuf> {
        self.checked_upload(relative)?;
        self.local(relative)
    }

    fn checked_upload(&self, relative: &str) -> Result<PathBuf> {
        match relative.strip_prefix(UPLOADS).and_then(|r| r.strip_prefix('/')) {
            // Written by keep_upload; anything else in a job record is not ours to read.
            Some(name) if !name.contains(['/', '\\']) && !name.starts_with('.') => Ok(self.root.join(relative)),
            _ => Err(Error::InvalidId { value: relative.to_owned(), reason: "not an upload of this data folder" }),
        }
    }

    /// Publishes a staged Parquet file as the next version of a table.
    ///
    /// The order makes a crash harmless at every step: the file is fsynced, renamed into
    /// `tables/` under a name no version uses yet, the directory is fsynced, and only then is
    /// the catalog row committed. Before that commit the file is invisible; the previous
    /// version stays the one served.
    pub fn publish(&self, staged: StagedFile, new: NewVersion) -> Result<TableVersion> {
        let new = NewVersion { file: self.place(staged, &new)?, ..new };
        match self.catalog.add_version(&new) {
            Ok(version) => {
                // A draft of the table was numbered as this version: it is stale now.
                if let Err(e) = self.catalog.remove_draft(&new.dataset.id, &new.table) {
                    tracing::warn!(dataset = new.dataset.id, table = new.table, %e, "a stale draft stays");
                }
                self.log_version(&new);
                self.announce(&new, &version);
                Ok(version)
            }
            Err(e) => {
                self.unplace(&new.file);
                Err(e)
            }
        }
    }

    /// Writes the table's Delta log after a publish. The log follows the catalog; one missed
    /// here (a crash, a bucket that did not answer) is written by the next publish or at the
    /// next start.
    pub(crate) fn log_version(&self, new: &NewVersion) {
        if let Err(e) = self.write_delta_log(&new.dataset.id, &new.table) {
            tracing::warn!(dataset = new.dataset.id, table = new.table, %e, "the Delta log lags the catalog");
        }
    }

    /// Removes a placed file the catalog never came to name: nobody can be reading it.
    pub(crate) fn unplace(&self, relative: &str) {
        let _ = std::fs::remove_file(self.root.join(relative));
        if let Some(bucket) = &self.bucket {
            let _ = bucket.delete(relative);
        }
    }

    /// Moves a staged version file where versions live (and into the bucket), durably, under
    /// a name no version uses; returns its path relative to the data folder.
    pub(crate) fn place(&self, mut staged: StagedFile, new: &NewVersion) -> Result<String> {
        validate_id(&new.dataset.id)?;
        validate_id(&new.table)?;
        let dir = self.root.join("tables").join(&new.dataset.id).join(&new.table);
        let created = !dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        if created {
            // A new directory is durable only once its parent's entry for it is: sync the
            // folders of the dataset and of every table, so a crash cannot lose the directory
            // of a version the catalog has committed.
            for parent in dir.ancestors().skip(1).take(2) {
                File::open(parent).and_then(|d| d.sync_all()).map_err(Error::io(parent))?;
            }
        }
        File::open(&staged.path).and_then(|f| f.sync_all()).map_err(Error::io(&staged.path))?;
        let file_name = staged.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let target = dir.join(&file_name);
        std::fs::rename(&staged.path, &target).map_err(Error::io(&target))?;
        staged.published = true;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(Error::io(&dir))?;
        let relative = format!("tables/{}/{}/{}", new.dataset.id, new.table, file_name);
        // With a bucket, the object goes first, under a name no version uses; the local file
        // stays as this node's cached copy.
        if let Some(bucket) = &self.bucket
            && let Err(e) = bucket.put(&relative, &target)
        {
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
        Ok(relative)
    }
}

/// Every stored file the catalog names: each version's Parquet file and original, and each
/// draft's, which waits for its review for as long as that takes.
fn named_files(catalog: &dyn Catalog) -> Result<Vec<String>> {
    // A withdrawn dataset keeps its files: its organization's admin may restore it.
    let withdrawn = catalog.withdrawn_datasets()?.into_iter().map(std::sync::Arc::new);
    let datasets: Vec<_> = catalog.datasets()?.into_iter().chain(withdrawn).collect();
    let mut files: Vec<String> = datasets
        .iter()
        .flat_map(|d| &d.tables)
        .flat_map(|t| &t.versions)
        .flat_map(TableVersion::files)
        .chain(datasets.iter().flat_map(|d| &d.resources).filter_map(|r| r.file.as_deref()))
        .map(str::to_owned)
        .collect();
    for d in catalog.drafts()? {
        files.extend(std::iter::once(d.new.file).chain(d.new.source.original));
    }
    files.sort_unstable();
    files.dedup();
    Ok(files)
}

/// The catalog's file in a data folder.
const CATALOG: &str = "catalog.sqlite";
/// Where uploads wait for their jobs.
const UPLOADS: &str = "uploads";
/// Where the files agencies sent are kept (see [`crate::originals`]).
pub(crate) const ORIGINALS: &str = "originals";

/// Creates `dir`, or checks that it is empty: a backup never mixes with other files.
fn empty_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    if std::fs::read_dir(dir).map_err(Error::io(dir))?.next().is_some() {
        return Err(Error::io(dir)(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the folder is not empty")));
    }
    Ok(())
}

/// Whether a process runs. Where that cannot be known, it is assumed to: nothing is swept.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn org() -> Organization {
        Organization {
            id: "nso".into(),
            title: "Үндэсний статистикийн хороо".into(),
            title_en: Some("National Statistics Office".into()),
            description: String::new(),
            url: None,
        }
    }

    fn new_version(dataset: &str) -> NewVersion {
        NewVersion {
            create_dataset: true,
            dataset: DatasetMeta {
                id: dataset.into(),
                organization: "nso".into(),
                title: "Хүн ам".into(),
                license: "CC-BY-4.0".into(),
                ..Default::default()
            },
            table: "main".into(),
            table_title: "Main".into(),
            row_count: 3,
            byte_size: 5,
            file: String::new(),
            columns: vec![],
            source: SourceInfo::default(),
            content_hash: String::new(),
            changes: None,
            report: QualityReport::default(),
        }
    }

    #[test]
    fn versions_count_up_and_files_move_out_of_staging() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.catalog().upsert_organization(&org()).unwrap();
        for expected in 1..=2 {
            let staged = store.stage("parquet");
            std::fs::write(staged.path(), b"PAR1").unwrap();
            let staged_path = staged.path().to_owned();
            let v = store.publish(staged, new_version("population")).unwrap();
            assert_eq!(v.version, expected);
            assert!(!staged_path.exists());
            assert!(store.version_path(&v).unwrap().exists());
        }
        let ds = store.catalog().dataset("population").unwrap();
        assert_eq!(ds.tables[0].versions.len(), 2);
        assert_eq!(ds.tables[0].sql_name, "population__main");
        assert_eq!(store.catalog().totals().unwrap().rows, 3);
    }

    #[test]
    fn failed_commit_leaves_nothing_visible() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // No organization: the catalog refuses the version.
        let staged = store.stage("parquet");
        std::fs::write(staged.path(), b"PAR1").unwrap();
        assert!(matches!(store.publish(staged, new_version("population")), Err(Error::OrganizationNotFound(_))));
        assert!(matches!(store.catalog().dataset("population"), Err(Error::DatasetNotFound(_))));
        let leftovers = walk(dir.path().join("tables"));
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn unstaged_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let staged = store.stage("parquet");
        std::fs::write(staged.path(), b"x").unwrap();
        let p = staged.path().to_owned();
        drop(staged);
        assert!(!p.exists());
    }

    fn walk(dir: PathBuf) -> Vec<PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }
}
