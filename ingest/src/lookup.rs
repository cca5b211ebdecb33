//! The lookup index of a laid-out table's identifier columns: for every value, the blocks of
//! [`BLOCK_ROWS`] rows that hold it, so that `id=…` reads one page of each column.
//!
//! A laid-out file is sorted by its cluster keys, which scatters an identifier's values over
//! the whole file: no page's min/max narrows a lookup, and a bloom filter only names the
//! row group (128k rows) to scan. This index is the identifier's own order: `(key, block)`
//! pairs sorted by key, cut into chunks of [`CHUNK_ENTRIES`], each chunk delta- and
//! bit-packed, and a directory of the chunks' first and last keys.
//!
//! It lives inside the version's Parquet file, between the last row group and the footer,
//! found through the footer's key-value metadata ([`METADATA_KEY`]): bytes no column chunk
//! points at, which every other Parquet reader skips (bloom filters are stored the same
//! way). The file stays one object for storage, caches, backups and downloads.
//!
//! Keys are 64-bit: an integer's value, order kept; a text's XXH64 (seed 0), high 32 bits,
//! so sorted keys pack into small deltas. Two texts may share a key: the reader matches the
//! blocks' rows exactly afterwards, as it does every filter.
//!
//! The pairs are sorted in bounded memory: past the budget, sorted runs spill to the scratch
//! folder and are merged at the end.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Rows per block the index points at: one data page of every column of a laid-out table.
pub const BLOCK_ROWS: u64 = crate::cluster::PAGE_ROWS as u64;
/// The footer's key-value entry that says where the index is.
pub const METADATA_KEY: &str = "opendata.lookup";
/// Entries per chunk: a lookup decodes one (a few kilobytes), the directory holds one line
/// per chunk (28 bytes; 2,442 lines for 10M rows).
const CHUNK_ENTRIES: usize = 4096;
const HEADER_BYTES: usize = 18;
/// The largest chunk: every delta and block at full width.
const MAX_CHUNK_BYTES: u32 = (HEADER_BYTES + CHUNK_ENTRIES * (64 + 32) / 8) as u32;
/// The largest directory read: 2.4M chunks, 10 billion rows. A footer naming more is not
/// believed.
const MAX_DIRECTORY_BYTES: usize = 64 << 20;
const DIRECTORY_LINE: usize = 28;
const FORMAT: u32 = 1;

/// How a column's values become keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Integer,
    Text,
}

/// Values looked up, as a filter gives them.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    Integer(&'a [i64]),
    Text(&'a [Vec<u8>]),
}

