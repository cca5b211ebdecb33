//! Delimited text: one streaming pass to infer types, one streaming conversion to Parquet.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use opendata_datasets::ColumnType;
use polars::prelude::*;

use opendata_datasets::ident::column_names;

use crate::infer::{ColumnGuess, Inferred, NumberStyle, Period};
use crate::layout::{self, Fields, HeaderHint, Layout, OwnedFields, RowKind, SAMPLE_RECORDS};
use crate::{Error, Result};

/// Rows per Parquet row group: small enough that min/max statistics prune selective
/// filters, large enough that a scan is not dominated by per-group overhead.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How every Parquet file of the portal is written: zstd, min/max/null statistics per
/// column, row groups of [`ROW_GROUP_ROWS`]. Exports use the same settings.
///
/// Pages keep polars' default size: with small pages (16 KiB) a point filter decoded less
/// (5.4 ms instead of 6.6 ms over 10M sorted rows), but polars 0.55 then wrote row-group
/// null counts that disagree with the data, which the ingest's null check rightly refuses.
pub fn parquet_options() -> ParquetWriteOptions {
    ParquetWriteOptions {
        compression: ParquetCompression::Zstd(None),
        statistics: StatisticsOptions {
            min_value: true,
            max_value: true,
            null_count: true,
            distinct_count: false,
            ..Default::default()
        },
        row_group_size: Some(ROW_GROUP_ROWS),
        data_page_size: None,
        key_value_metadata: None,
        arrow_schema: None,
        compat_level: None,
    }
}

/// Bytes of CSV per conversion chunk; see [`split`].
pub const CHUNK_BYTES: u64 = 64 << 20;

/// How to read a UTF-8 delimited file.
#[derive(Debug, Clone)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    /// How the report numbers rows: by line for text files, by sheet row for spreadsheets.
    pub numbering: Numbering,
}

/// Row numbers as the publisher sees them in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// The line a record starts on (1-based), as an editor shows it.
    Lines,
    /// The record's index plus this offset: spreadsheet rows, JSON records.
    Records(u64),
}

/// A row that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRow {
    pub row: u64,
    pub reason: &'static str,
    /// The row's text, shortened, for notes and rejected rows.
    pub text: String,
}

/// Rows of each kind listed in full in the report; beyond this they are only counted.
const MAX_LISTED: usize = 100;

/// What the inference pass learned about a UTF-8 CSV file.
#[derive(Debug)]
pub struct Profile {
    pub layout: Layout,
    /// One per column (the header's width, or more where rows are longer).
    pub labels: Vec<String>,
    pub columns: Vec<Inferred>,
    /// Records read, header and dropped rows included.
    pub records: u64,
    /// Data rows kept.
    pub rows: u64,
    /// Dropped rows: blank, HXL tags, repeated headers, footer notes, undecodable.
    pub dropped: Vec<DroppedRow>,
    pub dropped_total: u64,
    /// The data records as byte ranges of the file, grouped into chunks about
    /// [`CHUNK_BYTES`] long. Only a full parse can find record boundaries when quoted fields
    /// hold newlines; dropped rows leave gaps.
    pub chunks: Vec<Vec<(u64, u64)>>,
    /// Per chunk: no blank line between its records, so its bytes can be copied as they are.
    pub plain: Vec<bool>,
}

struct Ranges {
    chunks: Vec<Vec<(u64, u64)>>,
    /// Per chunk: no blank line between its records.
    plain: Vec<bool>,
    chunk_bytes: u64,
    limit: u64,
    /// Index of the last record added, to merge consecutive records into one range.
    last: Option<u64>,
}

impl Ranges {
    fn keep(&mut self, index: u64, start: u64, end: u64, plain: bool) {
        if !plain {
            *self.plain.last_mut().expect("one flag per chunk") = false;
        }
        let chunk = self.chunks.last_mut().expect("there is always a current chunk");
        match chunk.last_mut() {
            Some(range) if self.last == Some(index.wrapping_sub(1)) => range.1 = end,
            _ => chunk.push((start, end)),
        }
        self.last = Some(index);
        self.chunk_bytes += end - start;
        if self.chunk_bytes >= self.limit {
            self.chunks.push(Vec::new());
            self.plain.push(true);
            self.chunk_bytes = 0;
            self.last = None;
        }
    }
}

