/// What can go wrong in the search index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// tantivy failed (I/O, corrupt segment, lock held too long).
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index folder could not be created.
    #[error("cannot create the index folder {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    /// The index on disk was built with another schema; run `opendata reindex`.
    #[error("the search index has an outdated schema; rebuild it with `opendata reindex`")]
    SchemaMismatch,
    /// A glossary's text is not a valid glossary.
    #[error("invalid glossary: {0}")]
    Glossary(String),
    /// Dataset vectors that cannot be used: of another model, or a damaged file.
    #[error("dataset vectors: {0}")]
    Vectors(String),
    /// The embedding model failed, timed out or is busy; the search goes on by words.
    #[error("embedding model: {0}")]
    Embedder(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
