//! An external merge sort of a Parquet file, in memory bounded by a budget whatever the
//! file's size.
//!
//! The file is read in batches; each [`RUN_BYTES`] of them is sorted and spilled to disk as
//! an Arrow IPC run, and the runs are then merged, one batch of each at a time. A table that
//! fits in one run is sorted in memory and never touches the disk.
//!
//! arrow-rs rather than polars: polars 0.55's sort holds the decoded table (3.8 GB for the
//! 10M-row benchmark), where here the merge needs a batch per run. Keys are compared in
//! arrow's row format, one `memcmp` per comparison whatever the key's columns and
//! directions, and both the sort and the merge are stable, so equal keys keep the source's
//! order and the same file always gives the same output.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{DataType, SchemaRef, SortOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::cluster::SortKey;
use crate::{Error, Result};

/// Decoded bytes sorted in memory before they are spilled as one run.
pub const RUN_BYTES: usize = 256 << 20;
/// Rows per batch read and written.
const BATCH_ROWS: usize = 8 * 1024;
/// Rows per batch of a spilled run. The merge holds a batch or two of every run it reads,
/// so its memory is this times the runs merged at once.
const SPILL_ROWS: usize = 1024;
/// Runs merged at once, at most; more are first merged in groups into longer runs. With
/// [`RUN_BYTES`] of memory a single merge covers 64 × 128 MB of decoded rows; a larger file
/// takes one more pass over its runs per 64-fold, and the same memory.
const MAX_FAN_IN: usize = 64;

/// Sorts `src` by `keys` (nulls last, stable) and hands the rows to `sink` in order, in
/// batches of at most [`BATCH_ROWS`]. At most `budget` bytes of rows are decoded at once:
/// half is read while a second core sorts the other half and spills it to a run in `dir`
/// (removed when done). A table under half the budget is sorted in memory.
pub fn sort(
    src: &Path,
    keys: &[SortKey],
    budget: usize,
    dir: &Path,
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    sort_with(src, keys, budget, MAX_FAN_IN, dir, sink)
}

/// [`sort`], merging at most `fan_in` runs at once.
fn sort_with(
    src: &Path,
    keys: &[SortKey],
    budget: usize,
    fan_in: usize,
    dir: &Path,
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(src).map_err(Error::io(src))?)?;
    let schema = builder.schema().clone();
    let keys = Keys::new(&schema, keys)?;
    let reader = builder.with_batch_size(BATCH_ROWS).build()?;
    let run_bytes = budget / 2;
    let (pending, runs) = std::thread::scope(|scope| -> Result<(Vec<RecordBatch>, Vec<PathBuf>)> {
        // No queue: a run is handed over only once the previous one is spilled, so one is
        // being read and one sorted, never more.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(0);
        let (keys, schema) = (&keys, &schema);
        let spiller = scope.spawn(move || -> Result<Vec<PathBuf>> {
            let mut runs = Vec::new();
            for batches in rx {
                runs.push(spill(keys, schema, &batches, dir, runs.len())?);
            }
            Ok(runs)
        });
        let mut pending: Vec<RecordBatch> = Vec::new();
        let read = || -> Result<()> {
            let (mut bytes, mut spilled) = (0, false);
            for batch in reader {
                let batch = batch.map_err(parquet::errors::ParquetError::from)?;
                bytes += batch.get_array_memory_size();
                pending.push(batch);
                if bytes >= run_bytes {
                    // The spiller stopped on an error, which its join returns.
                    if tx.send(std::mem::take(&mut pending)).is_err() {
                        return Ok(());
                    }
                    (bytes, spilled) = (0, true);
                }
            }
            if spilled && !pending.is_empty() {
                let _ = tx.send(std::mem::take(&mut pending));
            }
            Ok(())
        };
        let read = read();
        drop(tx);
        let runs = spiller.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        read?;
        Ok((pending, runs))
    })?;
    if runs.is_empty() {
        let order = keys.order(&pending)?;
        return emit(&pending, &order, BATCH_ROWS, sink);
    }
    drop(pending);
    let runs = narrow(&keys, &schema, runs, dir, fan_in)?;
    let merged = merge(&keys, &runs, BATCH_ROWS, sink);
    for run in &runs {
        // The caller's staging directory goes too; this frees the disk as soon as possible.
        let _ = std::fs::remove_file(run);
    }
    merged
}

/// The key columns of a schema and how their values compare.
struct Keys {
    columns: Vec<usize>,
    converter: RowConverter,
}

impl Keys {
    fn new(schema: &SchemaRef, keys: &[SortKey]) -> Result<Self> {
        let mut columns = Vec::with_capacity(keys.len());
        let mut fields = Vec::with_capacity(keys.len());
        for key in keys {
            let i = schema.index_of(&key.column)?;
            let options = SortOptions { descending: key.descending, nulls_first: false };
            fields.push(SortField::new_with_options(schema.field(i).data_type().clone(), options));
            columns.push(i);
        }
        Ok(Self { columns, converter: RowConverter::new(fields)? })
    }

