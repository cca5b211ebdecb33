//! The test harness: a data folder in a temporary directory, the real server on port 0.

pub mod postgres;
pub mod s3;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opendata_datasets::{DatasetMeta, Locations, Organization, Role, Store, User};
use opendata_ingest::{IngestJob, IngestOutcome, ReadOptions};
use opendata_server::{AppState, Config, publish, serve};
use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Where a data folder's catalog and files live. In the `integration` binary, in the folder
/// itself (SQLite and local files); in the `scaled` one, in a PostgreSQL database and an S3
/// bucket of the folder's own, made on first use, so every test that opens the folder
/// (servers, ingests, stores) meets the same ones.
pub fn locations(data: &Path) -> Locations {
    if !crate::SCALED {
        return Locations::default();
    }
    static MADE: std::sync::Mutex<Vec<(PathBuf, Locations)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap();
    if let Some((_, l)) = made.iter().find(|(p, _)| p == data) {
        return l.clone();
    }
    let s3 = s3::S3::shared();
    let l = Locations {
        catalog: Some(postgres::Postgres::shared().database()),
        storage: Some(s3.bucket()),
        cache_mb: opendata_server::Config::default().cache_mb,
        storage_options: s3.options(),
    };
    made.push((data.to_owned(), l.clone()));
    l
}

/// The store of a data folder, where [`locations`] says it is.
pub fn store(data: &Path) -> Store {
    Store::connect(data, &locations(data)).unwrap()
}

/// A running server over its own data folder.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    /// The server's state, to look inside it (its caches) without going through HTTP.
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn org(id: &str, title: &str) -> Organization {
    Organization { id: id.into(), title: title.into(), title_en: None, description: String::new(), url: None }
}

pub fn dataset(id: &str, org: &str, title: &str) -> DatasetMeta {
    DatasetMeta {
        id: id.into(),
        organization: org.into(),
        title: title.into(),
        license: "CC-BY-4.0".into(),
        tags: vec!["test".into()],
        ..Default::default()
    }
}

/// Ingests `path` through the same code path as `opendata ingest`, in a separate store and
/// index handle, as another process would.
pub fn ingest(data: &Path, path: &Path, meta: &DatasetMeta, table: &str) -> Result<IngestOutcome, String> {
    ingest_with(data, path, meta, table, ReadOptions::default(), Default::default())
}

/// [`ingest`] with read options and column overrides, as a manifest gives them.
pub fn ingest_with(
    data: &Path,
    path: &Path,
    meta: &DatasetMeta,
    table: &str,
    options: ReadOptions,
    columns: std::collections::BTreeMap<String, opendata_datasets::ColumnOverride>,
) -> Result<IngestOutcome, String> {
    let store = Store::connect(data, &locations(data)).map_err(|e| e.to_string())?;
    let index = opendata_server::publish::open_index(&store, &store.index_dir()).map_err(|e| e.to_string())?;
    if store.catalog().organization(&meta.organization).is_err() {
        store.catalog().upsert_organization(&org(&meta.organization, &meta.organization)).map_err(|e| e.to_string())?;
    }
    let job = IngestJob {
        source: path.to_owned(),
        source_name: path.file_name().unwrap().to_string_lossy().into_owned(),
        dataset: meta.clone(),
        table: table.into(),
        table_title: None,
        options,
        columns,
        sort_by: None,
        limits: Default::default(),
        create_dataset: true,
        draft: false,
    };
    publish::ingest_and_index(&store, &index, &job, &mut |_| {}).map_err(|e| format!("{e:#}"))
}

/// Query workers and ingests of test servers: this test binary, running only
/// [`crate::worker`].
pub fn workers() -> opendata_server::child::WorkerCommand {
    opendata_server::child::WorkerCommand {
        program: std::env::current_exe().unwrap(),
        args: ["--exact", "worker", "--ignored", "--nocapture", "--test-threads=1"].map(String::from).to_vec(),
    }
}

