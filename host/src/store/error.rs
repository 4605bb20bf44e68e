//! What went wrong in the store, whichever backend runs, and whether it is
//! the disk's or the database's doing (retry later) or a bug or bad data.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption it detected).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be decoded.
    #[error("store: {what} could not be decoded: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// Something outside sled's calls failed.
    #[error("store: {what}: {detail}")]
    Io {
        /// What the store was doing.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// PostgreSQL failed (connection, server, or a statement).
    #[error("store: database: {}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled database connection could be had (the database is down or
    /// every connection is busy past the wait).
    #[error("store: database connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The database URL could not be parsed.
    #[error("store: the database URL is not valid: {detail}")]
    BadUrl {
        /// The parser's message.
        detail: String,
    },
    /// The database's schema is newer than this binary knows: a newer
    /// wasmhook migrated it.
    #[error(
        "store: the database schema is version {found}, newer than this wasmhook knows ({known}); \
         run the newer wasmhook or restore a matching database"
    )]
    SchemaTooNew {
        /// The database's schema version.
        found: i32,
        /// The newest this binary knows.
        known: i32,
    },
    /// A migration failed; nothing of it was applied.
    #[error("store: database migration {version} failed: {detail}")]
    Migration {
        /// The migration's version.
        version: i32,
        /// The database's message.
        detail: String,
    },
    /// The store is shutting down.
    #[error("store: closed")]
    Closed,
    /// Writes are refused for now (low disk space, a failed write).
    #[error("store: not taking writes: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// Whether this is the disk's, the filesystem's or the database
    /// connection's doing (full, failing, read-only, unreachable) rather
    /// than a bug or bad data: retrying later may work.
    pub fn is_io(&self) -> bool {
        match self {
            StoreError::Sled(sled::Error::Io(_))
            | StoreError::Io { .. }
            | StoreError::Unavailable { .. }
            | StoreError::Pool(_) => true,
            StoreError::Postgres(error) => postgres_is_io(error),
            _ => false,
        }
    }
}

/// Whether a PostgreSQL error is the connection's or the server's state
/// rather than the statement's: no SQLSTATE (the connection failed or
/// closed), connection exceptions (08), insufficient resources (53),
/// shutdown or crash (57P01–57P05), system errors (58).
fn postgres_is_io(error: &tokio_postgres::Error) -> bool {
    let Some(code) = error.code() else {
        return true;
    };
    let code = code.code();
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || code.starts_with("58")
}

/// A PostgreSQL error on one line with what caused it: the driver's own
/// text names only the kind ("db error", "error connecting to server").
fn postgres_detail(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}
