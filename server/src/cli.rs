//! The `opendata` command line. Every flag can also come from `OPENDATA_<FLAG>`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use opendata_datasets::{DatasetMeta, Organization, Store};
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
    /// The file to ingest (CSV, TSV or other delimited text, in any common encoding).
    #[arg(env = "OPENDATA_FILE")]
    pub file: PathBuf,
    /// Dataset id (a slug such as `population-by-aimag`); created if new.
    #[arg(long, env = "OPENDATA_DATASET")]
    pub dataset: String,
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

/// Runs the command line.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
    let source = args.file.to_string_lossy().into_owned();
    if source.starts_with("http://") || source.starts_with("https://") {
        bail!("ingesting from a URL is not available in this build; download the file and pass its path");
    }
    if !args.file.is_file() {
        bail!("no such file: {}", args.file.display());
    }
    let store = Store::open(&config.data).with_context(|| format!("cannot open {}", config.data.display()))?;
    let index = SearchIndex::open(&store.index_dir())?;
    let catalog = store.catalog();
    let meta = match catalog.dataset(&args.dataset) {
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
                bail!("`{}` is a new dataset: say which organization publishes it with --org", args.dataset)
            };
            DatasetMeta {
                id: args.dataset.clone(),
                organization: org,
                title: args.title.unwrap_or_else(|| args.dataset.clone()),
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
    let delimiter = match args.delimiter.as_deref() {
        None => None,
        Some("\\t") | Some("tab") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => bail!("--delimiter must be one character, not `{d}`"),
    };
    let job = IngestJob {
        source_name: args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        source: args.file,
        dataset: meta,
        table: args.table,
        table_title: None,
        options: ReadOptions { encoding: args.encoding, delimiter },
    };
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
    let report = publish::ingest_and_index(&store, &index, &job, &mut progress)?;
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
