use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opendata_datasets::ident::{column_names, slug, validate_id};
use opendata_datasets::{
    Column, ColumnDecision, ColumnOverride, ColumnType, DatasetMeta, Decisions, DroppedRow, NewVersion, QualityReport,
    RejectedValue, SourceInfo, StagedFile, Store, TableSettings, TableVersion,
};

use crate::csv::{Dialect, Numbering};
use crate::infer::Inferred;
use crate::layout::HeaderHint;
use crate::sniff::{self, Format};
use crate::{Error, Result, cluster, columnar, csv, diff, excel, json, stats};

/// Overrides for what is otherwise detected.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadOptions {
    /// A WHATWG encoding label such as `windows-1251`.
    pub encoding: Option<String>,
    pub delimiter: Option<u8>,
    pub quote: Option<u8>,
    /// 1-based row of the (first) header row; 0 for a file without one.
    pub header_row: Option<usize>,
    /// How many header rows to merge.
    pub header_rows: Option<usize>,
    /// Only this sheet of a workbook.
    pub sheet: Option<String>,
    /// The member of a JSON document that holds the records (`DataList`, `data.items`).
    pub records: Option<String>,
    /// Repair legacy-font Mongolian letters (Ї ї Є є → Ү ү Ө ө); detected when `None`.
    pub fix_mongolian: Option<bool>,
    /// Fail on any rejected value instead of reporting it.
    pub strict: bool,
    /// Values that mean "no value" in this file (`-999`, `н/б`), beside the usual ones
    /// (empty, `NA`, `..`, `-`): they become null, in every column.
    #[serde(default)]
    pub null_markers: Vec<String>,
}

/// One file to ingest as the next version of one table (or, for a workbook, of one table
/// per sheet).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IngestJob {
    pub source: PathBuf,
    /// The name the publisher gave the file (kept in the version's provenance).
    pub source_name: String,
    pub dataset: DatasetMeta,
    /// The table's name; a workbook with several data sheets names its tables after them.
    pub table: String,
    pub table_title: Option<String>,
    pub options: ReadOptions,
    /// Column corrections by column name. They are stored with the table and applied to
    /// every later ingest too.
    pub columns: BTreeMap<String, ColumnOverride>,
    /// Sort keys (`-name` descending) for the published file; `None` keeps the table's
    /// stored setting, `Some(vec![])` goes back to keys chosen from the data, and
    /// `["none"]` ([`crate::SOURCE_ORDER`]) keeps the source's row order.
    pub sort_by: Option<Vec<String>>,
    pub limits: IngestLimits,
    /// Whether the dataset may be created by this ingest (see [`NewVersion::create_dataset`]);
    /// its metadata is never changed by it.
    pub create_dataset: bool,
    /// Keep the result as each table's draft, for its publisher to review, instead of
    /// publishing it.
    #[serde(default)]
    pub draft: bool,
}

/// What one ingest may read, so that no file, however it is made, takes more than its share
/// of the machine: a workbook declares its extent, and a JSON document its keys, at no cost
/// to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngestLimits {
    /// Cells in the used area (rows × columns) of one sheet.
    pub max_sheet_cells: u64,
    /// Columns of one table.
    pub max_columns: usize,
    /// Bytes of decoded rows sorted in memory before they spill to disk (see
    /// [`crate::cluster::lay_out`]).
    #[serde(default = "default_sort_memory")]
    pub sort_memory: u64,
}

fn default_sort_memory() -> u64 {
    crate::spill::RUN_BYTES as u64
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self { max_sheet_cells: 20_000_000, max_columns: 4_096, sort_memory: default_sort_memory() }
    }
}

/// What an ingest is doing, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Hashing the source to see whether it changed.
    Hashing { bytes: u64, total: u64 },
    /// Re-encoding a legacy-encoded file to UTF-8.
    Transcoding,
    /// Reading a workbook or a JSON document into rows.
    Reading,
    /// Inferring types: bytes read so far out of the total.
    Profiling { bytes: u64, total: u64 },
    /// Writing Parquet.
    Converting { rows: u64 },
    /// Sorting the written table by its sort keys.
    Sorting,
    /// Computing statistics and committing the version.
    Publishing,
}

