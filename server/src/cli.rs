//! The `opendata` command line. Every flag can also come from `OPENDATA_<FLAG>`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use opendata_datasets::{DatasetMeta, Organization, Store};
use opendata_ingest::manifest::{Manifest, Source, parse_delimiter};
use opendata_ingest::{IngestJob, Progress, ReadOptions};
use search_index::SearchIndex;
use serde::Serialize;

use crate::{AppState, config::Config, demo, publish, serve};

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
    Ingest(IngestArgs),
    /// Rebuild the search index from the catalog.
    Reindex(DataArg),
}

/// The data folder flag, shared by every command.
#[derive(Debug, Args, Serialize)]
pub struct DataArg {
    /// Data folder [default: ./data].
    #[arg(long, env = "OPENDATA_DATA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
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
    /// The file or http(s) URL to ingest (CSV, TSV or other delimited text, any common encoding).
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
            init_logging("warn");
            ingest_cmd(config, args)
        }
        Command::Reindex(args) => {
            let config = load(cli.config.as_ref(), &args)?;
            init_logging("warn");
            let store = Store::open(&config.data)?;
            let index = SearchIndex::open(&store.index_dir())?;
            let n = publish::reindex(&store, &index)?;
            println!("indexed {n} datasets");
            Ok(())
        }
    }
}

fn load(file: Option<&PathBuf>, overrides: &impl Serialize) -> anyhow::Result<Config> {
    Config::load(file.map(|p| p.as_path()), overrides).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn serve_cmd(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
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
        serve::run(listener, state, serve::shutdown_signal()).await?;
        Ok(())
    })
}

fn ingest_cmd(config: Config, args: IngestArgs) -> anyhow::Result<()> {
    let store = Store::open(&config.data).with_context(|| format!("cannot open {}", config.data.display()))?;
    let index = SearchIndex::open(&store.index_dir())?;
    if let Some(manifest) = &args.manifest {
        return ingest_manifest(&store, &index, manifest);
    }
    let (Some(file), Some(dataset)) = (args.file, args.dataset) else {
        bail!("give a FILE and --dataset, or --manifest");
    };
    let catalog = store.catalog();
    let meta = match catalog.dataset(&dataset) {
        Ok(existing) => {
            let mut meta = existing.meta;
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
    let options = ReadOptions { encoding: args.encoding, delimiter: parse_delimiter(args.delimiter.as_deref())? };
    // Relative paths are relative to where the command runs.
    let source = Source::parse(&file, std::path::Path::new(""));
    run_job(&store, &index, source, meta, args.table, None, options)
}

fn ingest_manifest(store: &Store, index: &SearchIndex, path: &std::path::Path) -> anyhow::Result<()> {
    let manifest = Manifest::load(path)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    for org in &manifest.organizations {
        store.catalog().upsert_organization(&org.organization())?;
    }
    for dataset in &manifest.datasets {
        for table in &dataset.tables {
            run_job(
                store,
                index,
                table.source(dir),
                dataset.meta(),
                table.name.clone(),
                table.title.clone(),
                table.read_options()?,
            )
            .with_context(|| format!("{}/{}", dataset.id, table.name))?;
        }
    }
    Ok(())
}

/// Fetches a URL into the staging area, so a download cut short never reaches ingest.
fn download(store: &Store, url: &str) -> anyhow::Result<opendata_datasets::StagedFile> {
    let staged = store.stage("download");
    let response = ureq::get(url).call().with_context(|| format!("cannot fetch {url}"))?;
    let mut reader = response.into_body().into_reader();
    let mut file = std::fs::File::create(staged.path())?;
    std::io::copy(&mut reader, &mut file).with_context(|| format!("download of {url} failed"))?;
    Ok(staged)
}

fn run_job(
    store: &Store,
    index: &SearchIndex,
    source: Source,
    meta: DatasetMeta,
    table: String,
    table_title: Option<String>,
    options: ReadOptions,
) -> anyhow::Result<()> {
    let (path, source_name, _download) = match source {
        Source::Path(path) => {
            if !path.is_file() {
                bail!("no such file: {}", path.display());
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (path, name, None)
        }
        Source::Url(url) => {
            let staged = download(store, &url)?;
            let name = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned();
            (staged.path().to_owned(), name, Some(staged))
        }
    };
    let job = IngestJob { source: path, source_name, dataset: meta, table, table_title, options };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |p: Progress| {
        if !terminal {
            return;
        }
        let line = match p {
            Progress::Transcoding => "re-encoding to UTF-8".to_owned(),
            Progress::Profiling { bytes, total } => {
                format!("inferring types {:>3}%", (bytes * 100).checked_div(total).unwrap_or(100))
            }
            Progress::Converting { rows } => format!("writing Parquet ({rows} rows)"),
            Progress::Publishing => "publishing".to_owned(),
        };
        eprint!("\r\x1b[2K{line}");
        let _ = std::io::stderr().flush();
    };
    let report = publish::ingest_and_index(store, index, &job, &mut progress)?;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let v = &report.version;
    println!(
        "{}/{} version {}: {} rows, {} columns, {} bytes of Parquet in {:.2}s",
        report.dataset,
        report.table,
        v.version,
        v.row_count,
        v.columns.len(),
        v.byte_size,
        report.elapsed.as_secs_f64()
    );
    Ok(())
}
