//! A whole table as CSV, straight from its version file: the download researchers take most.
//!
//! Every other export (filtered, sorted, grouped, another format) is written by polars'
//! streaming sink ([`crate::encode::sink`]). This second CSV writer exists for the plain
//! download alone, the heaviest request the portal serves, where polars' sink reached about
//! 0.6× DuckDB's `COPY … TO csv`: it maps the whole file into the worker, formats each
//! datetime through a chrono format string and defuses formulas with regular expressions.
//! Here arrow-rs decodes one row group per core from its own reads, text kept in dictionaries
//! is read as codes and each value written once, numbers and dates are formatted without
//! format strings, and the pieces go out in file order. The bytes
//! are polars' own, quoting, nulls and defused formulas included (the tests compare them);
//! [`fields`] writes each value.

mod fields;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::{ChunkReader, Length};

use self::fields::{Cells, Rendered, coded_text, known, text, write_text};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8192;
/// Bytes a core encodes before handing them to the writer.
const PIECE: usize = 1 << 20;
/// Pieces of one row group that may wait for the writer, so a core that runs ahead of the
/// client holds at most this many: memory stays bounded whatever the table's size.
const WAITING: usize = 8;
/// Cores encoding at once; more would only add row groups waiting for the writer.
const MAX_THREADS: usize = 4;

/// What a core sends the writer of one row group.
enum Piece {
    Bytes(Vec<u8>),
    /// The group is complete. A channel that closes without it was left by a core that
    /// failed, and the download stops there instead of ending short.
    End,
}

/// One row group's pieces, in order.
type Pieces = Receiver<io::Result<Piece>>;

/// A plain download of one version file, checked before anything is sent.
#[derive(Debug)]
pub struct CsvDump {
    file: File,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// For each output column, its position in a decoded batch.
    positions: Vec<usize>,
    names: Vec<String>,
    /// Per output column: whether its text may start as a formula and needs defusing.
    defuse: Vec<bool>,
}

