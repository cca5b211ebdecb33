//! The catalog's search index: tantivy on disk, with full text over metadata and column
//! names, and facets for organization, tag, format and license.
//!
//! Writers are short-lived: every update opens a writer, commits and drops it, so a CLI
//! ingest and a running server can both update the index. Readers reload on commit (tantivy
//! watches `meta.json`), so a server sees another process's commit within about a second.

mod error;
mod index;
mod schema;

pub use error::{Error, Result};
pub use index::{FacetCount, Facets, Hit, SearchIndex, SearchQuery, SearchResults, Sort};
pub use schema::IndexedDataset;
