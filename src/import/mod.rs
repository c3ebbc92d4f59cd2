//! `qredge import`: codes created in bulk from a CSV file, straight into the configured store
//! (the embedded one in the data directory, or Redis), each validated exactly as the API
//! validates a create.
//!
//! A thread reads and validates the rows while the store writes the previous batch. The embedded
//! store takes each batch in one write transaction; Redis runs the API's own create script for
//! every code, pipelined, so that running edges serve the codes as they arrive.

mod csv_rows;

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::config::Config;
use crate::ids::{new_id, SequentialIds};
use crate::model::qr_input::{new_qr, QrInput, WriteContext};
use crate::model::{Qr, Team};
use crate::store::redis::RedisStore;
use crate::store::{EmbeddedStore, Store, StoreError};

pub use csv_rows::{CsvRows, Row};

/// Rows validated and written together: one embedded write transaction each.
const BATCH_ROWS: usize = 10_000;
/// Batches read ahead of the store.
const BATCHES_AHEAD: usize = 2;
/// What the codes of an import name as their creator: no member made them through the API.
pub const CREATED_BY: &str = "import";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error(
        "no embedded store in {0} (it is created by the first `qredge serve`; set data_dir or \
         QREDGE_DATA_DIR, or redis.url for the Redis store)"
    )]
    NoStore(PathBuf),
    #[error(
        "the embedded store in {0} is open in another process (a running `qredge serve`?): stop \
         it, import, and start it again; it serves the imported codes from its start"
    )]
    StoreInUse(PathBuf),
    #[error("team {0:?} does not exist in this store; nothing was imported")]
    UnknownTeam(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error(
        "the store failed after {imported} codes were imported; the rows from line {line} on \
         were not (or not all) imported: {source}"
    )]
    Interrupted {
        imported: u64,
        line: u64,
        source: StoreError,
    },
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub imported: u64,
    pub refused: u64,
    /// The `batchId` every imported code carries.
    pub batch_id: String,
}

/// Rows read and validated together, in file order.
struct Batch {
    /// Valid codes, with their lines.
    codes: Vec<(u64, Qr)>,
    /// Rows refused before reaching the store, with their lines and reasons.
    refused: Vec<(u64, String)>,
}

/// Imports `file` into team `team_id` of the configured store, writing one line per refused row
/// (`line N: reason`, in file order) to `report`.
pub async fn run(
    config: &Config,
    team_id: &str,
    file: &Path,
    report: &mut impl Write,
) -> Result<Summary, ImportError> {
    let input = std::fs::File::open(file).map_err(|source| ImportError::File {
        path: file.to_owned(),
        source,
    })?;
    let csv_error = |message| ImportError::Csv {
        path: file.to_owned(),
        message,
    };
    let rows =
        CsvRows::new(std::io::BufReader::with_capacity(1 << 20, input)).map_err(csv_error)?;
    let store = open_store(config).await?;
    let team = store
        .team(team_id)
        .await?
        .ok_or_else(|| ImportError::UnknownTeam(team_id.to_owned()))?;
    // The team's own templates, which a templateId column may name (besides the built-ins).
    let templates: Vec<String> = store
        .team_templates(team_id)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let batch_id = new_id("batch");

    let (batches, mut received) = mpsc::channel(BATCHES_AHEAD);
    let reader = {
        let batch_id = batch_id.clone();
        let edge_url = crate::config::public_base_url(&config.edge.public_url, config.edge.listen);
        let platform_host = crate::model::validate::host_of(&edge_url);
        tokio::task::spawn_blocking(move || {
            read_batches(rows, &team, &templates, &platform_host, &batch_id, batches)
        })
    };
    let mut summary = Summary {
        imported: 0,
        refused: 0,
        batch_id,
    };
    while let Some(Batch { codes, mut refused }) = received.recv().await {
        let first_line = codes.first().map_or(0, |(line, _)| *line);
        let (lines, codes): (Vec<u64>, Vec<Qr>) = codes.into_iter().unzip();
        let display_ids: Vec<String> = codes.iter().map(|qr| qr.display_id.clone()).collect();
        let stored = store
            .create_qrs(codes)
            .await
            .map_err(|source| ImportError::Interrupted {
                imported: summary.imported,
                line: first_line,
                source,
            })?;
        for ((line, display_id), stored) in lines.into_iter().zip(display_ids).zip(stored) {
            if stored {
                summary.imported += 1;
            } else {
                refused.push((line, StoreError::DisplayIdTaken(display_id).to_string()));
            }
        }
        refused.sort_by_key(|(line, _)| *line);
        summary.refused += refused.len() as u64;
        for (line, reason) in refused {
            let _ = writeln!(report, "line {line}: {reason}");
        }
        tracing::debug!(imported = summary.imported, "batch stored");
    }
    // The reader's own failure: the file could not be read on.
    match reader.await {
        Ok(Ok(())) => Ok(summary),
        Ok(Err(message)) => Err(csv_error(message)),
        Err(e) => Err(csv_error(format!("reading stopped: {e}"))),
    }
}

