//! The `opendata` command line. Every flag can also come from `OPENDATA_<FLAG>`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use opendata_datasets::{DatasetMeta, Organization, Store};
use opendata_ingest::manifest::{Manifest, Source, parse_delimiter};
use opendata_ingest::{IngestJob, Progress, ReadOptions};
use search_index::SearchIndex;
use serde::Serialize;

use crate::{AppState, config::Config, demo, fetch, publish, serve};

mod accounts;
mod backup;

pub use accounts::{TokenCommand, UserCommand};

/// Open data portal: publish agency files as versioned, searchable, queryable tables.
#[derive(Debug, Parser)]
#[command(name = "opendata", version)]
pub struct Cli {
    /// Configuration file (TOML); see config.example.toml.
    #[arg(long, global = true, env = "OPENDATA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the portal.
    Serve(ServeArgs),
    /// Ingest one file as a new version of a table.
    Ingest(Box<IngestArgs>),
    /// Rebuild the search index from the catalog.
    Reindex(DataArg),
    /// Import another portal's catalog (CKAN or DCAT-AP), with the data of tabular resources.
    Harvest(HarvestArgs),
    /// Manage publishers: `user create`, `user disable`, `user enable`.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens: `token create`, `token list`, `token revoke`.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a consistent copy of the data folder (catalog and version files) while the
    /// portal serves.
    Backup(backup::BackupArgs),
    /// Make a data folder (empty or new) from a backup, and build its search index.
    Restore(backup::RestoreArgs),
    /// Run upload jobs from the catalog's queue, without serving HTTP: a node that only
    /// ingests, beside the ones that serve (`serve` runs jobs too). Started by `serve` with
    /// a socket on its standard input, it is one of that server's query workers or ingests.
    Worker(DataArg),
}

#[derive(Debug, Args)]
pub struct HarvestArgs {
    /// A CKAN portal's address (its Action API is at <URL>/api/3/action).
    #[arg(
        long,
        env = "OPENDATA_CKAN",
        required_unless_present_any = ["dcat", "list", "remove"],
        conflicts_with = "dcat"
    )]
    pub ckan: Option<String>,
    /// A DCAT-AP catalog in expanded JSON-LD (Hydra `next` pages are followed).
    #[arg(long, env = "OPENDATA_DCAT")]
    pub dcat: Option<String>,
    /// The namespace of this source's organizations and datasets here (`<namespace>--<id>`);
    /// the source's host name by default (`data.gov.mn` → `data-gov-mn`).
    #[arg(long, env = "OPENDATA_NAMESPACE")]
    pub namespace: Option<String>,
    /// Import metadata only; do not download data.
    #[arg(long, env = "OPENDATA_METADATA_ONLY")]
    pub metadata_only: bool,
    /// Harvest now, then again every this many hours: the portal's maintainer queues each
    /// harvest, and any node or worker runs it.
    #[arg(long, env = "OPENDATA_EVERY", value_parser = clap::value_parser!(u32).range(1..))]
    pub every: Option<u32>,
    /// List the sources harvested on a schedule, and how their last harvest went.
    #[arg(long, conflicts_with_all = ["ckan", "dcat", "remove"])]
    pub list: bool,
    /// Stop harvesting the source of this namespace on a schedule (its datasets stay).
    #[arg(long, value_name = "NAMESPACE", conflicts_with_all = ["ckan", "dcat"])]
    pub remove: Option<String>,
    #[command(flatten)]
    pub data: DataArg,
}

