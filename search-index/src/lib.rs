//! The catalog's search index: tantivy on disk, full text in Mongolian (either script) and
//! English over metadata, columns and column values, with typo tolerance, highlights,
//! suggestions, facets for organization, tag, format, license and years, and a bilingual
//! glossary that joins the two languages' words for the same thing.
//!
//! Writers are short-lived: every update opens a writer, commits and drops it, so a CLI
//! ingest and a running server can both update the index. Readers reload on commit (tantivy
//! watches `meta.json`), so a server sees another process's commit within about a second.

pub mod analysis;
pub mod e5;
mod error;
pub mod glossary;
mod index;
mod schema;
pub mod semantic;

pub use error::{Error, Result};
pub use glossary::Glossary;
pub use index::hybrid::Synced;
pub use index::{
    Audience, FacetCount, Facets, Hit, Lang, Retrieval, SearchIndex, SearchQuery, SearchResults, Sort, SuggestedTitle,
    Suggestions, clause_count,
};
pub use schema::IndexedDataset;
