use std::path::PathBuf;

/// Everything that can go wrong in the catalog and the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No dataset with this id (or it was withdrawn).
    #[error("dataset `{0}` not found")]
    DatasetNotFound(String),
    /// The dataset exists but has no table of that name.
    #[error("table `{table}` not found in dataset `{dataset}`")]
    TableNotFound { dataset: String, table: String },
    /// The table exists but not at that version.
    #[error("version {version} of table `{table}` not found")]
    VersionNotFound { table: String, version: u32 },
    /// No organization with this id.
    #[error("organization `{0}` not found")]
    OrganizationNotFound(String),
    /// An identifier (dataset, table or organization id) is not a safe slug.
    #[error("invalid identifier `{value}`: {reason}")]
    InvalidId { value: String, reason: &'static str },
    /// No user with this id.
    #[error("user `{0}` not found")]
    UserNotFound(String),
    /// A user with this id already exists.
    #[error("user `{0}` already exists")]
    UserExists(String),
    /// No API token with this id.
    #[error("token `{0}` not found")]
    TokenNotFound(String),
    /// No ingest job with this id.
    #[error("job `{0}` not found")]
    JobNotFound(String),
    /// Publishing would remove or retype columns readers rely on, and was not confirmed.
    #[error("this version would break what readers rely on: {0}; confirm to publish it")]
    BreakingChange(String),
    /// The dataset was withdrawn, for this reason.
    #[error("dataset `{id}` was withdrawn: {reason}")]
    DatasetWithdrawn { id: String, reason: String },
    /// A restore named a dataset that is not withdrawn (or was withdrawn before
    /// withdrawals were kept whole).
    #[error("dataset `{0}` is not withdrawn: there is nothing to restore")]
    NothingToRestore(String),
    /// The dataset has no file or link with this id.
    #[error("dataset `{dataset}` has no resource `{id}`")]
    ResourceNotFound { dataset: String, id: String },
    /// The table has no such draft (it was published, replaced or overtaken).
    #[error("{0}")]
    DraftNotFound(String),
    /// The catalog database failed.
    #[error("catalog error: {0}")]
    Catalog(#[from] rusqlite::Error),
    /// The PostgreSQL catalog failed.
    #[error("catalog error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The catalog cannot be reached (no connection, or its runtime stopped).
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The backend cannot do this; the message says what to use instead.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// A filesystem operation failed.
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Stored JSON in the catalog could not be decoded.
    #[error("corrupt catalog entry: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl Error {
    /// Whether the dataset asked for is not in the catalog: never made, or withdrawn.
    pub fn is_missing_dataset(&self) -> bool {
        matches!(self, Error::DatasetNotFound(_) | Error::DatasetWithdrawn { .. })
    }

    /// Whether the catalog's database or the bucket could not be reached: an outage of a
    /// moment (a restart, a lost connection), worth a retry, not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable(_) => true,
            // No SQLSTATE: the connection failed; 08: connection exceptions; 57P: shutdown.
            Error::Postgres(e) => {
                e.is_closed() || e.code().is_none_or(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
            }
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