/// The data folder flag, shared by every command.
#[derive(Debug, Args, Serialize)]
pub struct DataArg {
    /// Data folder [default: ./data].
    #[arg(long, env = "OPENDATA_DATA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Catalog URL: sqlite://PATH, or postgres://… for a catalog several nodes share
    /// [default: the data folder's catalog.sqlite].
    #[arg(long, env = "OPENDATA_CATALOG")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Where version files live: s3://BUCKET/PREFIX, with the endpoint and keys from the
    /// AWS_* variables [default: the data folder].
    #[arg(long, env = "OPENDATA_STORAGE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

#[derive(Debug, Args, Serialize)]
pub struct ServeArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub data: DataArg,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OPENDATA_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// Fill an empty data folder with the built-in demo catalog first.
    #[arg(long, env = "OPENDATA_DEMO")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The file or http(s) URL to ingest: delimited text in any common encoding, an Excel or
    /// OpenDocument workbook, JSON, NDJSON, GeoJSON or Parquet.
    #[arg(env = "OPENDATA_FILE", required_unless_present = "manifest", conflicts_with = "manifest")]
    pub file: Option<String>,
    /// Run every job a TOML manifest describes instead (see `opendata_ingest::manifest`).
    #[arg(long, env = "OPENDATA_MANIFEST")]
    pub manifest: Option<PathBuf>,
    /// Dataset id (a slug such as `population-by-aimag`); created if new.
    #[arg(long, env = "OPENDATA_DATASET", required_unless_present = "manifest")]
    pub dataset: Option<String>,
    /// Table name within the dataset [default: main].
    #[arg(long, env = "OPENDATA_TABLE", default_value = "main")]
    pub table: String,
    /// Publishing organization id; required for a new dataset, created if new.
    #[arg(long, env = "OPENDATA_ORG")]
    pub org: Option<String>,
    /// Dataset title [default: the dataset id for a new dataset].
    #[arg(long, env = "OPENDATA_TITLE")]
    pub title: Option<String>,
    /// Source encoding, overriding detection (e.g. windows-1251, utf-16le).
    #[arg(long, env = "OPENDATA_ENCODING")]
    pub encoding: Option<String>,
    /// Delimiter, overriding detection (one character; `\t` for tab).
    #[arg(long, env = "OPENDATA_DELIMITER")]
    pub delimiter: Option<String>,
    /// 1-based row of the header, overriding detection; 0 for a file without one.
    #[arg(long, env = "OPENDATA_HEADER_ROW")]
    pub header_row: Option<usize>,
    /// Only this sheet of a workbook.
    #[arg(long, env = "OPENDATA_SHEET")]
    pub sheet: Option<String>,
    /// The member of a JSON document holding the records (e.g. `DataList`).
    #[arg(long, env = "OPENDATA_RECORDS")]
    pub records: Option<String>,
    /// Fail on any value that does not fit its column, instead of reporting it.
    #[arg(long, env = "OPENDATA_STRICT")]
    pub strict: bool,
    /// Publish the table sorted by these columns (`-name` descending) instead of the keys
    /// chosen from the data; kept for later versions. `none` keeps the source's row order;
    /// an empty value goes back to the chosen keys.
    #[arg(long, env = "OPENDATA_SORT_BY", value_delimiter = ',', num_args = 0..)]
    pub sort_by: Option<Vec<String>>,
    #[command(flatten)]
    pub data: DataArg,
}

/// Runs the command line of this process.
pub fn main() -> anyhow::Result<()> {
    run(Cli::parse())
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = load(cli.config.as_ref(), &args)?;
            init_logging(&config.log);
            serve_cmd(config)
        }
        Command::Ingest(args) => {
            let config = load(cli.config.as_ref(), &args.data)?;
            // On a terminal the progress bar tells the story; elsewhere (cron, CI) log lines do.
            init_logging(if std::io::stderr().is_terminal() { "warn" } else { "info" });
            ingest_cmd(config, *args)
        }
        Command::Reindex(args) => {
            let config = load(cli.config.as_ref(), &args)?;
            init_logging("warn");
            let store = config.open_store()?;
            let index = crate::publish::open_index(&store, &config.index_dir())?;
            let n = publish::reindex(&store, &index)?;
            println!("indexed {n} datasets");
            Ok(())
        }
        Command::Worker(args) => match std::env::var_os(crate::child::ENV) {
            Some(_) => crate::child::main(),
            None => {
                let config = load(cli.config.as_ref(), &args)?;
                init_logging(&config.log);
                worker_cmd(config)
            }
        },
        Command::Backup(args) => backup::backup(cli.config.as_ref(), args),
        Command::Restore(args) => backup::restore(cli.config.as_ref(), args),
        Command::User(command) => accounts::user(cli.config.as_ref(), command),
        Command::Token(command) => accounts::token(cli.config.as_ref(), command),
        Command::Harvest(args) => {
            let config = load(cli.config.as_ref(), &args.data)?;
            init_logging("warn");
            harvest_cmd(config, args)
        }
    }
}

