//! Where version files, Delta logs and waiting uploads live: the data folder itself (the
//! default), or an S3 bucket that several nodes share. With a bucket, the data folder's
//! `tables/` and `uploads/` become a read-through cache of it: the same relative paths,
//! filled on first use and kept within a size bound. Versions never change once written,
//! so a cached file is never stale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::runtime::Bridge;
use crate::{Error, Result};

/// An object store behind the data folder.
#[derive(Debug)]
pub(crate) struct Bucket {
    store: Arc<AmazonS3>,
    /// The key prefix every file is under (`PREFIX` of `s3://BUCKET/PREFIX`).
    prefix: String,
    runtime: Bridge,
    /// Bytes of cached files kept before the least recently used go.
    cache_bytes: u64,
}

impl Bucket {
    /// Opens `s3://BUCKET/PREFIX`, with the endpoint, region and keys from the usual
    /// `AWS_*` variables (`AWS_ENDPOINT_URL` for a store that is not Amazon's), then from
    /// `options` (object_store's names: `endpoint`, `access_key_id`, `secret_access_key`).
    pub(crate) fn open(url: &str, options: &BTreeMap<String, String>, cache_bytes: u64) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or(Error::Unsupported("a storage URL is s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in options {
            let key = key.parse().map_err(|e| Error::Unavailable(format!("storage option `{key}`: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let endpoint = options
            .get("endpoint")
            .cloned()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT").ok())
            .unwrap_or_default();
        if endpoint.starts_with("http://") {
            // A store on the operator's own network (MinIO, Garage) often speaks plain HTTP.
            builder = builder.with_allow_http(true);
        }
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| Error::Unavailable(format!("cannot open {url}: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
            runtime: Bridge::start("storage-s3")?,
            cache_bytes,
        })
    }

    fn key(&self, relative: &str) -> Key {
        Key::from(if self.prefix.is_empty() { relative.to_owned() } else { format!("{}/{relative}", self.prefix) })
    }

    fn failed(what: &'static str, relative: &str) -> impl FnOnce(object_store::Error) -> Error + Send + use<> {
        let relative = relative.to_owned();
        move |e| Error::Unavailable(format!("cannot {what} {relative} in the bucket: {e}"))
    }

    /// Writes the local file `from` as `relative`, in parts, so any size streams.
    pub(crate) fn put(&self, relative: &str, from: &Path) -> Result<()> {
        let (store, key, from) = (self.store.clone(), self.key(relative), from.to_owned());
        let failed = format!("cannot write {relative} in the bucket");
        self.runtime.run(async move {
            let mut file = tokio::fs::File::open(&from).await.map_err(Error::io(&from))?;
            let mut writer = object_store::buffered::BufWriter::new(store, key);
            let copied = tokio::io::copy(&mut file, &mut writer).await;
            if let Err(e) = copied {
                let _ = writer.abort().await;
                return Err(Error::io(&from)(e));
            }
            writer.shutdown().await.map_err(|e| Error::Unavailable(format!("{failed}: {e}")))
        })
    }

    /// Reads `relative` into the local file `to` (a staging path the caller renames).
    pub(crate) fn get(&self, relative: &str, to: &Path) -> Result<()> {
        let (store, key, to) = (self.store.clone(), self.key(relative), to.to_owned());
        let failed = Self::failed("read", relative);
        self.runtime.run(async move {
            use futures::StreamExt;
            let mut stream = store.get(&key).await.map_err(failed)?.into_stream();
            let mut file = tokio::fs::File::create(&to).await.map_err(Error::io(&to))?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::Unavailable(format!("reading {key} broke off: {e}")))?;
                file.write_all(&chunk).await.map_err(Error::io(&to))?;
            }
            file.sync_all().await.map_err(Error::io(&to))?;
            Ok(())
        })
    }

    /// Every object under `relative/`, with when it was written, relative to the prefix.
    pub(crate) fn list(&self, relative: &str) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        let (store, key, prefix) = (self.store.clone(), self.key(relative), self.key(""));
        let failed = Self::failed("list", relative);
        self.runtime.run(async move {
            use futures::TryStreamExt;
            let objects: Vec<_> = store.list(Some(&key)).try_collect().await.map_err(failed)?;
            let strip = format!("{}/", prefix.as_ref().trim_end_matches('/'));
            Ok(objects
                .into_iter()
                .map(|o| {
                    let path = o.location.as_ref();
                    (path.strip_prefix(strip.trim_start_matches('/')).unwrap_or(path).to_owned(), o.last_modified)
                })
                .collect())
        })
    }

    pub(crate) fn exists(&self, relative: &str) -> Result<bool> {
        let (store, key) = (self.store.clone(), self.key(relative));
        let failed = Self::failed("look for", relative);
        self.runtime.run(async move {
            match store.head(&key).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(failed(e)),
            }
        })
    }

    pub(crate) fn delete(&self, relative: &str) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(relative));
        let failed = Self::failed("delete", relative);
        self.runtime.run(async move { store.delete(&key).await.map_err(failed) })
    }

    /// A URL that reads `relative` without credentials for `valid` (a download redirect).
    pub(crate) fn signed_url(&self, relative: &str, valid: Duration) -> Result<String> {
        let (store, key) = (self.store.clone(), self.key(relative));
        let failed = Self::failed("sign", relative);
        self.runtime
            .run(async move { Ok(store.signed_url(http::Method::GET, &key, valid).await.map_err(failed)?.to_string()) })
    }

    /// Keeps the cache under `root/dirs` within its bound: the files least recently used go
    /// first, but never one used in the last minute (a query may be about to open it).
    pub(crate) fn trim_cache(&self, root: &Path, dirs: &[&str]) {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = dirs.iter().flat_map(|d| walk(&root.join(d))).collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.cache_bytes {
            return;
        }
        files.sort();
        let recent = SystemTime::now() - Duration::from_secs(60);
        for (used, size, path) in files {
            if total <= self.cache_bytes || used > recent {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
    }
}

/// Every file under `dir`, with when it was last used (its modification time, which
/// [`touch`] moves on each use) and its size.
fn walk(dir: &Path) -> Vec<(SystemTime, u64, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => out.extend(walk(&path)),
            Ok(m) => out.push((m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len(), path)),
            Err(_) => {}
        }
    }
    out
}

/// Marks a cached file as just used.
pub(crate) fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}
