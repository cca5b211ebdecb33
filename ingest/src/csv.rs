//! Delimited text: one streaming pass to infer types, one streaming conversion to Parquet.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opendata_datasets::ColumnType;
use polars::prelude::*;

use crate::infer::{ColumnGuess, Inferred};
use crate::{Error, Result};

/// Rows per Parquet row group: small enough that min/max statistics prune selective
/// filters, large enough that a scan is not dominated by per-group overhead.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How every Parquet file of the portal is written: zstd, min/max/null statistics per
/// column, row groups of [`ROW_GROUP_ROWS`]. Exports use the same settings.
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

/// What the inference pass learned about a UTF-8 CSV file.
#[derive(Debug)]
pub struct Profile {
    pub labels: Vec<String>,
    pub columns: Vec<Inferred>,
    pub rows: u64,
    /// Record boundaries about [`CHUNK_BYTES`] apart, starting at the first data record.
    /// Only a full parse can find them when quoted fields hold newlines.
    pub chunks: Vec<u64>,
}

/// Reads every record once, narrowing each column's type. `progress` gets bytes read.
pub fn profile(path: &Path, delimiter: u8, chunk_bytes: u64, progress: &mut dyn FnMut(u64)) -> Result<Profile> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let mut record = ::csv::ByteRecord::new();
    let malformed =
        |e: ::csv::Error| Error::Malformed { line: e.position().map_or(0, |p| p.line()), message: e.to_string() };
    if !reader.read_byte_record(&mut record).map_err(malformed)? {
        return Err(Error::Empty);
    }
    let labels: Vec<String> =
        record.iter().map(|f| String::from_utf8_lossy(f).trim_start_matches('\u{feff}').trim().to_owned()).collect();
    if labels.is_empty() || (labels.len() == 1 && labels[0].is_empty()) {
        return Err(Error::Empty);
    }
    let mut guesses = vec![ColumnGuess::default(); labels.len()];
    let mut chunks = vec![reader.position().byte()];
    let mut rows = 0u64;
    let mut next_report = 0u64;
    while reader.read_byte_record(&mut record).map_err(malformed)? {
        rows += 1;
        // SIMD validation of the whole record is cheaper than per-field checks, and it
        // catches a legacy-encoded byte that the sample-based detector missed.
        let text = std::str::from_utf8(record.as_slice()).map_err(|_| Error::Malformed {
            line: record.position().map_or(0, |p| p.line()),
            message: "the file is not valid UTF-8 here; set the source encoding explicitly".into(),
        })?;
        let mut start = 0;
        for (i, guess) in guesses.iter_mut().enumerate() {
            // Short rows leave the missing trailing fields null.
            let Some(end) = record.range(i).map(|r| r.end) else {
                break;
            };
            guess.observe(&text[start..end]);
            start = end;
        }
        if rows & 0x3F == 0 && reader.position().byte() - chunks.last().copied().unwrap_or(0) >= chunk_bytes {
            chunks.push(reader.position().byte());
        }
        if rows & 0xFFFF == 0 {
            let pos = reader.position().byte();
            if pos >= next_report {
                progress(pos);
                next_report = pos + (16 << 20);
            }
        }
    }
    progress(reader.position().byte());
    Ok(Profile { labels, columns: guesses.iter().map(ColumnGuess::finish).collect(), rows, chunks })
}