    fn rows(&self, batch: &RecordBatch) -> Result<Rows> {
        let arrays: Vec<ArrayRef> = self.columns.iter().map(|&i| batch.column(i).clone()).collect();
        self.converter.convert_columns(&arrays).map_err(Error::from)
    }

    /// `(batch, row)` of every row of `batches` in key order, stable.
    fn order(&self, batches: &[RecordBatch]) -> Result<Vec<(usize, usize)>> {
        let rows = batches.iter().map(|b| self.rows(b)).collect::<Result<Vec<_>>>()?;
        let mut order: Vec<(usize, usize)> =
            batches.iter().enumerate().flat_map(|(b, batch)| (0..batch.num_rows()).map(move |r| (b, r))).collect();
        // `sort_by` is stable: rows with equal keys stay in the order they were read.
        order.sort_by(|a, b| rows[a.0].row(a.1).cmp(&rows[b.0].row(b.1)));
        Ok(order)
    }
}

/// Hands `batches` to `sink` in `order`, a batch at a time.
fn emit(
    batches: &[RecordBatch],
    order: &[(usize, usize)],
    rows: usize,
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    for chunk in order.chunks(rows) {
        sink(gather(&refs, chunk)?)?;
    }
    Ok(())
}

/// The rows at `indices` of `batches`, as one batch that owns its values.
fn gather(batches: &[&RecordBatch], indices: &[(usize, usize)]) -> Result<RecordBatch> {
    let batch = arrow_select::interleave::interleave_record_batch(batches, indices)?;
    // A gathered text view still points into every source batch's buffers: spilled or
    // written as is, each batch would carry all of them.
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8View => std::sync::Arc::new(c.as_string_view().gc()) as ArrayRef,
            DataType::BinaryView => std::sync::Arc::new(c.as_binary_view().gc()) as ArrayRef,
            _ => c.clone(),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).map_err(Error::from)
}

/// Sorts `batches` and writes them to run number `n` in `dir`.
fn spill(keys: &Keys, schema: &SchemaRef, batches: &[RecordBatch], dir: &Path, n: usize) -> Result<PathBuf> {
    let path = dir.join(format!("run-{n:05}.arrow"));
    let mut writer = run_writer(&path, schema)?;
    let order = keys.order(batches)?;
    emit(batches, &order, SPILL_ROWS, &mut |batch| writer.write(&batch).map_err(Error::from))?;
    writer.finish()?;
    Ok(path)
}

/// A new run file at `path`.
fn run_writer(path: &Path, schema: &SchemaRef) -> Result<FileWriter<File>> {
    let file = File::create(path).map_err(Error::io(path))?;
    // LZ4 halves the run files at a fraction of the sort's time: a 20 GB source must not need
    // 30 GB of scratch space.
    let options = IpcWriteOptions::default().try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))?;
    FileWriter::try_new_with_options(file, schema, options).map_err(Error::from)
}

/// Merges runs in groups of `fan_in` until at most that many are left. The earliest runs
/// are merged first and their merge takes their place, so ties keep the source's order.
fn narrow(keys: &Keys, schema: &SchemaRef, mut runs: Vec<PathBuf>, dir: &Path, fan_in: usize) -> Result<Vec<PathBuf>> {
    let fan_in = fan_in.max(2);
    let mut next = runs.len();
    while runs.len() > fan_in {
        let group: Vec<PathBuf> = runs.drain(..fan_in).collect();
        let path = dir.join(format!("run-{next:05}.arrow"));
        next += 1;
        let mut writer = run_writer(&path, schema)?;
        merge(keys, &group, SPILL_ROWS, &mut |batch| writer.write(&batch).map_err(Error::from))?;
        writer.finish()?;
        for run in &group {
            let _ = std::fs::remove_file(run);
        }
        runs.insert(0, path);
    }
    Ok(runs)
}

/// One spilled run being merged: its current batch and where the merge is in it.
struct Run {
    reader: FileReader<File>,
    batch: RecordBatch,
    rows: Rows,
    at: usize,
    /// Index of `batch` among the batches the next output batch gathers from.
    source: usize,
}

