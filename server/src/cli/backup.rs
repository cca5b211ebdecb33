//! `opendata backup DIR` and `opendata restore DIR`: a consistent copy of a data folder taken
//! while the portal serves, and a data folder made from one.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use opendata_datasets::Store;

use super::{DataArg, load};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// An empty (or new) folder for the backup.
    pub to: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder written by `opendata backup`.
    pub from: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
}

pub fn backup(config: Option<&PathBuf>, args: BackupArgs) -> anyhow::Result<()> {
    let config = load(config, &args.data)?;
    let store = config.open_store()?;
    let files = store.backup(&args.to).with_context(|| format!("cannot back up to {}", args.to.display()))?;
    println!("backed up the catalog and {files} files (versions, originals, drafts) to {}", args.to.display());
    Ok(())
}

pub fn restore(config: Option<&PathBuf>, args: RestoreArgs) -> anyhow::Result<()> {
    let config = load(config, &args.data)?;
    let store = Store::restore(&args.from, &config.data)
        .with_context(|| format!("cannot restore {} into {}", args.from.display(), config.data.display()))?;
    let index = crate::publish::open_index(&store, &config.index_dir())?;
    let n = crate::publish::reindex(&store, &index)?;
    println!("restored {n} datasets into {}", config.data.display());
    Ok(())
}
