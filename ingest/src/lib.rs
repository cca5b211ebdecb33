//! Turns what agencies send into a new, typed, versioned Parquet table.
//!
//! An ingest is three steps, each in its own module:
//! 1. [`sniff`]: detect the format from content, the encoding and, for text, the delimiter;
//! 2. [`infer`] + [`csv`]: read the whole file once to infer each column's type (a "K" in
//!    row 50,000 turns a column into text instead of breaking the load), then stream it
//!    through polars into zstd Parquet with statistics;
//! 3. [`stats`]: per-column statistics from the Parquet footer and a distinct count;
//! 4. [`cluster`] + [`spill`]: the layout chosen from those statistics (sort keys, page
//!    index, bloom filters), written in bounded memory by an external sort, with the
//!    [`lookup`] index of its identifier columns inside the file.
//!
//! The result is published through [`opendata_datasets::Store::publish`], which is atomic:
//! a failed or interrupted ingest leaves the previous version in place.

mod cluster;
mod columnar;
mod csv;
mod diff;
mod error;
mod excel;
pub mod infer;
mod job;
mod json;
pub mod layout;
pub mod lookup;
pub mod manifest;
mod sketch;
pub mod sniff;
mod spill;
mod stats;

pub use cluster::{Clustering, PAGE_ROWS, SMALL_TABLE_ROWS, SOURCE_ORDER, SortKey, lay_out, with_page_index};
pub use csv::{ROW_GROUP_ROWS, parquet_options};
pub use error::{Error, Result};
pub use job::{IngestJob, IngestLimits, IngestOutcome, IngestReport, Progress, ReadOptions, Skipped, ingest};