impl CsvDump {
    /// The download of `select` (the answer's columns, in order) from the file at `path`,
    /// or none when a column's type is one this writer does not know, and polars writes it.
    /// `clean` names the text columns the ingest found no formula in.
    pub fn open(path: &Path, select: &[String], clean: &[String]) -> Option<CsvDump> {
        let file = File::open(path).ok()?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).ok()?;
        let meta = coded(&meta).unwrap_or(meta);
        let fields = meta.schema().fields().clone();
        let mut roots: Vec<usize> = Vec::with_capacity(select.len());
        for name in select {
            let (i, field) = fields.find(name)?;
            if !known(field.data_type()) && !coded_text(field.data_type()) {
                return None;
            }
            roots.push(i);
        }
        // A batch holds the projected columns in file order, whatever order they were asked in.
        let mut projected = roots.clone();
        projected.sort_unstable();
        projected.dedup();
        let positions = roots.iter().map(|r| projected.partition_point(|p| p < r)).collect();
        let defuse = roots
            .iter()
            .map(|&r| {
                (text(fields[r].data_type()) || coded_text(fields[r].data_type())) && !clean.contains(fields[r].name())
            })
            .collect();
        let mask = ProjectionMask::roots(meta.parquet_schema(), projected);
        Some(CsvDump { file, meta, mask, positions, names: select.to_vec(), defuse })
    }

    /// Writes the header and every row to `out`, in file order: one core per row group, at
    /// most [`MAX_THREADS`], with the writer taking each group's pieces as they come.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut header = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            if i > 0 {
                header.push(b',');
            }
            write_text(&mut header, name.as_bytes());
        }
        header.push(b'\n');
        out.write_all(&header)?;

        let groups = self.meta.metadata().num_row_groups();
        if groups == 0 {
            return Ok(());
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, MAX_THREADS).min(groups);
        // Groups are handed out under this lock, and each group's receiver is queued in the
        // same step, so the writer meets the receivers in file order. The sender is dropped
        // once every group is handed out, which ends the writer's loop.
        let (order_tx, order_rx) = sync_channel::<Pieces>(threads);
        let next = Mutex::new((0usize, Some(order_tx)));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    if std::panic::catch_unwind(AssertUnwindSafe(|| self.encode_groups(groups, &next))).is_err() {
                        next.lock().unwrap_or_else(PoisonError::into_inner).1 = None;
                    }
                });
            }
            // Returning early (the client gone, a page that does not decode) drops the
            // receivers, and every core stops at its next piece.
            for group in order_rx {
                loop {
                    match group.recv() {
                        Ok(Ok(Piece::Bytes(piece))) => out.write_all(&piece)?,
                        Ok(Ok(Piece::End)) => break,
                        Ok(Err(e)) => return Err(e),
                        Err(_) => return Err(io::Error::other("a row group stopped before its end")),
                    }
                }
            }
            Ok(())
        })
    }

    /// Takes row groups until none is left or the writer is gone.
    fn encode_groups(&self, groups: usize, next: &Mutex<(usize, Option<SyncSender<Pieces>>)>) {
        loop {
            let (group, tx) = {
                let mut guard = next.lock().unwrap_or_else(PoisonError::into_inner);
                let (n, order) = &mut *guard;
                let Some(order_tx) = order.as_ref() else { return };
                if *n >= groups {
                    *order = None;
                    return;
                }
                let (tx, rx) = sync_channel(WAITING);
                if order_tx.send(rx).is_err() {
                    return;
                }
                *n += 1;
                (*n - 1, tx)
            };
            if let Err(e) = self.encode_group(group, &tx) {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }

    /// Encodes one row group in pieces of about [`PIECE`] bytes. Returns early, without an
    /// error, when the writer no longer takes pieces.
    fn encode_group(&self, group: usize, tx: &SyncSender<io::Result<Piece>>) -> io::Result<()> {
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(Positioned(self.file.try_clone()?), self.meta.clone())
                .with_row_groups(vec![group])
                .with_projection(self.mask.clone())
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(PIECE + PIECE / 4);
        let mut rendered: Vec<Rendered> = self.positions.iter().map(|_| Rendered::default()).collect();
        for batch in reader {
            let batch = batch.map_err(io::Error::other)?;
            for ((r, &p), &defuse) in rendered.iter_mut().zip(&self.positions).zip(&self.defuse) {
                if let Some(column) = batch.column(p).as_dictionary_opt::<Int32Type>() {
                    r.update(column.values(), defuse)?;
                }
            }
            let cells = self.cells(&batch, &rendered)?;
            for row in 0..batch.num_rows() {
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    c.write(row, &mut buf);
                }
                buf.push(b'\n');
                if buf.len() >= PIECE {
                    let piece = std::mem::replace(&mut buf, Vec::with_capacity(PIECE + PIECE / 4));
                    if tx.send(Ok(Piece::Bytes(piece))).is_err() {
                        return Ok(());
                    }
                }
            }
        }
        if !buf.is_empty() && tx.send(Ok(Piece::Bytes(buf))).is_err() {
            return Ok(());
        }
        let _ = tx.send(Ok(Piece::End));
        Ok(())
    }

    /// The output columns of a decoded batch, typed.
    fn cells<'a>(&self, batch: &'a RecordBatch, rendered: &'a [Rendered]) -> io::Result<Vec<Cells<'a>>> {
        self.positions
            .iter()
            .zip(&self.defuse)
            .zip(rendered)
            .map(|((&p, &defuse), rendered)| Cells::of(batch.column(p).as_ref(), defuse, rendered))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| io::Error::other("a column decoded to a type its schema did not say"))
    }
}

/// The version file read with `pread`: every core reads through a handle of the same open
/// file (a file removed from the data folder mid-download stays readable), and handles
/// cloned from one share a seek position that a `seek` and `read` would race on.
struct Positioned(File);

impl Length for Positioned {
    fn len(&self) -> u64 {
        self.0.metadata().map_or(0, |m| m.len())
    }
}