/// The key of an integer: its value with the sign bit flipped, so keys sort as values do.
pub fn integer_key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The key of a text.
pub fn text_key(v: &[u8]) -> u64 {
    twox_hash::XxHash64::oneshot(0, v) >> 32
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Footer {
    format: u32,
    block_rows: u64,
    columns: Vec<ColumnFooter>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ColumnFooter {
    name: String,
    key: KeyKind,
    /// File offset of the directory.
    directory: u64,
    chunks: u64,
}

/// One chunk, as the directory lists it.
#[derive(Debug, Clone, Copy)]
struct Line {
    first: u64,
    last: u64,
    offset: u64,
    len: u32,
}

/// Builds the index of some columns while their batches are written, in file order.
pub(crate) struct LookupWriter {
    columns: Vec<Builder>,
    rows: u64,
    /// Pairs held in memory across all columns before the largest list spills.
    budget: usize,
    scratch: PathBuf,
}

struct Builder {
    name: String,
    kind: KeyKind,
    pairs: Vec<(u64, u32)>,
    runs: Vec<File>,
}

impl LookupWriter {
    /// An index of `columns` (those of integer or text type; others are left out), holding
    /// at most `memory` bytes of pairs before they spill to `scratch`.
    pub(crate) fn new(schema: &arrow_schema::Schema, columns: &[String], memory: usize, scratch: &Path) -> Self {
        use arrow_schema::DataType as A;
        let columns = columns
            .iter()
            .filter_map(|name| {
                let kind = match schema.field_with_name(name).ok()?.data_type() {
                    A::Int64 | A::Int32 => KeyKind::Integer,
                    A::Utf8 | A::LargeUtf8 | A::Utf8View => KeyKind::Text,
                    _ => return None,
                };
                Some(Builder { name: name.clone(), kind, pairs: Vec::new(), runs: Vec::new() })
            })
            .collect();
        let pair = std::mem::size_of::<(u64, u32)>();
        Self { columns, rows: 0, budget: (memory / pair).max(CHUNK_ENTRIES), scratch: scratch.to_owned() }
    }

    /// Takes the keys of the next `batch` of the file.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let first = self.rows;
        for builder in &mut self.columns {
            let Some(array) = batch.column_by_name(&builder.name) else { continue };
            let block = |i: usize| u32::try_from((first + i as u64) / BLOCK_ROWS).unwrap_or(u32::MAX);
            for (i, key) in keys(array.as_ref()).enumerate() {
                if let Some(key) = key {
                    builder.pairs.push((key, block(i)));
                }
            }
        }
        self.rows += batch.num_rows() as u64;
        while self.columns.iter().map(|b| b.pairs.len()).sum::<usize>() > self.budget {
            let Some(largest) = self.columns.iter_mut().max_by_key(|b| b.pairs.len()) else { break };
            largest.spill(&self.scratch)?;
        }
        Ok(())
    }

    /// Writes the index after the file's last row group and names it in the footer.
    pub(crate) fn finish<W: Write + Send>(self, writer: &mut ArrowWriter<W>) -> Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        // The last row group first, so that the index follows every page.
        writer.flush()?;
        let mut footer = Footer { format: FORMAT, block_rows: BLOCK_ROWS, columns: Vec::new() };
        for builder in self.columns {
            let (name, kind) = (builder.name.clone(), builder.kind);
            let mut lines = Vec::new();
            let mut chunk = Vec::with_capacity(CHUNK_ENTRIES);
            let mut encoded = Vec::new();
            let mut flush = |chunk: &mut Vec<(u64, u32)>, writer: &mut ArrowWriter<W>| -> Result<()> {
                if chunk.is_empty() {
                    return Ok(());
                }
                encoded.clear();
                encode(chunk, &mut encoded);
                let offset = writer.bytes_written() as u64;
                writer.write_all(&encoded).map_err(Error::io(Path::new("lookup index")))?;
                lines.push(Line {
                    first: chunk[0].0,
                    last: chunk[chunk.len() - 1].0,
                    offset,
                    len: encoded.len() as u32,
                });
                chunk.clear();
                Ok(())
            };
            let mut previous = None;
            for pair in builder.merged()? {
                let pair = pair.map_err(Error::io(Path::new("lookup index run")))?;
                if previous == Some(pair) {
                    continue;
                }
                previous = Some(pair);
                chunk.push(pair);
                if chunk.len() == CHUNK_ENTRIES {
                    flush(&mut chunk, writer)?;
                }
            }
            flush(&mut chunk, writer)?;
            let directory = writer.bytes_written() as u64;
            let mut bytes = Vec::with_capacity(lines.len() * DIRECTORY_LINE);
            for line in &lines {
                bytes.extend_from_slice(&line.first.to_le_bytes());
                bytes.extend_from_slice(&line.last.to_le_bytes());
                bytes.extend_from_slice(&line.offset.to_le_bytes());
                bytes.extend_from_slice(&line.len.to_le_bytes());
            }
            writer.write_all(&bytes).map_err(Error::io(Path::new("lookup index")))?;
            footer.columns.push(ColumnFooter { name, key: kind, directory, chunks: lines.len() as u64 });
        }
        let json = serde_json::to_string(&footer).map_err(|e| parquet::errors::ParquetError::General(e.to_string()))?;
        writer.append_key_value_metadata(KeyValue::new(METADATA_KEY.to_owned(), json));
        Ok(())
    }
}

/// The keys of an array's values, none for a null.
fn keys(array: &dyn Array) -> Box<dyn Iterator<Item = Option<u64>> + '_> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    use arrow_schema::DataType as A;
    let text = |v: Option<&str>| v.map(|v| text_key(v.as_bytes()));
    match array.data_type() {
        A::Int64 => Box::new(array.as_primitive::<Int64Type>().iter().map(|v| v.map(integer_key))),
        A::Int32 => Box::new(array.as_primitive::<Int32Type>().iter().map(|v| v.map(|v| integer_key(v.into())))),
        A::Utf8 => Box::new(array.as_string::<i32>().iter().map(text)),
        A::LargeUtf8 => Box::new(array.as_string::<i64>().iter().map(text)),
        A::Utf8View => Box::new(array.as_string_view().iter().map(text)),
        _ => Box::new(std::iter::empty()),
    }
}