/// The store the configuration names, as the other roles open it; the embedded one must exist
/// already (an import into a store no team exists in would only fail). `qredge sign-in-link`
/// opens it the same way.
pub async fn open_store(config: &Config) -> Result<Store, ImportError> {
    if !config.redis.url.is_empty() {
        let redis = RedisStore::connect(&config.redis.url, &config.redis.key_prefix).await?;
        return Ok(Store::from(
            redis.with_changes_kept(config.store.changes_kept),
        ));
    }
    let dir = &config.data_dir;
    if !dir.join(crate::store::EMBEDDED_FILE).exists() {
        return Err(ImportError::NoStore(dir.clone()));
    }
    match EmbeddedStore::open(dir) {
        Ok(store) => Ok(Store::from(
            store.with_changes_kept(config.store.changes_kept),
        )),
        Err(StoreError::Db(redb::Error::DatabaseAlreadyOpen)) => {
            Err(ImportError::StoreInUse(dir.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The code a row asks for, as every import stores it (`qredge import` and the API's CSV
/// import): validated like an API create, its displayId the row's (never a generated one), in
/// batch `batch_id`.
pub fn row_code(
    input: Result<QrInput, String>,
    id: String,
    ctx: &WriteContext,
    batch_id: &str,
) -> Result<Qr, String> {
    let mut qr = input.and_then(|input| new_qr(input, id, String::new(), ctx))?;
    qr.batch_id = Some(batch_id.to_owned());
    Ok(qr)
}

/// Reads and validates every row, sending them on in batches. Err: the file could not be read on.
fn read_batches(
    rows: CsvRows<impl std::io::Read>,
    team: &Team,
    templates: &[String],
    platform_host: &str,
    batch_id: &str,
    batches: mpsc::Sender<Batch>,
) -> Result<(), String> {
    let empty = || Batch {
        codes: Vec::with_capacity(BATCH_ROWS),
        refused: Vec::new(),
    };
    let mut batch = empty();
    let mut ids = SequentialIds::new("qr");
    for row in rows {
        let Row { line, input } = row?;
        let ctx = WriteContext {
            team,
            member_id: CREATED_BY,
            now: now_ms(),
            platform_host,
            templates,
        };
        match row_code(input, ids.next_id(), &ctx, batch_id) {
            Ok(qr) => batch.codes.push((line, qr)),
            Err(reason) => batch.refused.push((line, reason)),
        }
        let full = batch.codes.len() + batch.refused.len() >= BATCH_ROWS;
        // A send fails when the writer stopped (the store failed): it reports why.
        if full
            && batches
                .blocking_send(std::mem::replace(&mut batch, empty()))
                .is_err()
        {
            return Ok(());
        }
    }
    let _ = batches.blocking_send(batch);
    Ok(())
}