impl ChunkReader for Positioned {
    type T = At;

    fn get_read(&self, start: u64) -> parquet::errors::Result<At> {
        Ok(At { file: self.0.try_clone()?, pos: start })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = vec![0; length];
        self.0.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

/// A reader from a position of the file.
struct At {
    file: File,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// `meta` made to read as dictionary codes every text column that is dictionary-encoded in
/// every row group: its values are then decoded once a page instead of copied out for every
/// row, and written once a batch (see [`Rendered`]). Most columns an agency filters on are
/// such codes and names.
fn coded(meta: &ArrowReaderMetadata) -> Option<ArrowReaderMetadata> {
    let parquet = meta.metadata();
    let columns = parquet.file_metadata().schema_descr();
    let encoded = |root: usize| {
        let leaves: Vec<usize> =
            (0..columns.num_columns()).filter(|&l| columns.get_column_root_idx(l) == root).collect();
        leaves.len() == 1 && parquet.row_groups().iter().all(|g| g.column(leaves[0]).dictionary_page_offset().is_some())
    };
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let codes = text(f.data_type()) && encoded(i);
            let dt = if codes {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            } else {
                f.data_type().clone()
            };
            f.as_ref().clone().with_data_type(dt)
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, meta.schema().metadata().clone()));
    ArrowReaderMetadata::try_new(parquet.clone(), ArrowReaderOptions::new().with_schema(schema)).ok()
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::Path;

    use polars::prelude::*;

    use super::fields::coded_text;
    use super::{CsvDump, PIECE};

    const DAY_MICROS: i64 = 86_400_000_000;

    /// A table of every type an ingest stores, with the values CSV gets wrong: nulls, empty
    /// text, separators, quotes and line breaks, formulas and signed numbers, floats that
    /// are not finite, and dates at and past the ends of four-digit years.
    fn tricky() -> DataFrame {
        let texts = [
            Some("plain"),
            Some(""),
            None,
            Some("a,b \"q\""),
            Some("line\nbreak"),
            Some("cr\rhere"),
            Some("\"lead"),
            Some("Улаанбаатар"),
        ];
        let formulas = [
            Some("=SUM(A1)"),
            Some("+1.5e3"),
            Some("-x"),
            Some("@me"),
            Some("+.5"),
            Some("-12."),
            Some("\tx"),
            Some("-1e+"),
        ];
        let days = [0, -1, -719_162, 2_932_896, 2_932_897, 19_000, 12_345, -100_000];
        let micros = [
            0,
            -1,
            1_500_000,
            1_000_001,
            -62_135_596_800_000_000,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            1_700_000_000_123_000,
        ];
        let n = 100_000;
        let pick = |i: usize| i % 8;
        df!(
            "id" => (0..n).map(|i| (i % 7 != 3).then_some(i as i64 * 7919 - 100_000)).collect::<Vec<_>>(),
            "small" => (0..n).map(|i| (i % 5 != 0).then_some(i as i32 - 20_000)).collect::<Vec<_>>(),
            "x" => (0..n).map(|i| match i % 9 {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(f64::INFINITY),
                3 => Some(-0.0),
                4 => Some(1e300),
                5 => Some(1.0 / 3.0),
                6 => Some(-2.5e-8),
                _ => Some(i as f64),
            }).collect::<Vec<_>>(),
            "ok" => (0..n).map(|i| (i % 3 != 2).then_some(i % 2 == 0)).collect::<Vec<_>>(),
            "name" => (0..n).map(|i| texts[pick(i)]).collect::<Vec<_>>(),
            "formula" => (0..n).map(|i| formulas[pick(i / 3)]).collect::<Vec<_>>(),
            "label" => (0..n).map(|i| match i % 4 {
                0 => format!("r{i}, \"{}\"", formulas[pick(i)].unwrap_or_default()),
                1 => format!("{}{i}", formulas[pick(i)].unwrap_or_default()),
                _ => format!("label {i}"),
            }).collect::<Vec<_>>(),
            "day" => (0..n).map(|i| (i % 11 != 0).then_some(days[pick(i / 2)])).collect::<Vec<_>>(),
            "at" => (0..n).map(|i| (i % 13 != 0).then_some(micros[pick(i / 5)] + (i as i64 % 3) * DAY_MICROS)).collect::<Vec<_>>(),
        )
        .and_then(|df| {
            df.lazy()
                .with_columns([
                    col("day").cast(DataType::Date),
                    col("at").cast(DataType::Datetime(TimeUnit::Microseconds, None)),
                ])
                .collect()
        })
        .expect("table")
    }

    fn parquet(df: &mut DataFrame, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("t.parquet");
        let file = File::create(&path).expect("create");
        ParquetWriter::new(file).with_row_group_size(Some(4096)).finish(df).expect("write");
        path
    }

    /// What polars writes for the same request, the way [`crate::encode::sink`] does.
    fn polars_csv(path: &Path, select: &[String], clean: &[String]) -> Vec<u8> {
        let lf = super::super::rows::scan(path)
            .expect("scan")
            .select(select.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
        let mut df = crate::encode::defuse_formulas(lf, clean).expect("defuse").collect().expect("collect");
        let mut out = Vec::new();
        CsvWriter::new(&mut out)
            .include_header(true)
            .with_datetime_format(Some(crate::encode::DATETIME_FORMAT.into()))
            .finish(&mut df)
            .expect("csv");
        out
    }

    fn dump(path: &Path, select: &[String], clean: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        CsvDump::open(path, select, clean).expect("a known table").write(&mut out).expect("dump");
        out
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn writes_the_bytes_polars_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = parquet(&mut tricky(), dir.path());
        let all = names(&["id", "small", "x", "ok", "name", "formula", "label", "day", "at"]);
        let coded: Vec<String> = CsvDump::open(&path, &all, &[])
            .expect("a known table")
            .meta
            .schema()
            .fields()
            .iter()
            .filter(|f| coded_text(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(coded, ["name", "formula"], "repeated text is read as dictionary codes, and only that");
        let ours = dump(&path, &all, &[]);
        assert!(ours.len() > 3 * PIECE, "the test spans several pieces and row groups");
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&polars_csv(&path, &all, &[])));
        assert!(String::from_utf8_lossy(&ours).contains("'=SUM(A1)"), "formulas are defused");
        assert!(String::from_utf8_lossy(&ours).contains(",+1.5e3,"), "signed numbers are not");
    }

    #[test]
    fn writes_a_choice_of_columns_in_the_order_asked_and_trusts_clean_columns() {
        let dir = tempfile::tempdir().expect("dir");
        let path = parquet(&mut tricky(), dir.path());
        let some = names(&["formula", "at", "label", "id"]);
        let clean = names(&["formula", "label"]);
        let ours = dump(&path, &some, &clean);
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&polars_csv(&path, &some, &clean)));
        assert!(String::from_utf8_lossy(&ours).lines().nth(1).is_some_and(|l| l.starts_with("=SUM(A1),")));
    }

    #[test]
    fn leaves_unknown_types_and_columns_to_polars() {
        let dir = tempfile::tempdir().expect("dir");
        let mut df = df!("u" => [1.5f32, 2.0], "s" => ["a", "b"]).expect("table");
        let path = parquet(&mut df, dir.path());
        assert!(CsvDump::open(&path, &names(&["u"]), &[]).is_none());
        assert!(CsvDump::open(&path, &names(&["gone"]), &[]).is_none());
        assert!(CsvDump::open(&path, &names(&["s"]), &[]).is_some());
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let dir = tempfile::tempdir().expect("dir");
        let mut df = df!("a" => Vec::<i64>::new(), "b,c" => Vec::<String>::new()).expect("table");
        let path = parquet(&mut df, dir.path());
        let all = names(&["a", "b,c"]);
        assert_eq!(dump(&path, &all, &[]), polars_csv(&path, &all, &[]));
    }
}