/// The outcome for one table.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub dataset: String,
    pub table: String,
    /// The new version, or the current one when the source had not changed.
    pub version: TableVersion,
    /// The source was identical to the latest version's: nothing was published.
    pub unchanged: bool,
    /// `version` is a draft, not yet published (see [`IngestJob::draft`]).
    pub draft: bool,
    pub quality: QualityReport,
    pub elapsed: Duration,
}

/// A part of the source that did not become a table, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub part: String,
    pub reason: String,
}

/// Everything one ingest did.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub tables: Vec<IngestReport>,
    pub skipped: Vec<Skipped>,
}

/// One table's worth of source, ready for the common pipeline.
struct Part {
    table: String,
    /// Sheet name or JSON records path.
    label: Option<String>,
    data: PartData,
    decisions: Decisions,
    warnings: Vec<String>,
}

enum PartData {
    /// UTF-8 delimited text, possibly a staged conversion of the source.
    Text {
        path: PathBuf,
        dialect: Dialect,
        hint: HeaderHint,
        _staged: Option<StagedFile>,
    },
    Parquet {
        path: PathBuf,
    },
}

/// Ingests `job.source`: one new version per table whose content changed.
///
/// On any error nothing is published for the failing table and no staging file is left
/// behind; the previous version stays the one served.
pub fn ingest(store: &Store, job: &IngestJob, progress: &mut dyn FnMut(Progress)) -> Result<IngestOutcome> {
    let started = Instant::now();
    validate_id(&job.dataset.id)?;
    validate_id(&job.table)?;
    let total = std::fs::metadata(&job.source).map_err(Error::io(&job.source))?.len();
    // Only a source of the same size as a published version can be unchanged: hash that one
    // first, to skip all the work; hash any other on a second core while the work goes on.
    let same_size = store
        .catalog()
        .dataset(&job.dataset.id)
        .is_ok_and(|d| d.tables.iter().any(|t| t.latest().source.byte_size == total));
    let mut content_hash = if same_size {
        let hash = hash_file(&job.source, total, progress)?;
        tracing::debug!(elapsed = ?started.elapsed(), %hash, "source hashed");
        ContentHash::Known(hash)
    } else {
        let path = job.source.clone();
        ContentHash::Pending(Some(std::thread::spawn(move || hash_file(&path, total, &mut |_| {}))))
    };
    let sample = read_sample(&job.source)?;
    let format = sniff::format(&sample);
    let (parts, skipped) = split_parts(store, job, format, sample, total, progress)?;
    if parts.is_empty() {
        let reasons: Vec<String> = skipped.iter().map(|s| format!("{}: {}", s.part, s.reason)).collect();
        return Err(Error::UnsupportedFormat(format!("no table found in the file ({})", reasons.join("; "))));
    }
    let mut tables = Vec::with_capacity(parts.len());
    for mut part in parts {
        part.warnings.extend(skipped.iter().map(|s| format!("{} not ingested: {}", s.part, s.reason)));
        let table = part.table.clone();
        let report = ingest_part(store, job, part, &mut content_hash, total, started, progress).map_err(|e| {
            if tables.is_empty() { e } else { Error::Partial { table: table.clone(), source: Box::new(e) } }
        })?;
        tables.push(report);
    }
    Ok(IngestOutcome { tables, skipped })
}

