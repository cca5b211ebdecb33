use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opendata_datasets::ident::column_names;
use opendata_datasets::{Column, DatasetMeta, NewVersion, SourceInfo, Store, TableVersion};

use crate::sniff::{self, Format};
use crate::{Error, Result, csv, stats};

/// Overrides for what is otherwise detected.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// A WHATWG encoding label such as `windows-1251`.
    pub encoding: Option<String>,
    pub delimiter: Option<u8>,
}

/// One file to ingest as the next version of one table.
#[derive(Debug, Clone)]
pub struct IngestJob {
    pub source: PathBuf,
    /// The name the publisher gave the file (kept in the version's provenance).
    pub source_name: String,
    pub dataset: DatasetMeta,
    pub table: String,
    pub table_title: Option<String>,
    pub options: ReadOptions,
}

/// What an ingest is doing, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Re-encoding a legacy-encoded file to UTF-8.
    Transcoding,
    /// Inferring types: bytes read so far out of the total.
    Profiling { bytes: u64, total: u64 },
    /// Writing Parquet.
    Converting { rows: u64 },
    /// Computing statistics and committing the version.
    Publishing,
}

/// The outcome of a successful ingest.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub dataset: String,
    pub table: String,
    pub version: TableVersion,
    pub elapsed: Duration,
}

/// Ingests `job.source` as a new version of `job.table`.
///
/// On any error nothing is published and no staging file is left behind.
pub fn ingest(store: &Store, job: &IngestJob, progress: &mut dyn FnMut(Progress)) -> Result<IngestReport> {
    let started = Instant::now();
    let total = std::fs::metadata(&job.source).map_err(Error::io(&job.source))?.len();
    let sample = read_sample(&job.source)?;
    let complete = sample.len() as u64 == total;
    let format = sniff::format(&sample);
    if format != Format::Text {
        return Err(Error::UnsupportedFormat(format!(
            "{} content is not supported yet; send delimited text (CSV, TSV)",
            format.name()
        )));
    }

    let encoding = match &job.options.encoding {
        Some(label) => sniff::encoding_for_label(label).ok_or_else(|| Error::UnknownEncoding(label.clone()))?,
        None => sniff::encoding(&sample, complete).encoding,
    };
    let mut transcoded = None;
    let mut utf8_path = job.source.clone();
    if encoding != encoding_rs::UTF_8 {
        progress(Progress::Transcoding);
        let staged = store.stage("csv");
        csv::transcode_to_utf8(&job.source, encoding, staged.path())?;
        utf8_path = staged.path().to_owned();
        transcoded = Some(staged);
    }
    let utf8_sample = if transcoded.is_some() { read_sample(&utf8_path)? } else { sample };
    let delimiter =
        job.options.delimiter.unwrap_or_else(|| sniff::delimiter(&String::from_utf8_lossy(&utf8_sample), complete));

    let utf8_total = std::fs::metadata(&utf8_path).map_err(Error::io(&utf8_path))?.len();
    let profile = csv::profile(&utf8_path, delimiter, csv::CHUNK_BYTES, &mut |bytes| {
        progress(Progress::Profiling { bytes, total: utf8_total })
    })?;
    tracing::debug!(elapsed = ?started.elapsed(), rows = profile.rows, "types inferred");
    progress(Progress::Converting { rows: profile.rows });
    let names = column_names(&profile.labels);
    let parquet = store.stage("parquet");
    let chunk_dir = store.stage("chunks");
    std::fs::create_dir_all(chunk_dir.path()).map_err(Error::io(chunk_dir.path()))?;
    let chunks = csv::split(&utf8_path, &profile, chunk_dir.path());
    drop(transcoded);
    csv::write_parquet(&chunks?, delimiter, &names, &profile, parquet.path())?;
    drop(chunk_dir);
    tracing::debug!(elapsed = ?started.elapsed(), "parquet written");

    progress(Progress::Publishing);
    let kinds: Vec<_> = profile.columns.iter().map(|c| c.kind).collect();
    let (row_count, column_stats) = stats::compute(parquet.path(), &kinds)?;
    let nulls: Vec<u64> = column_stats.iter().map(|s| s.null_count).collect();
    csv::verify_nulls(&names, &profile, &nulls)?;
    tracing::debug!(elapsed = ?started.elapsed(), "statistics computed");
    let columns = names
        .into_iter()
        .zip(profile.labels)
        .zip(kinds)
        .zip(column_stats)
        .map(|(((name, label), kind), stats)| Column { name, label, kind, description: String::new(), stats })
        .collect();
    let byte_size = std::fs::metadata(parquet.path()).map_err(Error::io(parquet.path()))?.len();
    let version = store.publish(
        parquet,
        NewVersion {
            dataset: job.dataset.clone(),
            table: job.table.clone(),
            table_title: job.table_title.clone().unwrap_or_else(|| job.table.clone()),
            row_count,
            byte_size,
            file: String::new(),
            columns,
            source: SourceInfo {
                file_name: job.source_name.clone(),
                format: format.name().to_owned(),
                encoding: encoding.name().to_owned(),
                delimiter: Some(char::from(delimiter).to_string()),
                byte_size: total,
            },
        },
    )?;
    Ok(IngestReport { dataset: job.dataset.id.clone(), table: job.table.clone(), version, elapsed: started.elapsed() })
}

fn read_sample(path: &Path) -> Result<Vec<u8>> {
    let mut sample = Vec::with_capacity(sniff::SAMPLE_BYTES);
    File::open(path)
        .and_then(|f| f.take(sniff::SAMPLE_BYTES as u64).read_to_end(&mut sample))
        .map_err(Error::io(path))?;
    Ok(sample)
}