/// A record held back: a note that is data if more data follows, a footer if not.
struct Pending {
    index: u64,
    /// The provisional id (byte offset) and the row number as the report shows it.
    row: u64,
    number: u64,
    range: (u64, u64),
    plain: bool,
    fields: OwnedFields,
}

/// Reads every record once: finds the layout in the first records, then narrows each
/// column's type over every data row. `forced` gives types a publisher fixed, by column
/// name. `progress` gets bytes read.
pub fn profile(
    path: &Path,
    dialect: &Dialect,
    hint: HeaderHint,
    forced: &dyn Fn(&str) -> Option<ColumnType>,
    markers: &Arc<[String]>,
    chunk_bytes: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Profile> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(dialect.delimiter)
        .quote(dialect.quote)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let lookup = File::open(path).map_err(Error::io(path))?;
    // A record's position is where the previous one ended, before the line breaks and blank
    // lines in between: the line number needs those counted. Only reported rows need it.
    let row_number = |pos: &::csv::Position| -> u64 {
        match dialect.numbering {
            Numbering::Lines => pos.line() + newlines_at(&lookup, pos.byte()),
            Numbering::Records(offset) => pos.record() + offset,
        }
    };

    // The sample the layout is detected on; its records are replayed below.
    let mut sample: Vec<(::csv::ByteRecord, ::csv::Position)> = Vec::new();
    let mut record = ::csv::ByteRecord::new();
    while sample.len() < SAMPLE_RECORDS && reader.read_byte_record(&mut record).map_err(malformed)? {
        sample.push((record.clone(), reader.position().clone()));
    }
    let grid: Vec<Vec<String>> =
        sample.iter().map(|(r, _)| r.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()).collect();
    let numbers: Vec<u64> = sample.iter().map(|(r, _)| r.position().map_or(0, &row_number)).collect();
    let layout = layout::detect(&grid, &numbers, hint);
    if layout.labels.is_empty() {
        return Err(Error::Empty);
    }
    let mut labels = layout.labels.clone();
    let names = column_names(&labels);
    let mut guesses: Vec<ColumnGuess> = names
        .iter()
        .map(|n| forced(n).map_or_else(ColumnGuess::default, ColumnGuess::forced).with_markers(markers))
        .collect();

    let mut state = State {
        ranges: Ranges { chunks: vec![Vec::new()], plain: vec![true], chunk_bytes: 0, limit: chunk_bytes, last: None },
        pending: Vec::new(),
        numbers: std::collections::HashMap::new(),
        dropped: Vec::new(),
        dropped_total: 0,
        rows: 0,
        invalid: 0,
    };
    let width = labels.len();
    let data_start = layout.data_start();
    let mut records = 0u64;
    let handle = |record: &::csv::ByteRecord,
                  after: &::csv::Position,
                  index: u64,
                  state: &mut State,
                  guesses: &mut Vec<ColumnGuess>,
                  labels: &mut Vec<String>,
                  ends: &mut Vec<usize>|
     -> Result<()> {
        let pos = record.position().expect("records read from a reader have a position");
        // Rows are identified by their byte offset until the report needs their number.
        let row = pos.byte();
        let range = (pos.byte(), after.byte());
        // The lines a record spans beyond its own (its line break and any inside quoted
        // fields) are blank lines before it, which the careful copy in `split` leaves out.
        let own = 1 + memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        let plain = after.line().saturating_sub(pos.line()) <= own;
        // SIMD validation of the whole record is cheaper than per-field checks, and it
        // catches a legacy-encoded byte that the sample-based detector missed.
        let Ok(text) = std::str::from_utf8(record.as_slice()) else {
            state.invalid += 1;
            let lossy = String::from_utf8_lossy(record.as_slice()).into_owned();
            state.drop_row(row_number(pos), "not valid UTF-8 (the rest of the file is)", lossy);
            return Ok(());
        };
        ends.clear();
        ends.extend((0..record.len()).map(|i| record.range(i).map_or(0, |r| r.end)));
        let fields = Fields::new(text, ends);
        match layout::row_kind(fields, labels, width) {
            RowKind::Blank => state.drop_row(row_number(pos), "blank", String::new()),
            RowKind::Hxl => {
                state.drop_row(row_number(pos), "HXL hashtag row", fields.iter().collect::<Vec<_>>().join(","))
            }
            RowKind::RepeatedHeader => state.drop_row(row_number(pos), "the header repeated", String::new()),
            RowKind::Note => state.pending.push(Pending {
                index,
                row,
                number: row_number(pos),
                range,
                plain,
                fields: OwnedFields::from_fields(fields),
            }),
            RowKind::Data => {
                for p in std::mem::take(&mut state.pending) {
                    if observe(guesses, labels, p.fields.fields(), p.row, state.rows) {
                        state.numbers.insert(p.row, p.number);
                    }
                    state.ranges.keep(p.index, p.range.0, p.range.1, p.plain);
                    state.rows += 1;
                }
                if observe(guesses, labels, fields, row, state.rows) {
                    state.numbers.insert(row, row_number(pos));
                }
                state.ranges.keep(index, range.0, range.1, plain);
                state.rows += 1;
            }
        }
        Ok(())
    };

    let mut next_report = 0u64;
    // Field boundaries of the current record, reused from row to row.
    let mut ends: Vec<usize> = Vec::new();
    for (i, (record, after)) in sample.iter().enumerate() {
        records += 1;
        if i >= data_start {
            handle(record, after, i as u64, &mut state, &mut guesses, &mut labels, &mut ends)?;
        }
    }
    // One thread splits records while this one classifies them: the two halves of the
    // pass take about as long as each other.
    let end = std::thread::scope(|scope| -> Result<u64> {
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Batch>>(2);
        let (free_tx, free_rx) = mpsc::channel::<Batch>();
        let splitter = scope.spawn(move || read_batches(reader, &full_tx, &free_rx));
        for batch in full_rx {
            let batch = batch?;
            for (record, after) in batch.filled() {
                let index = records;
                records += 1;
                handle(record, after, index, &mut state, &mut guesses, &mut labels, &mut ends)?;
                if records & 0xFFFF == 0 && after.byte() >= next_report {
                    progress(after.byte());
                    next_report = after.byte() + (16 << 20);
                }
            }
            // Its records' buffers are reused for the batches to come.
            let _ = free_tx.send(batch);
        }
        Ok(splitter.join().unwrap_or(0))
    })?;
    progress(end);
    for p in std::mem::take(&mut state.pending) {
        let text = p.fields.fields().iter().collect::<Vec<_>>().join(" ");
        state.drop_row(p.number, "note below the table", text.trim().to_owned());
    }
    for g in &mut guesses {
        g.renumber(&|id| state.numbers.get(&id).copied().unwrap_or(id));
    }
    if state.invalid > 0 && state.invalid * 1_000 > state.rows.max(1) {
        return Err(Error::Malformed {
            line: state.dropped.iter().find(|d| d.reason.starts_with("not valid")).map_or(0, |d| d.row),
            message: format!(
                "{} rows are not valid UTF-8: the file is in another encoding; set it explicitly",
                state.invalid
            ),
        });
    }
    let columns = guesses.iter().zip(&labels).map(|(g, l)| g.finish_labelled(l)).collect();
    let (mut chunks, mut plain) = (Vec::new(), Vec::new());
    for (c, p) in state.ranges.chunks.into_iter().zip(state.ranges.plain) {
        if !c.is_empty() {
            chunks.push(c);
            plain.push(p);
        }
    }
    Ok(Profile {
        layout,
        labels,
        columns,
        records,
        rows: state.rows,
        dropped: state.dropped,
        dropped_total: state.dropped_total,
        chunks,
        plain,
    })
}

