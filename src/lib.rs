//! qredge: dynamic QR codes and short links with a fast scan edge and exact analytics.
//!
//! One role per module: `edge` answers scans, `pipeline` carries them to `aggregate`, `store`
//! keeps codes and teams, `api` is the management REST API, `hosted` turns a code's settings into
//! the pages the edge serves, `listener` is what every HTTP listener does against hostile clients.
//! `serve` wires them into one process; `import` creates codes in bulk from a CSV file.

/// redb reports each step's failure with its own type; at our module boundaries they all mean
/// "the storage failed", so each boundary's error converts them into its `Db(redb::Error)`.
macro_rules! from_redb_errors {
    ($target:ty) => {
        from_redb_errors!(
            $target: redb::DatabaseError,
            redb::TransactionError,
            redb::TableError,
            redb::StorageError,
            redb::CommitError
        );
    };
    ($target:ty: $($source:ty),*) => {$(
        impl From<$source> for $target {
            fn from(e: $source) -> Self {
                Self::Db(e.into())
            }
        }
    )*};
}

pub mod aggregate;
pub mod api;
pub mod backoff;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod data_dir;
pub mod edge;
pub mod file_watch;
pub mod hosted;
pub mod ids;
pub mod import;
pub mod listener;
pub mod model;
pub mod pipeline;
pub mod qr_image;
pub mod redis_link;
pub mod redis_page;
pub mod serve;
pub mod store;
pub mod telemetry;
