//! The data directory (`data_dir`): what qredge keeps there, kept private to its user, and the
//! refusal to take a directory that was used before for a first start.

mod earlier_start;
mod private;

pub use earlier_start::{refuse_if_used, traces_of_earlier_start, LostStore};
pub use private::{create_private_dir, keep_new_files_private, tighten_modes};

/// Every entry qredge creates in the data directory (files, and directories with what is in
/// them), temporary files of its atomic writes included. Modes are tightened on these alone: a
/// data directory pointed at a shared folder by mistake keeps everything else as it is.
pub const ENTRIES: &[&str] = &[
    crate::store::EMBEDDED_FILE,
    crate::store::BOOTSTRAP_FILE,
    "bootstrap.json.tmp",
    crate::aggregate::embedded::EVENTS_DIR,
    crate::aggregate::embedded::CHECKPOINT_FILE,
    "analytics.tmp",
    "analytics.checkpoint.unusable",
    "analytics.redb",
    "analytics.redb.imported",
    SPOOL_DIR,
    GEOIP_COPIES_DIR,
    crate::edge::snapshot::FILE,
    "routes.partial",
];

/// Scans waiting for the pipeline when its queue was full.
pub const SPOOL_DIR: &str = "spool";
/// The private copies the GeoIP databases are mapped from.
pub const GEOIP_COPIES_DIR: &str = "geoip";