/// Records handed from the thread that splits them to the one that classifies them.
#[derive(Default)]
struct Batch {
    records: Vec<(::csv::ByteRecord, ::csv::Position)>,
    len: usize,
}

impl Batch {
    /// Records per batch: enough that the hand-over costs nothing, few enough to stay small.
    const RECORDS: usize = 4096;

    fn filled(&self) -> &[(::csv::ByteRecord, ::csv::Position)] {
        &self.records[..self.len]
    }
}

/// Splits the rest of `reader` into batches of records with the position after each,
/// reusing the buffers of batches that come back on `free`. Answers the position at the
/// end; a malformed record is sent as the last batch.
fn read_batches(
    mut reader: ::csv::Reader<File>,
    full: &mpsc::SyncSender<Result<Batch>>,
    free: &mpsc::Receiver<Batch>,
) -> u64 {
    loop {
        let mut batch = free.try_recv().unwrap_or_default();
        batch.len = 0;
        while batch.len < Batch::RECORDS {
            if batch.records.len() == batch.len {
                batch.records.push((::csv::ByteRecord::new(), ::csv::Position::new()));
            }
            let (record, after) = &mut batch.records[batch.len];
            match reader.read_byte_record(record) {
                Ok(true) => {
                    *after = reader.position().clone();
                    batch.len += 1;
                }
                Ok(false) => break,
                Err(e) => {
                    let _ = full.send(Err(malformed(e)));
                    return reader.position().byte();
                }
            }
        }
        let done = batch.len < Batch::RECORDS;
        if full.send(Ok(batch)).is_err() || done {
            return reader.position().byte();
        }
    }
}