impl Run {
    /// Moves to the run's next non-empty batch; false at its end.
    fn advance(&mut self, keys: &Keys) -> Result<bool> {
        for batch in self.reader.by_ref() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                self.rows = keys.rows(&batch)?;
                self.batch = batch;
                self.at = 0;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Merges the sorted runs into `sink`, in batches of `rows`. Ties go to the earlier run,
/// which holds earlier rows of the source: the merge is as stable as each run's sort.
fn merge(keys: &Keys, paths: &[PathBuf], rows: usize, sink: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
    let mut runs: Vec<Run> = Vec::with_capacity(paths.len());
    let mut sources: Vec<RecordBatch> = Vec::new();
    for path in paths {
        let reader = FileReader::try_new(File::open(path).map_err(Error::io(path))?, None)?;
        let empty = RecordBatch::new_empty(reader.schema());
        let mut run = Run { reader, rows: keys.rows(&empty)?, batch: empty, at: 0, source: 0 };
        if run.advance(keys)? {
            run.source = sources.len();
            sources.push(run.batch.clone());
            runs.push(run);
        }
    }
    let mut heap: Vec<usize> = (0..runs.len()).collect();
    for i in (0..heap.len() / 2).rev() {
        sift_down(&runs, &mut heap, i);
    }
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(rows);
    while let Some(&top) = heap.first() {
        let run = &mut runs[top];
        out.push((run.source, run.at));
        run.at += 1;
        if run.at == run.batch.num_rows() {
            if run.advance(keys)? {
                run.source = sources.len();
                sources.push(run.batch.clone());
            } else {
                let last = heap.len() - 1;
                heap.swap(0, last);
                heap.pop();
            }
        }
        if !heap.is_empty() {
            sift_down(&runs, &mut heap, 0);
        }
        if out.len() == rows {
            let refs: Vec<&RecordBatch> = sources.iter().collect();
            sink(gather(&refs, &out)?)?;
            out.clear();
            // Only the runs' current batches can be gathered from next.
            sources.clear();
            for &r in &heap {
                runs[r].source = sources.len();
                sources.push(runs[r].batch.clone());
            }
        }
    }
    if !out.is_empty() {
        let refs: Vec<&RecordBatch> = sources.iter().collect();
        sink(gather(&refs, &out)?)?;
    }
    Ok(())
}

/// Whether run `a`'s current row comes before run `b`'s.
fn before(runs: &[Run], a: usize, b: usize) -> bool {
    let (x, y) = (&runs[a], &runs[b]);
    x.rows.row(x.at).cmp(&y.rows.row(y.at)).then(a.cmp(&b)).is_lt()
}

/// Restores the min-heap of run indices below position `i`.
fn sift_down(runs: &[Run], heap: &mut [usize], mut i: usize) {
    loop {
        let (left, right) = (2 * i + 1, 2 * i + 2);
        let mut least = i;
        if left < heap.len() && before(runs, heap[left], heap[least]) {
            least = left;
        }
        if right < heap.len() && before(runs, heap[right], heap[least]) {
            least = right;
        }
        if least == i {
            return;
        }
        heap.swap(i, least);
        i = least;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringViewArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// Writes `n` rows: a key with few values (some null), and the source position.
    fn source(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("src.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8View, true),
            Field::new("pos", DataType::Int64, false),
        ]));
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), None).unwrap();
        let keys: Vec<Option<String>> =
            (0..n).map(|i| (i % 11 != 0).then(|| format!("a long enough key {:02}", (i * 7919) % 13))).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from_iter(keys.iter().map(|k| k.as_deref()))),
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        path
    }

    fn sorted(src: &Path, budget: usize, dir: &Path, descending: bool) -> Vec<(Option<String>, i64)> {
        let mut got = Vec::new();
        let key = SortKey { column: "key".into(), descending };
        // Three runs at a time: seven runs take two passes before the last merge.
        sort_with(src, &[key], budget, 3, dir, &mut |b| {
            let k = b.column(0).as_string_view();
            let p = b.column(1).as_primitive::<arrow_array::types::Int64Type>();
            got.extend((0..b.num_rows()).map(|i| (k.is_valid(i).then(|| k.value(i).to_owned()), p.value(i))));
            Ok(())
        })
        .unwrap();
        got
    }

    /// Spilled in many runs or sorted in memory, the order is the same: by key, nulls
    /// last, and source order among equal keys.
    #[test]
    fn runs_merge_into_one_stable_order() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), 50_000);
        let mut expected: Vec<(Option<String>, i64)> = sorted(&src, usize::MAX, dir.path(), false);
        assert_eq!(expected.len(), 50_000);
        let spilled = sorted(&src, 64 * 1024, dir.path(), false);
        assert_eq!(spilled, expected, "a merge of many runs equals the in-memory sort");
        let mut check = expected.clone();
        check.sort_by(|a, b| (a.0.is_none(), &a.0, a.1).cmp(&(b.0.is_none(), &b.0, b.1)));
        assert_eq!(expected, check, "by key, nulls last, ties in source order");
        assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "no run left behind");

        expected.sort_by(|a, b| {
            (a.0.is_none(), std::cmp::Reverse(&a.0), a.1).cmp(&(b.0.is_none(), std::cmp::Reverse(&b.0), b.1))
        });
        assert_eq!(sorted(&src, 64 * 1024, dir.path(), true), expected, "descending keeps nulls last");
    }
}
