//! The portal's model, its catalog and its versioned Parquet store.
//!
//! Everything else in the workspace speaks in terms of this crate:
//! - [`model`] holds organizations, datasets, tables, immutable table versions and columns;
//! - [`Catalog`] is the narrow interface to where metadata lives ([`SqliteCatalog`] by default);
//! - [`Store`] owns the data folder: it hands out staging files and publishes a new
//!   version atomically (write, fsync, rename, then commit the catalog row).
//!
//! The crate knows nothing about HTTP, search or file formats.

mod announce;
mod cache;
mod catalog;
pub mod delta;
mod drafts;
mod error;
pub mod geo;
pub mod ident;
pub mod license;
pub mod model;
mod originals;
mod postgres;
mod runtime;
mod sqlite;
mod storage;
mod store;

pub use catalog::{Catalog, Change, Changes, Draft, MAX_ATTEMPTS, NewVersion, Totals};
pub use error::{Error, Result};
pub use model::*;
pub use postgres::PostgresCatalog;
pub use sqlite::SqliteCatalog;
pub use store::{Locations, StagedFile, Store};