/// Turns the source into parts: one per data sheet, one for any other format.
fn split_parts(
    store: &Store,
    job: &IngestJob,
    format: Format,
    sample: Vec<u8>,
    total: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<Part>, Vec<Skipped>)> {
    let opts = &job.options;
    let hint = HeaderHint { row: opts.header_row, rows: opts.header_rows, first_record: false };
    let base = |label: Option<String>| Decisions {
        format: format.name().to_owned(),
        encoding: "utf-8".into(),
        encoding_reason: String::new(),
        part: label,
        ..Decisions::default()
    };
    match format {
        Format::Text => {
            let complete = sample.len() as u64 == total;
            let (encoding, reason) = match &opts.encoding {
                Some(label) => (
                    sniff::encoding_for_label(label).ok_or_else(|| Error::UnknownEncoding(label.clone()))?,
                    "set by the publisher",
                ),
                None => {
                    let d = sniff::encoding(&sample, complete);
                    (d.encoding, d.reason)
                }
            };
            let mut decisions = base(None);
            decisions.encoding = encoding.name().to_lowercase();
            decisions.encoding_reason = reason.to_owned();
            let mut warnings = Vec::new();
            let fix_mongolian = opts.fix_mongolian.unwrap_or_else(|| {
                encoding != encoding_rs::UTF_8
                    && encoding.is_single_byte()
                    && sniff::looks_like_legacy_mongolian(&encoding.decode_without_bom_handling(&sample).0)
            });
            let mut staged = None;
            let mut path = job.source.clone();
            if encoding != encoding_rs::UTF_8 || fix_mongolian {
                progress(Progress::Transcoding);
                let file = store.stage("csv");
                csv::transcode_to_utf8(&job.source, encoding, fix_mongolian, file.path())?;
                path = file.path().to_owned();
                staged = Some(file);
                if fix_mongolian {
                    decisions.encoding_reason.push_str("; legacy-font letters Ї ї Є є read as Ү ү Ө ө");
                }
            } else if sample.contains(&0xEF) && String::from_utf8_lossy(&sample).contains('\u{FFFD}') {
                warnings.push(
                    "the file contains U+FFFD replacement characters: letters were lost before it was sent".into(),
                );
            }
            let utf8_sample = if staged.is_some() { read_sample(&path)? } else { sample };
            let text = String::from_utf8_lossy(&utf8_sample);
            let delimiter = opts.delimiter.unwrap_or_else(|| sniff::delimiter(&text, complete));
            let quote = opts.quote.unwrap_or_else(|| sniff::quote(&text, delimiter));
            decisions.delimiter = Some(char::from(delimiter).to_string());
            decisions.quote = Some(char::from(quote).to_string());
            let dialect = Dialect { delimiter, quote, numbering: Numbering::Lines };
            let data = PartData::Text { path, dialect, hint, _staged: staged };
            Ok((vec![Part { table: job.table.clone(), label: None, data, decisions, warnings }], Vec::new()))
        }
        Format::Zip | Format::Ole2 => {
            progress(Progress::Reading);
            // In the order the sheets were converted: two sheets may have the same name.
            let mut staged: Vec<StagedFile> = Vec::new();
            let sheets = excel::convert(&job.source, opts.sheet.as_deref(), &job.limits, &mut |_| {
                let file = store.stage("csv");
                let path = file.path().to_owned();
                staged.push(file);
                path
            })?;
            let mut staged = staged.into_iter();
            let data_sheets = sheets.iter().filter(|s| s.skipped.is_none()).count();
            let mut names = std::collections::HashSet::new();
            let mut parts = Vec::new();
            let mut skipped = Vec::new();
            for sheet in sheets {
                if let Some(reason) = sheet.skipped {
                    skipped.push(Skipped { part: format!("sheet `{}`", sheet.name), reason });
                    continue;
                }
                let mut table = if data_sheets == 1 { job.table.clone() } else { slug(&sheet.name) };
                let mut n = 2;
                while !names.insert(table.clone()) {
                    table = format!("{}-{n}", slug(&sheet.name));
                    n += 1;
                }
                let Some(file) = staged.next() else {
                    return Err(Error::Malformed { line: 0, message: "a converted sheet went missing".into() });
                };
                let mut warnings = Vec::new();
                if sheet.errors > 0 {
                    warnings.push(format!(
                        "{} cell(s) hold a spreadsheet error (#N/A, #DIV/0!…); they are empty",
                        sheet.errors
                    ));
                }
                let dialect = Dialect { delimiter: b',', quote: b'"', numbering: Numbering::Records(sheet.first_row) };
                let data = PartData::Text { path: file.path().to_owned(), dialect, hint, _staged: Some(file) };
                let label = Some(format!("sheet `{}`", sheet.name));
                let mut decisions = Decisions { sheet: Some(sheet.name.clone()), ..base(label.clone()) };
                decisions.encoding_reason = "a workbook stores text as Unicode".into();
                parts.push(Part { table, label, data, decisions, warnings });
            }
            Ok((parts, skipped))
        }
        Format::Json => {
            progress(Progress::Reading);
            let file = store.stage("csv");
            let found = json::convert(&job.source, opts.records.as_deref(), job.limits.max_columns, file.path())?;
            let label =
                Some(if found.geojson { "GeoJSON features".to_owned() } else { format!("records at {}", found.part) });
            let dialect = Dialect { delimiter: b',', quote: b'"', numbering: Numbering::Records(0) };
            // The keys are the header: nothing to detect.
            let hint = HeaderHint { first_record: true, ..HeaderHint::default() };
            let data = PartData::Text { path: file.path().to_owned(), dialect, hint, _staged: Some(file) };
            let mut decisions = base(label.clone());
            decisions.format = if found.geojson { "geojson".into() } else { "json".into() };
            decisions.encoding_reason = "JSON is UTF-8".into();
            Ok((vec![Part { table: job.table.clone(), label, data, decisions, warnings: Vec::new() }], Vec::new()))
        }
        Format::Parquet => {
            let data = PartData::Parquet { path: job.source.clone() };
            let mut decisions = base(None);
            decisions.encoding_reason = "Parquet stores text as UTF-8".into();
            Ok((
                vec![Part { table: job.table.clone(), label: None, data, decisions, warnings: Vec::new() }],
                Vec::new(),
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ingest_part(
    store: &Store,
    job: &IngestJob,
    part: Part,
    content_hash: &mut ContentHash,
    total: u64,
    started: Instant,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestReport> {
    let catalog = store.catalog();
    let previous =
        catalog.dataset(&job.dataset.id).ok().and_then(|d| d.tables.iter().find(|t| t.name == part.table).cloned());
    let mut settings = if previous.is_some() {
        catalog.table_settings(&job.dataset.id, &part.table)?
    } else {
        TableSettings::default()
    };
    let settings_before = settings.clone();
    if let Some(keys) = &job.sort_by {
        settings.sort_by.clone_from(keys);
    }
    for (name, o) in &job.columns {
        let entry = settings.columns.entry(name.clone()).or_default();
        if o.kind.is_some() {
            entry.kind = o.kind;
        }
        if o.label.is_some() {
            entry.label.clone_from(&o.label);
        }
        if o.description.is_some() {
            entry.description.clone_from(&o.description);
        }
        if o.role.is_some() {
            entry.role = o.role;
        }
    }
    if let Some(prev) = &previous {
        let latest = prev.latest();
        let same = matches!(content_hash, ContentHash::Known(h) if *h == latest.content_hash);
        if same && settings == settings_before {
            let quality = catalog.report(&job.dataset.id, &part.table, latest.version)?;
            return Ok(IngestReport {
                dataset: job.dataset.id.clone(),
                table: part.table,
                version: latest.clone(),
                unchanged: true,
                draft: false,
                quality,
                elapsed: started.elapsed(),
            });
        }
    }
    let forced = |name: &str| settings.columns.get(name).and_then(|o| o.kind);
    let markers: std::sync::Arc<[String]> = job.options.null_markers.iter().map(|m| m.trim().to_owned()).collect();
    let parquet = store.stage("parquet");
    let mut decisions = part.decisions;
    let mut quality = QualityReport { warnings: part.warnings, ..QualityReport::default() };
    let (names, labels, inferred, keep): (Vec<String>, Vec<String>, Vec<Inferred>, Vec<bool>) = match &part.data {
        PartData::Text { path, dialect, hint, .. } => {
            let size = std::fs::metadata(path).map_err(Error::io(path))?.len();
            let profile = csv::profile(path, dialect, *hint, &forced, &markers, csv::CHUNK_BYTES, &mut |bytes| {
                progress(Progress::Profiling { bytes, total: size })
            })?;
            tracing::debug!(elapsed = ?started.elapsed(), rows = profile.rows, "types inferred");
            progress(Progress::Converting { rows: profile.rows });
            let names = column_names(&profile.labels);
            // Columns nobody filled and nobody named, at the right edge (a trailing delimiter).
            let last_used = profile
                .columns
                .iter()
                .zip(&profile.labels)
                .rposition(|(c, l)| c.reason != "no values" || !l.trim().is_empty())
                .map_or(0, |i| i + 1);
            let keep: Vec<bool> = (0..names.len()).map(|i| i < last_used).collect();
            decisions.columns_dropped =
                names.iter().zip(&keep).filter(|(_, k)| !**k).map(|(n, _)| format!("{n}: empty, no header")).collect();
            let chunk_dir = store.stage("chunks");
            std::fs::create_dir_all(chunk_dir.path()).map_err(Error::io(chunk_dir.path()))?;
            let chunks = csv::split(path, &profile, dialect.quote, chunk_dir.path())?;
            csv::write_parquet(&chunks, dialect, &names, &profile.columns, &keep, parquet.path())?;
            drop(chunk_dir);
            decisions.layout = profile.layout.reason.clone();
            let header = profile.layout.data_start() as u64;
            quality.rows_read = profile.records - header;
            quality.rows_kept = profile.rows;
            quality.rows_dropped = profile.dropped_total;
            let mut dropped: Vec<DroppedRow> = profile
                .dropped
                .iter()
                .map(|d| DroppedRow { row: d.row, reason: d.reason.to_owned(), text: d.text.clone() })
                .collect();
            dropped.sort_by_key(|d| d.row);
            quality.dropped = dropped;
            (names, profile.labels, profile.columns, keep)
        }
        PartData::Parquet { path } => {
            progress(Progress::Converting { rows: 0 });
            let n = columnar::normalize(path, &forced, &markers, parquet.path())?;
            decisions.layout = "columns as stored in the source Parquet".into();
            quality.rows_read = n.rows;
            quality.rows_kept = n.rows;
            let keep = vec![true; n.names.len()];
            (n.names, n.labels, n.columns, keep)
        }
    };
    tracing::debug!(elapsed = ?started.elapsed(), "parquet written");
    let kept_names: Vec<String> = (0..names.len()).filter(|&i| keep[i]).map(|i| names[i].clone()).collect();

    progress(Progress::Publishing);
    let kept: Vec<usize> = (0..names.len()).filter(|&i| keep[i]).collect();
    let kinds: Vec<ColumnType> = kept.iter().map(|&i| inferred[i].kind).collect();
    let (row_count, column_stats) = stats::compute(parquet.path(), &kinds)?;
    if row_count == 0 {
        return Err(Error::NoRows);
    }
    let nulls: Vec<u64> = column_stats.iter().map(|s| s.null_count).collect();
    let kept_inferred: Vec<&Inferred> = kept.iter().map(|&i| &inferred[i]).collect();
    if matches!(part.data, PartData::Text { .. }) {
        csv::verify_nulls(&kept_names, &kept_inferred, &nulls)?;
    }
    // The layout is chosen from the statistics, which describe the rows whatever their order.
    let facts: Vec<cluster::ColumnFacts<'_>> = kept_names
        .iter()
        .zip(&kinds)
        .zip(&column_stats)
        .map(|((name, kind), stats)| cluster::ColumnFacts { name, kind: *kind, stats })
        .collect();
    let plan = cluster::plan(&settings.sort_by, &facts, row_count)?;
    decisions.sorted_by = plan.written_keys();
    decisions.clustering.clone_from(&plan.reason);
    decisions.bloom_filters.clone_from(&plan.bloom);
    let parquet = if plan.rewrite {
        progress(Progress::Sorting);
        let laid_out = store.stage("parquet");
        let scratch = store.stage("runs");
        std::fs::create_dir_all(scratch.path()).map_err(Error::io(scratch.path()))?;
        let memory = usize::try_from(job.limits.sort_memory).unwrap_or(usize::MAX);
        cluster::lay_out(parquet.path(), &plan, laid_out.path(), scratch.path(), memory)?;
        tracing::debug!(elapsed = ?started.elapsed(), keys = ?decisions.sorted_by, "laid out");
        laid_out
    } else {
        parquet
    };
    let mut rejected_rows = std::collections::BTreeSet::new();
    // Rejections past a column's listed ones each count as a row of their own.
    let mut unlisted = 0;
    for (name, inf) in kept_names.iter().zip(&kept_inferred) {
        let more = inf.rejected_count.saturating_sub(inf.rejected.len() as u64);
        if more > 0 {
            unlisted += more;
            quality.warnings.push(format!(
                "column `{name}`: {} values were rejected; the first {} are listed",
                inf.rejected_count,
                inf.rejected.len()
            ));
        }
        for e in &inf.rejected {
            rejected_rows.insert(e.row);
            quality.rejected.push(RejectedValue {
                row: e.row,
                column: name.clone(),
                value: e.value.clone(),
                reason: match inf.kind {
                    ColumnType::Integer => "not an integer".to_owned(),
                    kind => format!("not a {kind}"),
                },
            });
        }
    }
    quality.rows_rejected = rejected_rows.len() as u64 + unlisted;
    if job.options.strict && !quality.rejected.is_empty() {
        let first = &quality.rejected[0];
        return Err(Error::Rejected {
            row: first.row,
            column: first.column.clone(),
            value: first.value.clone(),
            count: kept_inferred.iter().map(|i| i.rejected_count).sum(),
        });
    }
    let mut columns: Vec<Column> = kept
        .iter()
        .zip(column_stats)
        .map(|(&i, stats)| {
            let o = settings.columns.get(&names[i]);
            let mut description = o.and_then(|o| o.description.clone()).unwrap_or_default();
            if description.is_empty() {
                description = match inferred[i].period {
                    Some(crate::infer::Period::Month) => "Month, stored as its first day.".into(),
                    Some(crate::infer::Period::Quarter) => "Quarter, stored as its first day.".into(),
                    None if inferred[i].percent => "Percent; the % sign is dropped, values as written.".into(),
                    None => String::new(),
                };
            }
            Column {
                name: names[i].clone(),
                label: o.and_then(|o| o.label.clone()).unwrap_or_else(|| labels[i].clone()),
                kind: inferred[i].kind,
                description,
                stats,
                role: o.and_then(|o| o.role),
            }
        })
        .collect();
    decisions.geography = geography(&mut columns);
    decisions.columns = kept
        .iter()
        .zip(&columns)
        .map(|(&i, c)| ColumnDecision {
            name: c.name.clone(),
            label: c.label.clone(),
            kind: c.kind,
            reason: inferred[i].reason.clone(),
        })
        .collect();
    quality.decisions = decisions;
    let changes = match &previous {
        Some(prev) => {
            let latest = prev.latest();
            Some(diff::changes(latest, &store.version_path(latest)?, &columns, parquet.path())?)
        }
        None => None,
    };
    tracing::debug!(elapsed = ?started.elapsed(), "statistics computed");
    let byte_size = std::fs::metadata(parquet.path()).map_err(Error::io(parquet.path()))?.len();
    let delimiter = quality.decisions.delimiter.clone();
    let content_hash = content_hash.get()?;
    let extension = std::path::Path::new(&job.source_name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    let original = store.keep_original(&job.source, &content_hash, extension)?;
    let new = NewVersion {
        dataset: job.dataset.clone(),
        create_dataset: job.create_dataset,
        table: part.table.clone(),
        table_title: match (&job.table_title, &part.label) {
            (Some(t), None) => t.clone(),
            (Some(t), Some(l)) => format!("{t} ({l})"),
            (None, Some(l)) => l.trim_start_matches("sheet ").trim_matches('`').to_owned(),
            (None, None) => part.table.clone(),
        },
        row_count,
        byte_size,
        file: String::new(),
        columns,
        source: SourceInfo {
            file_name: job.source_name.clone(),
            format: quality.decisions.format.clone(),
            encoding: quality.decisions.encoding.clone(),
            delimiter,
            byte_size: total,
            original: Some(original),
        },
        content_hash,
        changes,
        report: quality.clone(),
    };
    let version = if job.draft {
        let draft = store.keep_draft(parquet, new)?;
        TableVersion {
            version: draft.number,
            created_at: draft.created_at,
            row_count: draft.new.row_count,
            byte_size: draft.new.byte_size,
            file: draft.new.file,
            columns: draft.new.columns,
            source: draft.new.source,
            content_hash: draft.new.content_hash,
            changes: draft.new.changes,
        }
    } else {
        store.publish(parquet, new)?
    };
    // A draft leaves the table as readers see it, settings included.
    if !job.draft && (settings != settings_before || settings != TableSettings::default()) {
        catalog.set_table_settings(&job.dataset.id, &part.table, &settings)?;
    }
    Ok(IngestReport {
        dataset: job.dataset.id.clone(),
        table: part.table,
        version,
        unchanged: false,
        draft: job.draft,
        quality,
        elapsed: started.elapsed(),
    })
}

/// The source's BLAKE3, computed before the work or alongside it.
#[derive(Debug)]
enum ContentHash {
    Known(String),
    Pending(Option<std::thread::JoinHandle<Result<String>>>),
}

impl ContentHash {
    fn get(&mut self) -> Result<String> {
        match self {
            ContentHash::Known(hash) => Ok(hash.clone()),
            ContentHash::Pending(handle) => {
                // Only a bug could make the hashing thread panic; report it as a failed read.
                let failed =
                    || Err(Error::Io { path: "source".into(), source: std::io::Error::other("hashing failed") });
                let hash = handle.take().and_then(|h| h.join().ok()).unwrap_or_else(failed)?;
                *self = ContentHash::Known(hash.clone());
                Ok(hash)
            }
        }
    }
}

/// BLAKE3 of the file, reported as progress: cheap next to parsing, and it lets an unchanged
/// source be skipped before any of that work.
fn hash_file(path: &Path, total: u64, progress: &mut dyn FnMut(Progress)) -> Result<String> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        if done % (64 << 20) < (1 << 20) {
            progress(Progress::Hashing { bytes: done, total });
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn read_sample(path: &Path) -> Result<Vec<u8>> {
    let mut sample = Vec::with_capacity(sniff::SAMPLE_BYTES);
    File::open(path)
        .and_then(|f| f.take(sniff::SAMPLE_BYTES as u64).read_to_end(&mut sample))
        .map_err(Error::io(path))?;
    Ok(sample)
}

/// Gives the columns the map roles their names, types and statistics suggest, unless the
/// publisher set some; says which columns place the rows, and why.
fn geography(columns: &mut [Column]) -> String {
    use opendata_datasets::geo::{self, ColumnRole, Geography};
    let chosen = columns.iter().any(|c| c.role.is_some_and(|r| r != ColumnRole::None));
    if !chosen {
        for (i, role) in geo::detect(columns) {
            if columns[i].role.is_none() {
                columns[i].role = Some(role);
            }
        }
    }
    let by = if chosen { "as the publisher set" } else { "by name, type and range" };
    match Geography::of(columns) {
        Some(Geography::Points { lon, lat }) => format!("points: longitude `{lon}`, latitude `{lat}` ({by})"),
        Some(Geography::Shapes { geometry, .. }) => format!("GeoJSON geometries in `{geometry}` ({by})"),
        None => String::new(),
    }
}