fn harvest_cmd(config: Config, args: HarvestArgs) -> anyhow::Result<()> {
    let store = config.open_store()?;
    if args.list {
        for s in store.catalog().harvest_sources()? {
            let last = match &s.last_job {
                Some(id) => {
                    store.catalog().job(id).map(|j| format!("{:?}", j.status).to_lowercase()).unwrap_or_default()
                }
                None => "never run".into(),
            };
            println!(
                "{}\t{:?}\t{}\tevery {} h\tnext {}\tlast {last}",
                s.namespace, s.protocol, s.url, s.every_hours, s.next_run
            );
        }
        return Ok(());
    }
    if let Some(namespace) = &args.remove {
        if !store.catalog().remove_harvest_source(namespace)? {
            bail!("no source is harvested under {namespace}");
        }
        println!("{namespace} is no longer harvested; its datasets stay");
        return Ok(());
    }
    let (protocol, url) = match (&args.ckan, &args.dcat) {
        (Some(url), _) => (opendata_datasets::HarvestProtocol::Ckan, url.clone()),
        (None, Some(url)) => (opendata_datasets::HarvestProtocol::Dcat, url.clone()),
        (None, None) => bail!("give --ckan URL or --dcat URL"),
    };
    let namespace = args.namespace.clone().unwrap_or_else(|| crate::harvest::default_namespace(&url));
    opendata_datasets::ident::validate_local_id(&namespace).context("--namespace")?;
    let source = opendata_datasets::HarvestSource {
        namespace,
        protocol,
        url: url.clone(),
        metadata_only: args.metadata_only,
        every_hours: args.every.unwrap_or(0),
        next_run: chrono::Utc::now() + chrono::Duration::hours(args.every.unwrap_or(0).into()),
        last_job: None,
    };
    if args.every.is_some() {
        store.catalog().put_harvest_source(&source)?;
    }
    let index = crate::publish::open_index(&store, &config.index_dir())?;
    let ctx = JobContext { store: &store, index: &index, fetch: &config.fetch, limits: config.limits.ingest() };
    let agent = fetch::agent(&config.fetch)?;
    let report = crate::harvest::run(&source, &store, &index, &agent, &mut |meta, table, title, url| {
        let spec = TableJob {
            table: table.to_owned(),
            title: Some(title.to_owned()),
            options: ReadOptions::default(),
            columns: Default::default(),
            sort_by: None,
        };
        run_job(&ctx, Source::Url(url.to_owned()), meta.clone(), spec)
    })?;
    for failure in &report.failures {
        eprintln!("{failure}");
    }
    println!("{}", report.summary(&url));
    if !report.failures.is_empty() {
        bail!("{} tables could not be harvested", report.failures.len());
    }
    Ok(())
}

fn load(file: Option<&PathBuf>, overrides: &impl Serialize) -> anyhow::Result<Config> {
    Config::load(file.map(|p| p.as_path()), overrides).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs jobs until SIGTERM or Ctrl-C; a job cut off then is taken over when its lease ends.
fn worker_cmd(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let state = AppState::open(config)?;
    tracing::info!(node = state.node, "running upload jobs");
    runtime.block_on(crate::jobs::run(state, crate::serve::shutdown_signal(std::time::Duration::ZERO)));
    Ok(())
}

fn serve_cmd(config: Config) -> anyhow::Result<()> {
    let runtime = crate::serve::runtime()?;
    let state = AppState::open(config.clone())
        .with_context(|| format!("cannot open the data folder {}", config.data.display()))?;
    if config.demo {
        let added = demo::install(&state.store, &state.index)?;
        if added > 0 {
            tracing::info!(datasets = added, "installed the demo catalog");
        }
    }
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %config.data.display(), "serving");
        eprintln!("opendata is serving http://{addr}/  (API docs: http://{addr}/api/docs)");
        let grace = std::time::Duration::from_secs(config.limits.shutdown_grace_secs);
        serve::run(listener, state, serve::shutdown_signal(grace)).await?;
        Ok(())
    })
}

