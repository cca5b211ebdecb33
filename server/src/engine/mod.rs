//! The query engine: everything that turns a request into polars work over a version's
//! Parquet file.
//!
//! - [`rows`]: the rows API's parameters, validated against a table's columns, and the plan
//!   of a page, a count or an export;
//! - [`page_index`]: point reads through a sorted file's page index;
//! - [`sql`]: the read-only SQL checker, and [`memtable`]: tables held decoded for SQL;
//! - [`gate`]: admission, so that a burst of queries waits instead of exhausting the server.

pub mod gate;
pub mod memtable;
pub mod page_index;
pub mod rows;
pub mod sql;