/// Copies the data records into headerless chunk files of about [`CHUNK_BYTES`], cut at
/// record boundaries. The engine maps each input file whole while it reads it, so one big
/// file would count in full against the ingest's resident memory; chunks keep that to a few
/// chunks' worth. On Linux the copy stays in the kernel (`copy_file_range`).
pub fn split(src: &Path, profile: &Profile, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut input = File::open(src).map_err(Error::io(src))?;
    let end = input.metadata().map_err(Error::io(src))?.len();
    let mut bounds = profile.chunks.clone();
    // After a CRLF record the parser stops between `\r` and `\n`: move the cut past the `\n`,
    // or the next chunk would start with an empty line.
    for b in &mut bounds {
        let mut next = [0u8; 1];
        if std::os::unix::fs::FileExt::read_at(&input, &mut next, *b).map_err(Error::io(src))? == 1 && next[0] == b'\n'
        {
            *b += 1;
        }
    }
    bounds.push(end);
    let mut paths = Vec::with_capacity(bounds.len());
    std::io::Seek::seek(&mut input, std::io::SeekFrom::Start(bounds[0])).map_err(Error::io(src))?;
    for (i, window) in bounds.windows(2).enumerate() {
        let path = dir.join(format!("chunk-{i:05}.csv"));
        let mut out = File::create(&path).map_err(Error::io(&path))?;
        std::io::copy(&mut (&mut input).take(window[1] - window[0]), &mut out).map_err(Error::io(&path))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Streams the CSV chunks through polars into zstd Parquet, converting each column to its
/// type. polars' streaming engine parses in parallel and honours quoted newlines; the
/// inference pass has already proven that every value parses, and [`verify_nulls`] checks it.
pub fn write_parquet(chunks: &[PathBuf], delimiter: u8, names: &[String], profile: &Profile, out: &Path) -> Result<()> {
    let schema: Schema = names.iter().map(|n| Field::new(n.as_str().into(), DataType::String)).collect();
    let paths = chunks.iter().map(|p| PlRefPath::try_from_path(p)).collect::<PolarsResult<Vec<_>>>()?;
    let lf = LazyCsvReader::new_paths(paths.into())
        .with_has_header(false)
        .with_separator(delimiter)
        .with_quote_char(Some(b'"'))
        .with_schema(Some(Arc::new(schema)))
        .with_truncate_ragged_lines(true)
        .with_missing_is_null(true)
        .with_low_memory(true)
        .finish()?;
    let exprs: Vec<Expr> = names.iter().zip(&profile.columns).map(|(name, inferred)| convert(name, inferred)).collect();
    let target = SinkTarget::Path(PlRefPath::try_from_path(out)?);
    lf.select(exprs)
        .sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(Arc::new(parquet_options())),
            UnifiedSinkArgs::default(),
        )?
        .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// Checks that each typed column has exactly the nulls inference counted (null tokens and
/// missing fields): one more would be a value the conversion could not read, silently lost.
pub fn verify_nulls(names: &[String], profile: &Profile, written: &[u64]) -> Result<()> {
    for ((name, inferred), &got) in names.iter().zip(&profile.columns).zip(written) {
        if inferred.kind != ColumnType::String && got != inferred.nulls {
            return Err(Error::Malformed {
                line: 0,
                message: format!(
                    "{} value(s) of column `{name}` could not be read as {}",
                    got.abs_diff(inferred.nulls),
                    inferred.kind
                ),
            });
        }
    }
    Ok(())
}

/// The polars expression that turns a text column into its inferred type.
///
/// Null tokens become null because they do not parse; inference guarantees every other
/// value does, and [`write_parquet`] checks the null counts to prove it.
fn convert(name: &str, inferred: &Inferred) -> Expr {
    let raw = col(name);
    if inferred.kind == ColumnType::String {
        return raw;
    }
    let value = if inferred.padded { raw.str().strip_chars(lit(NULL)) } else { raw };
    let options = |format: Option<&str>| StrptimeOptions {
        format: format.map(Into::into),
        strict: false,
        exact: true,
        cache: true,
    };
    let converted = match inferred.kind {
        ColumnType::Integer => value.cast(DataType::Int64),
        ColumnType::Float => value.cast(DataType::Float64),
        ColumnType::Boolean => {
            let lower = value.str().to_lowercase();
            when(lower.clone().eq(lit("true")))
                .then(lit(true))
                .when(lower.eq(lit("false")))
                .then(lit(false))
                .otherwise(lit(NULL).cast(DataType::Boolean))
        }
        ColumnType::Date => value.str().to_date(options(inferred.format)),
        ColumnType::Datetime => {
            value.str().to_datetime(Some(TimeUnit::Microseconds), None, options(inferred.format), lit("raise"))
        }
        ColumnType::String => unreachable!("handled above"),
    };
    converted.alias(name)
}

/// Re-encodes a legacy-encoded file as UTF-8, streaming, dropping any BOM.
pub fn transcode_to_utf8(src: &Path, encoding: &'static encoding_rs::Encoding, out: &Path) -> Result<()> {
    let input = File::open(src).map_err(Error::io(src))?;
    let mut decoder =
        encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding)).bom_override(true).build(input);
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(out).map_err(Error::io(out))?);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = decoder.read(&mut buf).map_err(Error::io(src))?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut writer, &buf[..n]).map_err(Error::io(out))?;
    }
    writer.into_inner().map_err(|e| Error::io(out)(e.into_error()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many small chunks over CRLF records with quoted newlines: every row survives whole.
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
        let profile = profile(&src, b',', 4_096, &mut |_| {}).unwrap();
        assert!(profile.chunks.len() > 10, "{} chunks", profile.chunks.len());
        let chunks = split(&src, &profile, dir.path()).unwrap();
        let names: Vec<String> = ["id", "note", "value"].map(String::from).to_vec();
        let out = dir.path().join("out.parquet");
        write_parquet(&chunks, b',', &names, &profile, &out).unwrap();
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