impl Builder {
    fn spill(&mut self, scratch: &Path) -> Result<()> {
        self.pairs.sort_unstable();
        self.pairs.dedup();
        let file = tempfile::tempfile_in(scratch).map_err(Error::io(scratch))?;
        let mut out = BufWriter::new(file);
        for (key, block) in self.pairs.drain(..) {
            out.write_all(&key.to_le_bytes())
                .and_then(|()| out.write_all(&block.to_le_bytes()))
                .map_err(Error::io(scratch))?;
        }
        let mut file = out.into_inner().map_err(|e| Error::io(scratch)(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(Error::io(scratch))?;
        self.runs.push(file);
        self.pairs.shrink_to_fit();
        Ok(())
    }

    /// Every pair in key order: the spilled runs and what is still in memory, merged.
    fn merged(mut self) -> Result<impl Iterator<Item = PairRead>> {
        self.pairs.sort_unstable();
        let mut sources: Vec<Box<dyn Iterator<Item = PairRead>>> =
            self.runs.into_iter().map(|f| Box::new(Run(BufReader::new(f))) as Box<_>).collect();
        sources.push(Box::new(self.pairs.into_iter().map(Ok)));
        let mut heap = BinaryHeap::new();
        for (i, source) in sources.iter_mut().enumerate() {
            if let Some(pair) = source.next().transpose().map_err(Error::io(Path::new("lookup index run")))? {
                heap.push(Reverse((pair, i)));
            }
        }
        Ok(std::iter::from_fn(move || {
            let Reverse((pair, i)) = heap.pop()?;
            match sources[i].next() {
                Some(Ok(next)) => heap.push(Reverse((next, i))),
                Some(Err(e)) => return Some(Err(e)),
                None => {}
            }
            Some(Ok(pair))
        }))
    }
}

/// A pair of a run, as read back.
type PairRead = std::io::Result<(u64, u32)>;

/// A spilled run's pairs, read back in order.
struct Run(BufReader<File>);

impl Iterator for Run {
    type Item = PairRead;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = [0u8; 12];
        match self.0.read_exact(&mut buf) {
            Ok(()) => Some(Ok((
                u64::from_le_bytes(buf[..8].try_into().unwrap_or_default()),
                u32::from_le_bytes(buf[8..].try_into().unwrap_or_default()),
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Bits to write `v`.
fn width(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

/// A chunk: its length, first key, smallest block and the two widths, then the keys' deltas
/// and the blocks above the smallest, each bit-packed at its width.
fn encode(chunk: &[(u64, u32)], out: &mut Vec<u8>) {
    let min_block = chunk.iter().map(|p| p.1).min().unwrap_or(0);
    let deltas = || chunk.iter().scan(chunk[0].0, |prev, p| Some(p.0 - std::mem::replace(prev, p.0)));
    let key_bits = deltas().map(width).max().unwrap_or(0);
    let block_bits = chunk.iter().map(|p| width(u64::from(p.1 - min_block))).max().unwrap_or(0);
    out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
    out.extend_from_slice(&chunk[0].0.to_le_bytes());
    out.extend_from_slice(&min_block.to_le_bytes());
    out.extend_from_slice(&[key_bits, block_bits]);
    pack(deltas(), key_bits, out);
    pack(chunk.iter().map(|p| u64::from(p.1 - min_block)), block_bits, out);
}

fn pack(values: impl Iterator<Item = u64>, bits: u8, out: &mut Vec<u8>) {
    let (mut acc, mut held) = (0u128, 0u32);
    for v in values {
        acc |= u128::from(v) << held;
        held += u32::from(bits);
        while held >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            held -= 8;
        }
    }
    if held > 0 {
        out.push(acc as u8);
    }
}

fn packed_len(n: usize, bits: u8) -> usize {
    (n * usize::from(bits)).div_ceil(8)
}

/// The `n` values of `bits` bits each at the start of `bytes` (long enough: checked).
fn unpack(bytes: &[u8], n: usize, bits: u8) -> impl Iterator<Item = u64> + '_ {
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let mut at = 0usize;
    let (mut acc, mut held) = (0u128, 0u32);
    (0..n).map(move |_| {
        while held < u32::from(bits) {
            acc |= u128::from(bytes[at]) << held;
            at += 1;
            held += 8;
        }
        let v = (acc as u64) & mask;
        acc >>= bits;
        held -= u32::from(bits);
        v
    })
}

/// The pairs of an encoded chunk, or none when its bytes do not hold together.
fn decode(bytes: &[u8]) -> Option<Vec<(u64, u32)>> {
    let header = bytes.get(..HEADER_BYTES)?;
    let n = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let first = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let min_block = u32::from_le_bytes(header[12..16].try_into().ok()?);
    let (key_bits, block_bits) = (header[16], header[17]);
    if n == 0 || n > CHUNK_ENTRIES || key_bits > 64 || block_bits > 32 {
        return None;
    }
    let (keys_len, blocks_len) = (packed_len(n, key_bits), packed_len(n, block_bits));
    if bytes.len() != HEADER_BYTES + keys_len + blocks_len {
        return None;
    }
    let body = &bytes[HEADER_BYTES..];
    let mut key = first;
    let keys = unpack(body, n, key_bits).map(|d| {
        key = key.wrapping_add(d);
        key
    });
    let blocks = unpack(&body[keys_len..], n, block_bits).map(|b| min_block.saturating_add(b as u32));
    Some(keys.zip(blocks).collect())
}

/// A file's lookup index: its directory, read once; chunks are read per lookup.
#[derive(Debug, Clone)]
pub struct Lookup {
    block_rows: u64,
    columns: Vec<(String, KeyKind, Vec<Line>)>,
}

impl Lookup {
    /// The index named in a file's footer `metadata`, or none when there is none or it does
    /// not hold together (a file rewritten by another tool keeps the entry but not the
    /// bytes): the reader then goes without.
    pub fn read(file: &File, file_len: u64, metadata: Option<&Vec<KeyValue>>) -> Option<Self> {
        let entry = metadata?.iter().find(|kv| kv.key == METADATA_KEY)?.value.as_deref()?;
        let footer: Footer = serde_json::from_str(entry).ok()?;
        if footer.format != FORMAT || footer.block_rows == 0 {
            return None;
        }
        let mut columns = Vec::new();
        for column in footer.columns {
            let len = usize::try_from(column.chunks).ok()?.checked_mul(DIRECTORY_LINE)?;
            if len > MAX_DIRECTORY_BYTES || column.directory.checked_add(len as u64)? > file_len {
                return None;
            }
            let mut bytes = vec![0u8; len];
            file.read_exact_at(&mut bytes, column.directory).ok()?;
            let lines: Vec<Line> = bytes
                .chunks_exact(DIRECTORY_LINE)
                .map(|b| Line {
                    first: u64::from_le_bytes(b[..8].try_into().unwrap_or_default()),
                    last: u64::from_le_bytes(b[8..16].try_into().unwrap_or_default()),
                    offset: u64::from_le_bytes(b[16..24].try_into().unwrap_or_default()),
                    len: u32::from_le_bytes(b[24..28].try_into().unwrap_or_default()),
                })
                .collect();
            let fits = |l: &Line| {
                l.len <= MAX_CHUNK_BYTES
                    && l.offset.checked_add(u64::from(l.len)).is_some_and(|end| end <= column.directory)
            };
            if !lines.iter().all(fits) || !lines.windows(2).all(|w| w[0].last <= w[1].first) {
                return None;
            }
            columns.push((column.name, column.key, lines));
        }
        Some(Self { block_rows: footer.block_rows, columns })
    }

    /// Whether `column` is indexed.
    pub fn covers(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c.0 == column)
    }

    /// The `[start, end)` row ranges that may hold any of `values` in `column`, sorted and
    /// merged; none when the column is not indexed for values of that kind, or its bytes
    /// cannot be read.
    pub fn ranges(&self, file: &File, column: &str, values: Values<'_>) -> Option<Vec<(u64, u64)>> {
        let (_, kind, lines) = self.columns.iter().find(|c| c.0 == column)?;
        let mut keys: Vec<u64> = match (kind, values) {
            (KeyKind::Integer, Values::Integer(v)) => v.iter().copied().map(integer_key).collect(),
            (KeyKind::Text, Values::Text(v)) => v.iter().map(|v| text_key(v)).collect(),
            _ => return None,
        };
        keys.sort_unstable();
        keys.dedup();
        let mut blocks: Vec<u32> = Vec::new();
        let mut read: Option<(usize, Vec<(u64, u32)>)> = None;
        for key in keys {
            // A key's pairs may run over from one chunk into the next.
            let from = lines.partition_point(|l| l.last < key);
            for i in (from..lines.len()).take_while(|&i| lines[i].first <= key) {
                if read.as_ref().is_none_or(|r| r.0 != i) {
                    let line = lines[i];
                    let mut bytes = vec![0u8; line.len as usize];
                    file.read_exact_at(&mut bytes, line.offset).ok()?;
                    read = Some((i, decode(&bytes)?));
                }
                let pairs = &read.as_ref()?.1;
                let start = pairs.partition_point(|p| p.0 < key);
                blocks.extend(pairs[start..].iter().take_while(|p| p.0 == key).map(|p| p.1));
            }
        }
        blocks.sort_unstable();
        blocks.dedup();
        let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(blocks.len());
        for b in blocks {
            let (start, end) = (u64::from(b) * self.block_rows, (u64::from(b) + 1) * self.block_rows);
            match ranges.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
        Some(ranges)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn packing_round_trips_at_every_width() {
        for bits in [0u8, 1, 7, 8, 13, 31, 32, 63, 64] {
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            let values: Vec<u64> = (0..1000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), bits, &mut out);
            assert_eq!(out.len(), packed_len(values.len(), bits));
            assert_eq!(unpack(&out, values.len(), bits).collect::<Vec<_>>(), values, "{bits} bits");
        }
        let chunk = vec![(5, 9), (5, 11), (6, 2), (u64::MAX, 0)];
        let mut out = Vec::new();
        encode(&chunk, &mut out);
        assert_eq!(decode(&out).unwrap(), chunk);
        assert!(decode(&out[..out.len() - 1]).is_none(), "a cut chunk");
    }

    /// 100,000 rows in 25 blocks, ids shuffled, some repeated or null, a text code per row;
    /// pairs spill every few thousand. Every value's ranges hold every row that has it.
    #[test]
    fn every_value_is_found_in_its_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let n = 100_000i64;
        let id = |row: i64| (row * 7919) % n; // a permutation of 0..n
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("code", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]));
        let columns = ["id".to_owned(), "code".to_owned(), "value".to_owned()];
        let mut index = LookupWriter::new(&schema, &columns, 40_000, dir.path());
        assert_eq!(index.columns.len(), 2, "no index of floats");
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), None).unwrap();
        for start in (0..n).step_by(7000) {
            let rows: Vec<i64> = (start..(start + 7000).min(n)).collect();
            let ids: Int64Array = rows.iter().map(|&r| (r % 1000 != 3).then(|| id(r))).collect();
            let codes: StringArray = rows.iter().map(|&r| Some(format!("C-{}", id(r) % 5000))).collect();
            let values = arrow_array::Float64Array::from(rows.iter().map(|&r| r as f64).collect::<Vec<_>>());
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(codes), Arc::new(values)]).unwrap();
            index.add(&batch).unwrap();
            writer.write(&batch).unwrap();
        }
        assert!(index.columns.iter().any(|b| !b.runs.is_empty()), "the pairs spilled");
        index.finish(&mut writer).unwrap();
        writer.close().unwrap();