fn malformed(e: ::csv::Error) -> Error {
    Error::Malformed { line: e.position().map_or(0, |p| p.line()), message: format!("malformed CSV: {e}") }
}

struct State {
    ranges: Ranges,
    pending: Vec<Pending>,
    /// Row numbers of rows with an exception, by provisional id.
    numbers: std::collections::HashMap<u64, u64>,
    dropped: Vec<DroppedRow>,
    dropped_total: u64,
    rows: u64,
    invalid: u64,
}

impl State {
    fn drop_row(&mut self, row: u64, reason: &'static str, mut text: String) {
        self.dropped_total += 1;
        if self.dropped.iter().filter(|d| d.reason == reason).count() < MAX_LISTED {
            if text.len() > 200 {
                let cut = (0..=200).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                text.truncate(cut);
                text.push('…');
            }
            self.dropped.push(DroppedRow { row, reason, text });
        }
    }
}

/// Feeds one data row to the column guesses, growing the table for rows longer than the
/// header (each new column is null in the rows before).
#[inline]
fn observe(
    guesses: &mut Vec<ColumnGuess>,
    labels: &mut Vec<String>,
    fields: Fields<'_>,
    row: u64,
    rows_before: u64,
) -> bool {
    while guesses.len() < fields.len() {
        let mut g = ColumnGuess::default();
        for _ in 0..rows_before {
            g.missing();
        }
        guesses.push(g);
        labels.push(String::new());
    }
    let mut exception = false;
    for (i, guess) in guesses.iter_mut().enumerate() {
        match fields.get(i) {
            Some(f) => exception |= guess.observe(f, row),
            None => guess.missing(),
        }
    }
    exception
}

/// Line breaks at `offset` before the next record's first byte.
fn newlines_at(file: &File, mut offset: u64) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut count = 0;
    let mut buf = [0u8; 256];
    loop {
        let Ok(n) = file.read_at(&mut buf, offset) else { return count };
        for &b in &buf[..n] {
            match b {
                b'\n' => count += 1,
                b'\r' => {}
                _ => return count,
            }
        }
        if n < buf.len() {
            return count;
        }
        offset += n as u64;
    }
}