fn ingest_cmd(config: Config, args: IngestArgs) -> anyhow::Result<()> {
    let store = config.open_store()?;
    let index = crate::publish::open_index(&store, &config.index_dir())?;
    let ctx = JobContext { store: &store, index: &index, fetch: &config.fetch, limits: config.limits.ingest() };
    if let Some(manifest) = &args.manifest {
        return ingest_manifest(&ctx, manifest);
    }
    let (Some(file), Some(dataset)) = (args.file, args.dataset) else {
        bail!("give a FILE and --dataset, or --manifest");
    };
    let catalog = store.catalog();
    let meta = match catalog.dataset(&dataset) {
        Ok(existing) => {
            let mut meta = existing.meta.clone();
            if let Some(title) = args.title {
                meta.title = title;
            }
            if let Some(org) = args.org {
                meta.organization = org;
            }
            meta
        }
        Err(opendata_datasets::Error::DatasetNotFound(_)) => {
            let Some(org) = args.org else {
                bail!("`{dataset}` is a new dataset: say which organization publishes it with --org")
            };
            opendata_datasets::ident::validate_local_id(&dataset)?;
            opendata_datasets::ident::validate_local_id(&org)?;
            DatasetMeta {
                id: dataset.clone(),
                organization: org,
                title: args.title.unwrap_or_else(|| dataset.clone()),
                license: "CC-BY-4.0".into(),
                ..Default::default()
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(opendata_datasets::Error::OrganizationNotFound(_)) = catalog.organization(&meta.organization) {
        catalog.upsert_organization(&Organization {
            id: meta.organization.clone(),
            title: meta.organization.clone(),
            title_en: None,
            description: String::new(),
            url: None,
        })?;
    }
    let options = ReadOptions {
        encoding: args.encoding,
        delimiter: parse_delimiter(args.delimiter.as_deref())?,
        header_row: args.header_row,
        sheet: args.sheet,
        records: args.records,
        strict: args.strict,
        ..ReadOptions::default()
    };
    // Relative paths are relative to where the command runs.
    let source = Source::parse(&file, std::path::Path::new(""));
    let spec = TableJob { table: args.table, title: None, options, columns: Default::default(), sort_by: args.sort_by };
    run_job(&ctx, source, meta, spec)
}

/// What every job of one command shares.
struct JobContext<'a> {
    store: &'a Store,
    index: &'a SearchIndex,
    fetch: &'a crate::config::Fetch,
    limits: opendata_ingest::IngestLimits,
}

fn ingest_manifest(ctx: &JobContext<'_>, path: &std::path::Path) -> anyhow::Result<()> {
    let manifest = Manifest::load(path)?;
    // `nso.toml` has the parent "", which names no folder.
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    for org in &manifest.organizations {
        ctx.store.catalog().upsert_organization(&org.organization())?;
    }
    for dataset in &manifest.datasets {
        for table in &dataset.tables {
            let spec = TableJob {
                table: table.name.clone(),
                title: table.title.clone(),
                options: table.read_options()?,
                columns: table.columns.clone(),
                sort_by: table.sort_by.clone(),
            };
            run_job(ctx, table.source(dir)?, dataset.meta(), spec)
                .with_context(|| format!("{}/{} ({})", dataset.id, table.name, table.source))?;
        }
    }
    Ok(())
}

/// How to read one table, from the command line or a manifest.
struct TableJob {
    table: String,
    title: Option<String>,
    options: ReadOptions,
    columns: std::collections::BTreeMap<String, opendata_datasets::ColumnOverride>,
    sort_by: Option<Vec<String>>,
}

fn run_job(ctx: &JobContext<'_>, source: Source, meta: DatasetMeta, spec: TableJob) -> anyhow::Result<()> {
    let TableJob { table, title: table_title, options, columns, sort_by } = spec;
    let catalog = ctx.store.catalog();
    let (path, source_name, _download, fetched) = match source {
        Source::Path(path) => {
            if !path.is_file() {
                bail!("no such file: {}", path.display());
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (path, name, None, None)
        }
        Source::Url(url) => match fetch::table_source(ctx.store, &meta.id, &table, &url, ctx.fetch)? {
            None => {
                println!("{}/{table}: unchanged at the source (HTTP 304 Not Modified), nothing to do", meta.id);
                return Ok(());
            }
            Some((file, name, state)) => (file.path().to_owned(), name, Some(file), Some(state)),
        },
    };
    // The command line speaks for the operator: its metadata is the dataset's, and a version
    // never changes metadata by itself. A new dataset is made by its first version.
    if catalog.dataset(&meta.id).is_ok() {
        catalog.upsert_dataset(&meta)?;
    }
    let job = IngestJob {
        source: path.clone(),
        source_name: source_name.clone(),
        dataset: meta,
        table,
        table_title,
        options,
        columns,
        sort_by,
        limits: ctx.limits,
        create_dataset: true,
        draft: false,
    };
    let bar = progress_bar();
    let mut progress = |p: Progress| report_progress(&bar, p);
    let outcome = publish::ingest_and_index(ctx.store, ctx.index, &job, &mut progress)
        .with_context(|| format!("{source_name}: nothing was published; the previous version is still served"))?;
    bar.finish_and_clear();
    for t in &outcome.tables {
        if let Some(state) = &fetched {
            fetch::remember(ctx.store, &t.dataset, &[&t.table], state)?;
        }
        print_summary(t);
    }
    for s in &outcome.skipped {
        println!("  skipped {}: {}", s.part, s.reason);
    }
    Ok(())
}

fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:<18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Draws progress on a terminal; elsewhere logs one structured line per stage.
fn report_progress(bar: &indicatif::ProgressBar, p: Progress) {
    if bar.is_hidden() {
        match p {
            Progress::Hashing { .. } | Progress::Profiling { .. } => {}
            Progress::Transcoding => tracing::info!(stage = "transcode", "re-encoding to UTF-8"),
            Progress::Reading => tracing::info!(stage = "read", "reading the workbook or document"),
            Progress::Converting { rows } => tracing::info!(stage = "convert", rows, "writing Parquet"),
            Progress::Sorting => tracing::info!(stage = "sort", "sorting by the sort keys"),
            Progress::Publishing => tracing::info!(stage = "publish", "computing statistics and publishing"),
        }
        return;
    }
    match p {
        Progress::Hashing { bytes, total } => {
            bar.set_message("hashing");
            bar.set_length(total);
            bar.set_position(bytes);
        }
        Progress::Transcoding => bar.set_message("re-encoding"),
        Progress::Reading => bar.set_message("reading"),
        Progress::Profiling { bytes, total } => {
            if bar.message() != "inferring types" {
                bar.set_message("inferring types");
                bar.reset_elapsed();
            }
            bar.set_length(total);
            bar.set_position(bytes);
        }
        Progress::Converting { rows } => bar.set_message(format!("writing {rows} rows")),
        Progress::Sorting => bar.set_message("sorting"),
        Progress::Publishing => bar.set_message("publishing"),
    }
}

fn print_summary(t: &opendata_ingest::IngestReport) {
    let v = &t.version;
    if t.unchanged {
        println!("{}/{}: unchanged since version {} (same content), nothing published", t.dataset, t.table, v.version);
        return;
    }
    let secs = t.elapsed.as_secs_f64();
    println!(
        "{}/{} version {}: {} rows, {} columns, {} bytes of Parquet in {:.2}s ({:.0} rows/s)",
        t.dataset,
        t.table,
        v.version,
        v.row_count,
        v.columns.len(),
        v.byte_size,
        secs,
        v.row_count as f64 / secs.max(1e-9)
    );
    let q = &t.quality;
    let d = &q.decisions;
    println!(
        "  read {} rows: kept {}, dropped {}, {} with rejected values",
        q.rows_read, q.rows_kept, q.rows_dropped, q.rows_rejected
    );
    let mut how = format!("  {} ({}), {}", d.encoding, d.encoding_reason, d.layout);
    if let Some(delim) = &d.delimiter {
        how.push_str(&format!(", delimiter {delim:?}"));
    }
    println!("{how}");
    for r in q.rejected.iter().take(5) {
        println!("  rejected row {}, column `{}`: {:?} ({})", r.row, r.column, r.value, r.reason);
    }
    for w in &q.warnings {
        println!("  warning: {w}");
    }
    if let Some(c) = &v.changes {
        println!(
            "  since version {}: +{} / -{} rows; columns added {:?}, removed {:?}, retyped {}",
            c.previous,
            c.rows_added,
            c.rows_removed,
            c.columns_added,
            c.columns_removed,
            c.columns_retyped.len()
        );
    }
}