impl TestServer {
    /// Starts a server over a fresh data folder prepared by `setup`.
    pub async fn start(setup: impl FnOnce(&Path)) -> Self {
        let data = tempfile::tempdir().unwrap();
        setup(data.path());
        Self::serve(data).await
    }

    /// Starts a server over an existing data folder.
    pub async fn serve(data: tempfile::TempDir) -> Self {
        Self::serve_with(data, |_| {}).await
    }

    /// Starts a server over a data folder the caller keeps (its own temporary folder is an
    /// empty one, left unused).
    pub async fn serve_at(data: &Path) -> Self {
        Self::serve_with(tempfile::tempdir().unwrap(), |c| c.data = data.to_owned()).await
    }

    /// Starts a server over an existing data folder, with settings changed by `configure`.
    pub async fn serve_with(data: tempfile::TempDir, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config { data: data.path().to_owned(), ..Config::default() };
        // Search by words alone, as a portal without the model does; tests of search by
        // meaning turn it on.
        config.search.semantic = opendata_server::config::Semantic::Off;
        configure(&mut config);
        if config.catalog.is_none() && config.storage.is_none() {
            let l = locations(&config.data);
            (config.catalog, config.storage, config.storage_options) = (l.catalog, l.storage, l.storage_options);
        }
        let state = AppState::open_with(config, workers()).unwrap();
        let served = state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            serve::run(listener, served, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let client = reqwest::Client::builder().no_gzip().build().unwrap();
        Self { base, client, data, state, shutdown: Some(tx) }
    }

    /// The demo catalog, ingested for real: what `opendata serve --demo` serves.
    pub async fn demo() -> Self {
        Self::start(|data| {
            let store = store(data);
            let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
            opendata_server::demo::install(&store, &index).unwrap();
        })
        .await
    }

    /// The standard catalog: the messy population fixture, and a generated multi-page table.
    pub async fn standard() -> Self {
        Self::start(standard_catalog).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET, assert the status, and parse the JSON body.
    pub async fn json(&self, path: &str, status: u16) -> Value {
        let res = self.get(path).await;
        let got = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(got, status, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

/// The standard catalog (see [`TestServer::standard`]), ingested into `data`.
pub fn standard_catalog(data: &Path) {
    ingest(data, &fixture("messy_population.csv"), &dataset("population", "nso", "Хүн амын тоо, аймгаар"), "main")
        .unwrap();
    let big = data.join("readings.csv");
    std::fs::write(&big, readings_csv(2_500)).unwrap();
    ingest(data, &big, &dataset("air-quality", "agaar", "Агаарын чанар"), "readings").unwrap();
    std::fs::remove_file(big).unwrap();
}

/// Deterministic readings: `id` 1..=n, a station out of 7, a value with gaps every 10th row.
pub fn readings_csv(n: usize) -> String {
    let mut s = String::from("id,station,value,observed_at\n");
    for i in 1..=n {
        let value = if i % 10 == 0 { String::new() } else { format!("{}.5", i % 100) };
        s.push_str(&format!("{i},ST{:02},{value},2024-01-{:02} {:02}:00:00\n", i % 7, 1 + i % 28, i % 24));
    }
    s
}

/// A user, their memberships, and a live token.
pub fn publisher(store: &Store, id: &str, site_admin: bool, orgs: &[(&str, Role)]) -> String {
    let catalog = store.catalog();
    catalog
        .create_user(&User {
            id: id.into(),
            name: id.into(),
            site_admin,
            created_at: chrono::Utc::now(),
            memberships: vec![],
            disabled: false,
        })
        .unwrap();
    for (o, role) in orgs {
        catalog.set_membership(id, o, *role).unwrap();
    }
    opendata_server::auth::issue(catalog, id, "tests", None).unwrap().1
}

pub async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s.client.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let text = res.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn wait_for_job(s: &TestServer, token: &str, location: &str) -> Value {
    // Ingests run at a lower CPU priority than serving: while the cluster test loads every
    // core, a small one here can wait its turn for a minute or more.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, _, job) = send(s, reqwest::Method::GET, location, Some(token), None).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