/// Copies the data records into headerless chunk files, one per chunk of byte ranges. The
/// engine maps each input file whole while it reads it, so one big file would count in full
/// against the ingest's resident memory; chunks keep that to a few chunks' worth.
pub fn split(src: &Path, profile: &Profile, quote: u8, dir: &Path) -> Result<Vec<PathBuf>> {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::FileExt;
    let mut input = File::open(src).map_err(Error::io(src))?;
    let probe = File::open(src).map_err(Error::io(src))?;
    let byte_at = |offset: u64| -> Result<Option<u8>> {
        let mut byte = [0u8; 1];
        Ok((probe.read_at(&mut byte, offset).map_err(Error::io(src))? == 1).then_some(byte[0]))
    };
    let mut paths = Vec::with_capacity(profile.chunks.len());
    let mut buf = vec![0u8; 1 << 20];
    for (i, (ranges, &plain)) in profile.chunks.iter().zip(&profile.plain).enumerate() {
        let path = dir.join(format!("chunk-{i:05}.csv"));
        let mut out = File::create(&path).map_err(Error::io(&path))?;
        let mut pieces = Vec::with_capacity(ranges.len());
        for &(mut start, mut end) in ranges {
            // After a CRLF record the parser stops between `\r` and `\n`: the `\n` belongs to
            // the range before, not the one after.
            if start > 0 && byte_at(start)? == Some(b'\n') && byte_at(start - 1)? == Some(b'\r') {
                start += 1;
            }
            if end > 0 && byte_at(end)? == Some(b'\n') && byte_at(end - 1)? == Some(b'\r') {
                end += 1;
            }
            pieces.push((start, end, byte_at(end.saturating_sub(1))?));
        }
        for (start, end, last) in pieces {
            input.seek(SeekFrom::Start(start)).map_err(Error::io(src))?;
            let mut range = (&mut input).take(end - start);
            if plain {
                // Most files: the bytes go as they are, and on Linux never leave the kernel.
                std::io::copy(&mut range, &mut out).map_err(Error::io(&path))?;
            } else {
                let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut out);
                copy_lines(&mut range, &mut writer, quote, &mut buf).map_err(Error::io(&path))?;
                writer.flush().map_err(Error::io(&path))?;
            }
            if end > start && last != Some(b'\n') {
                // The file's last record has no line break: the next range must not join it.
                out.write_all(b"\n").map_err(Error::io(&path))?;
            }
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Copies CSV text, leaving out blank lines (outside quotes): the engine would read each as
/// a row of nulls. A record's byte range starts where the previous record ended, so blank
/// lines between records fall inside the ranges. Returns the last byte written.
fn copy_lines(
    input: &mut impl Read,
    out: &mut impl std::io::Write,
    quote: u8,
    buf: &mut [u8],
) -> std::io::Result<Option<u8>> {
    let mut line_start = true;
    let mut in_quotes = false;
    let mut last = None;
    loop {
        let n = input.read(buf)?;
        if n == 0 {
            return Ok(last);
        }
        let data = &buf[..n];
        let (mut i, mut from) = (0, 0);
        while i < n {
            if line_start && !in_quotes {
                if data[i] == b'\n' || data[i] == b'\r' {
                    out.write_all(&data[from..i])?;
                    i += 1;
                    from = i;
                    continue;
                }
                line_start = false;
            }
            match memchr::memchr2(b'\n', quote, &data[i..]) {
                None => i = n,
                Some(k) => {
                    let j = i + k;
                    if data[j] == quote {
                        in_quotes = !in_quotes;
                    } else if !in_quotes {
                        line_start = true;
                    }
                    i = j + 1;
                }
            }
        }
        out.write_all(&data[from..n])?;
        if from < n {
            last = Some(data[n - 1]);
        }
    }
}

/// Streams the CSV chunks through polars into zstd Parquet, converting each column to its
/// type and leaving out the columns not in `keep`. polars' streaming engine parses in
/// parallel and honours quoted newlines; the inference pass has already proven that every
/// value parses, and [`verify_nulls`] checks it.
pub fn write_parquet(
    chunks: &[PathBuf],
    dialect: &Dialect,
    names: &[String],
    columns: &[Inferred],
    keep: &[bool],
    out: &Path,
) -> Result<()> {
    let schema: Schema = names
        .iter()
        .zip(columns)
        .map(|(n, inferred)| Field::new(n.as_str().into(), native_type(inferred).unwrap_or(DataType::String)))
        .collect();
    let paths = chunks.iter().map(|p| PlRefPath::try_from_path(p)).collect::<PolarsResult<Vec<_>>>()?;
    let lf = LazyCsvReader::new_paths(paths.into())
        .with_has_header(false)
        .with_separator(dialect.delimiter)
        .with_quote_char(Some(dialect.quote))
        .with_schema(Some(Arc::new(schema)))
        .with_truncate_ragged_lines(true)
        .with_missing_is_null(true)
        .with_low_memory(true)
        .finish()?;
    let exprs: Vec<Expr> = names
        .iter()
        .zip(columns)
        .zip(keep)
        .filter(|(_, keep)| **keep)
        .map(|((name, inferred), _)| match native_type(inferred) {
            Some(_) => col(name.as_str()),
            None => convert(name, inferred),
        })
        .collect();
    sink_parquet(lf.select(exprs), out)
}

/// Streams `lf` into a portal Parquet file at `out` ([`parquet_options`]).
pub(crate) fn sink_parquet(lf: LazyFrame, out: &Path) -> Result<()> {
    let target = SinkTarget::Path(PlRefPath::try_from_path(out)?);
    lf.sink(
        SinkDestination::File { target },
        FileWriteFormat::Parquet(Arc::new(parquet_options())),
        UnifiedSinkArgs::default(),
    )?
    .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// Checks that each typed column has exactly the nulls inference predicted (null tokens,
/// missing fields, rejected values): one more would be a value the conversion could not
/// read, silently lost.
pub fn verify_nulls(names: &[String], columns: &[&Inferred], written: &[u64]) -> Result<()> {
    for ((name, inferred), &got) in names.iter().zip(columns).zip(written) {
        if inferred.kind != ColumnType::String && got != inferred.expected_nulls() {
            return Err(Error::Unconverted {
                column: name.clone(),
                count: got.abs_diff(inferred.expected_nulls()),
                kind: inferred.kind,
            });
        }
    }
    Ok(())
}

/// The type the engine can parse a column as directly, faster than text plus a cast: plain
/// numbers and lowercase booleans, with nothing written in place of a missing value.
fn native_type(inferred: &Inferred) -> Option<DataType> {
    let clean = !inferred.null_tokens && !inferred.padded && !inferred.percent && inferred.rejected.is_empty();
    if !clean || inferred.number != NumberStyle::Plain || inferred.period.is_some() {
        return None;
    }
    // Dates stay text until `to_date`/`to_datetime` with the known format: measured, the
    // reader's own date parsing is several times slower.
    match inferred.kind {
        ColumnType::Integer => Some(DataType::Int64),
        ColumnType::Float => Some(DataType::Float64),
        ColumnType::Boolean if !inferred.bool_cased => Some(DataType::Boolean),
        _ => None,
    }
}

/// The polars expression that turns a text column into its inferred type.
///
/// Null tokens and rejected values become null because they do not parse; inference
/// guarantees every other value does, and [`verify_nulls`] checks the null counts to prove it.
pub(crate) fn convert(name: &str, inferred: &Inferred) -> Expr {
    let raw = if inferred.markers.is_empty() {
        col(name)
    } else {
        let markers = Series::new("markers".into(), &inferred.markers);
        let marked = col(name).str().strip_chars(lit(NULL)).is_in(lit(markers).implode(false), false);
        when(marked).then(lit(NULL).cast(DataType::String)).otherwise(col(name))
    };
    if inferred.kind == ColumnType::String {
        return raw.alias(name);
    }
    let mut value = raw;
    if inferred.padded {
        // Padding and digit-group spaces, including no-break and narrow no-break spaces.
        value = value.str().replace_all(lit("[\\s\u{a0}\u{202f}]"), lit(""), false);
    }
    if inferred.percent {
        value = value.str().replace_all(lit("%"), lit(""), true);
    }
    match inferred.number {
        NumberStyle::Plain => {}
        NumberStyle::CommaThousands => value = value.str().replace_all(lit(","), lit(""), true),
        NumberStyle::DecimalComma => {
            value = value.str().replace_all(lit("."), lit(""), true).str().replace(lit(","), lit("."), true)
        }
    }
    let options = |format: Option<&str>| StrptimeOptions {
        format: format.map(Into::into),
        strict: false,
        exact: true,
        cache: true,
    };
    let converted = match (inferred.kind, inferred.period) {
        (ColumnType::Integer, _) => value.cast(DataType::Int64),
        (ColumnType::Float, _) => value.cast(DataType::Float64),
        (ColumnType::Boolean, _) => {
            let lower = value.str().to_lowercase();
            when(lower.clone().eq(lit("true")))
                .then(lit(true))
                .when(lower.eq(lit("false")))
                .then(lit(false))
                .otherwise(lit(NULL).cast(DataType::Boolean))
        }
        (ColumnType::Date, Some(Period::Month)) => value
            .str()
            .replace(lit(r"^(\d{4})[-M](\d{2})$"), lit("${1}-${2}-01"), false)
            .str()
            .to_date(options(Some("%Y-%m-%d"))),
        (ColumnType::Date, Some(Period::Quarter)) => {
            let mut v = value
                .str()
                .to_uppercase()
                .str()
                .replace(lit(r"^(\d{4})[ -]?Q([1-4])$"), lit("${1}-Q${2}"), false)
                .str()
                .replace(lit(r"^Q([1-4])[ -]?(\d{4})$"), lit("${2}-Q${1}"), false);
            for (q, month) in [("-Q1", "-01-01"), ("-Q2", "-04-01"), ("-Q3", "-07-01"), ("-Q4", "-10-01")] {
                v = v.str().replace(lit(q), lit(month), true);
            }
            v.str().to_date(options(Some("%Y-%m-%d")))
        }
        (ColumnType::Date, None) => value.str().to_date(options(inferred.format)),
        (ColumnType::Datetime, _) => {
            value.str().to_datetime(Some(TimeUnit::Microseconds), None, options(inferred.format), lit("raise"))
        }
        (ColumnType::String, _) => unreachable!("handled above"),
    };
    converted.alias(name)
}

/// Writes rows of cells as UTF-8 CSV, one record per row: a conversion of a workbook or a
/// JSON document, read back by [`profile`]. An empty row is written as one empty field, so
/// record numbers stay the source's row numbers.
pub(crate) fn write_rows<R: AsRef<[String]>>(target: &Path, rows: impl IntoIterator<Item = R>) -> Result<()> {
    let err = |e: ::csv::Error| Error::io(target)(std::io::Error::other(e));
    let mut writer = ::csv::WriterBuilder::new().flexible(true).from_path(target).map_err(err)?;
    for row in rows {
        let row = row.as_ref();
        if row.is_empty() {
            writer.write_record([""]).map_err(err)?;
        } else {
            writer.write_record(row).map_err(err)?;
        }
    }
    writer.flush().map_err(Error::io(target))?;
    Ok(())
}

/// Re-encodes a legacy-encoded file as UTF-8, streaming, dropping any BOM. With
/// `fix_mongolian`, legacy-font Ї ї Є є become Ү ү Ө ө.
pub fn transcode_to_utf8(
    src: &Path,
    encoding: &'static encoding_rs::Encoding,
    fix_mongolian: bool,
    out: &Path,
) -> Result<()> {
    use std::io::Write;
    let input = File::open(src).map_err(Error::io(src))?;
    let mut decoder =
        encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding)).bom_override(true).build(input);
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(out).map_err(Error::io(out))?);
    let mut buf = vec![0u8; 1 << 20];
    // A two-byte letter may straddle two reads: hold back a trailing lead byte.
    let mut carry: Option<u8> = None;
    loop {
        let start = usize::from(carry.is_some());
        if let Some(b) = carry.take() {
            buf[0] = b;
        }
        let n = decoder.read(&mut buf[start..]).map_err(Error::io(src))?;
        let mut len = start + n;
        if n == 0 {
            writer.write_all(&buf[..len]).map_err(Error::io(out))?;
            break;
        }
        if fix_mongolian {
            if len > 0 && matches!(buf[len - 1], 0xD0 | 0xD1) {
                carry = Some(buf[len - 1]);
                len -= 1;
            }
            repair_mongolian(&mut buf[..len]);
        }
        writer.write_all(&buf[..len]).map_err(Error::io(out))?;
    }
    writer.into_inner().map_err(|e| Error::io(out)(e.into_error()))?.flush().map_err(Error::io(out))?;
    Ok(())
}

