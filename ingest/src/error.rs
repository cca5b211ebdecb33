/// Why an ingest failed. Every variant says what a publisher can fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's content is a format this portal does not read (yet).
    #[error("unsupported file format: {0}")]
    UnsupportedFormat(String),
    /// The file has no header row or no data columns.
    #[error("the file is empty or has no columns")]
    Empty,
    /// The file has a header but not one row: a version of nothing is never published.
    #[error("the file has column names but no rows: nothing was published")]
    NoRows,
    /// The named encoding is not one we know.
    #[error("unknown encoding `{0}`")]
    UnknownEncoding(String),
    /// A manifest is not valid TOML or does not follow the manifest format.
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// The file could not be parsed; `line` is 0 when no line applies.
    #[error("{message}{}", if *line > 0 { format!(" (line {line})") } else { String::new() })]
    Malformed { line: u64, message: String },
    /// Values that inference accepted did not convert: nothing is published rather than
    /// silently losing them.
    #[error("{count} value(s) of column `{column}` could not be read as {kind}")]
    Unconverted { column: String, count: u64, kind: opendata_datasets::ColumnType },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    /// The columnar engine failed while converting.
    #[error("conversion failed: {0}")]
    Engine(#[from] polars::error::PolarsError),
    /// The written Parquet footer could not be read back.
    #[error("could not read back the written Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A value did not fit its column and the manifest asked for strict ingest.
    #[error(
        "row {row}, column `{column}`: `{value}` does not fit the column's type ({count} such value(s); strict ingest)"
    )]
    Rejected { row: u64, column: String, value: String, count: u64 },
    /// A later table of a multi-table source failed; the earlier ones were published.
    #[error("table `{table}`: {source}")]
    Partial { table: String, source: Box<Error> },
    /// The file is larger than an ingest reads (`limits.*`); the message says which limit.
    #[error("{0}")]
    TooLarge(String),
    /// `sort_by` names a column the table does not have.
    #[error("sort_by names `{column}`, which is not a column of this table (columns: {columns})")]
    UnknownSortColumn { column: String, columns: String },
    /// The catalog or store refused the new version.
    #[error(transparent)]
    Store(#[from] opendata_datasets::Error),
}

/// Arrow errors arise only while reading or writing Parquet and its spilled runs.
impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::Parquet(parquet::errors::ParquetError::from(e))
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