        let file = File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let reader = parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = parquet::file::reader::FileReader::metadata(&reader).file_metadata().key_value_metadata().cloned();
        let lookup = Lookup::read(&file, len, meta.as_ref()).unwrap();
        assert!(lookup.covers("id") && lookup.covers("code") && !lookup.covers("value"));
        let within = |ranges: &[(u64, u64)], row: i64| ranges.iter().any(|r| r.0 <= row as u64 && (row as u64) < r.1);
        for row in (0..n).step_by(97) {
            let ranges = lookup.ranges(&file, "id", Values::Integer(&[id(row)])).unwrap();
            if row % 1000 == 3 {
                assert!(ranges.is_empty(), "a null is not indexed");
            } else {
                assert_eq!(ranges.len(), 1, "one row, one block");
                assert!(within(&ranges, row));
            }
        }
        // A code held by 20 rows spread over the file: every one of their blocks.
        let code = b"C-17".to_vec();
        let ranges = lookup.ranges(&file, "code", Values::Text(std::slice::from_ref(&code))).unwrap();
        for row in (0..n).filter(|&r| id(r) % 5000 == 17) {
            assert!(within(&ranges, row), "row {row}");
        }
        let absent = lookup.ranges(&file, "id", Values::Integer(&[n + 5, -1])).unwrap();
        assert!(absent.is_empty());
        assert!(lookup.ranges(&file, "id", Values::Text(std::slice::from_ref(&code))).is_none(), "wrong kind");

        // The file is still plain Parquet to any reader, with every row.
        use polars::prelude::{ParquetReader, SerReader};
        let df = ParquetReader::new(File::open(&path).unwrap()).finish().unwrap();
        assert_eq!(df.height(), n as usize);

        // A footer entry pointing past the file is no index at all.
        let mut bad = meta.clone().unwrap();
        for kv in &mut bad {
            if kv.key == METADATA_KEY {
                kv.value = kv.value.as_ref().map(|v| v.replace("\"directory\":", "\"directory\":9"));
            }
        }
        assert!(Lookup::read(&file, len, Some(&bad)).is_none());
    }
}