/// Ї ї Є є → Ү ү Ө ө, in place: each is two bytes in UTF-8 either way.
fn repair_mongolian(utf8: &mut [u8]) {
    let mut i = 0;
    while i + 1 < utf8.len() {
        let to: Option<[u8; 2]> = match (utf8[i], utf8[i + 1]) {
            (0xD0, 0x87) => Some([0xD2, 0xAE]), // Ї → Ү
            (0xD1, 0x97) => Some([0xD2, 0xAF]), // ї → ү
            (0xD0, 0x84) => Some([0xD3, 0xA8]), // Є → Ө
            (0xD1, 0x94) => Some([0xD3, 0xA9]), // є → ө
            _ => None,
        };
        if let Some(to) = to {
            utf8[i..i + 2].copy_from_slice(&to);
            i += 2;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many small chunks over CRLF records with quoted newlines: every row survives whole.
    #[test]
    fn blank_lines_between_records_never_become_rows() {
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in
            ["a,b\n1,2\n\n3,4\n", "a,b\r\n1,2\r\n\r\n\r\n3,4", "a,b\n\n1,\"x\n\ny\"\n3,4\n"].iter().enumerate()
        {
            let src = dir.path().join(format!("in{i}.csv"));
            std::fs::write(&src, text).unwrap();
            let dialect = Dialect { delimiter: b',', quote: b'"', numbering: Numbering::Lines };
            let profile =
                profile(&src, &dialect, HeaderHint::default(), &|_| None, &Arc::from([]), 1 << 20, &mut |_| {})
                    .unwrap();
            assert_eq!(profile.plain, [false], "{text:?}");
            let chunks = split(&src, &profile, b'"', dir.path()).unwrap();
            let names: Vec<String> = ["a", "b"].map(String::from).to_vec();
            let out = dir.path().join(format!("out{i}.parquet"));
            write_parquet(&chunks, &dialect, &names, &profile.columns, &[true; 2], &out).unwrap();
            let df = LazyFrame::scan_parquet(PlRefPath::try_from_path(&out).unwrap(), Default::default())
                .unwrap()
                .collect()
                .unwrap();
            assert_eq!(df.height(), 2, "{text:?}");
        }
    }

    #[test]
    fn blank_lines_are_left_out_but_quoted_ones_kept() {
        let text = "\n1,a\r\n\r\n2,\"x\n\ny\"\n\n\n3,b";
        let mut out = Vec::new();
        let last = copy_lines(&mut text.as_bytes(), &mut out, b'"', &mut [0u8; 4]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1,a\r\n2,\"x\n\ny\"\n3,b");
        assert_eq!(last, Some(b'b'));
    }

    #[test]
    fn legacy_mongolian_letters_are_repaired() {
        let mut text = "Хїн амын тоо, Ємнєговь".as_bytes().to_vec();
        repair_mongolian(&mut text);
        assert_eq!(std::str::from_utf8(&text).unwrap(), "Хүн амын тоо, Өмнөговь");
    }

    #[test]
    fn chunked_conversion_keeps_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.csv");
        let mut text = String::from("id,note,value\r\n");
        for i in 0..5_000 {
            let note = if i % 3 == 0 { "\"two\nlines, quoted\"" } else { "plain" };
            text.push_str(&format!("{i},{note},{}.25\r\n", i % 17));
        }
        std::fs::write(&src, text).unwrap();
        let dialect = Dialect { delimiter: b',', quote: b'"', numbering: Numbering::Lines };
        let profile =
            profile(&src, &dialect, HeaderHint::default(), &|_| None, &Arc::from([]), 4_096, &mut |_| {}).unwrap();
        assert!(profile.chunks.len() > 10, "{} chunks", profile.chunks.len());
        assert!(profile.plain.iter().all(|p| *p), "quoted newlines are not blank lines");
        let chunks = split(&src, &profile, b'"', dir.path()).unwrap();
        let names: Vec<String> = ["id", "note", "value"].map(String::from).to_vec();
        let out = dir.path().join("out.parquet");
        write_parquet(&chunks, &dialect, &names, &profile.columns, &[true; 3], &out).unwrap();
        let df = LazyFrame::scan_parquet(PlRefPath::try_from_path(&out).unwrap(), Default::default())
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(df.height(), 5_000);
        let ids = df.column("id").unwrap().i64().unwrap();
        assert!(ids.into_no_null_iter().eq(0..5_000));
        assert_eq!(df.column("note").unwrap().str().unwrap().get(3), Some("two\nlines, quoted"));
        assert_eq!(df.column("value").unwrap().null_count(), 0);
    }
}
