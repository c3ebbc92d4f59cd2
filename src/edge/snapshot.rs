//! The Redis edge's local copy of its route table (`DATA_DIR/routes.snapshot`), so that it can
//! start and serve while Redis is unreachable. Saved after the first load, then at most once a
//! minute while changes arrive, and when the edge stops; read only when Redis cannot be reached.
//!
//! Format: JSON lines. A header `{"format":1,"after":"<change stream id>","routes":N,
//! "domains":[["domain",{team}],…]}`, then one `["routeKey",{route record}]` per route. Written to a temporary file, synced, and renamed
//! into place, so a crash leaves the previous snapshot whole.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use serde::{Deserialize, Serialize};

use super::domains::DomainTable;
use super::route_shards::RouteShardsBuilder;
use super::{Route, RouteTable};
use crate::model::{RouteRecord, Team};

pub const FILE: &str = "routes.snapshot";
const FORMAT: u32 = 1;
/// Saving a million routes takes about a second of one core: not more often than this.
const MIN_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    /// The change stream id the table reflects: following resumes after it.
    after: String,
    routes: usize,
    /// The custom domains with the teams that have them.
    #[serde(default)]
    domains: Vec<(String, Team)>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Writes `table` as of change `after` to `path`, atomically.
pub fn save(path: &Path, table: &RouteTable, after: &str) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let mut out = BufWriter::new(File::create(&partial)?);
    let header = Header {
        format: FORMAT,
        after: after.to_owned(),
        routes: table.len(),
        domains: table.domains().sources().to_vec(),
    };
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for (key, route) in table.routes() {
        serde_json::to_writer(&mut out, &(key, route.record()))?;
        out.write_all(b"\n")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&partial, path)
}

/// Reads a snapshot: the table and the change id to follow from.
pub fn load(path: &Path) -> io::Result<(RouteTable, String)> {
    let mut lines = BufReader::new(File::open(path)?).lines();
    let header: Header = match lines.next() {
        Some(line) => serde_json::from_str(&line?)?,
        None => return Err(invalid("the route snapshot is empty".into())),
    };
    if header.format != FORMAT {
        return Err(invalid(format!(
            "route snapshot format {} (this qredge reads {FORMAT})",
            header.format
        )));
    }
    let mut routes = RouteShardsBuilder::with_capacity(header.routes);
    let mut count = 0;
    for line in lines {
        let (key, record): (String, RouteRecord) = serde_json::from_str(&line?)?;
        if let Some(route) = Route::from_record(&key, &record) {
            routes.push(&key, route);
            count += 1;
        }
    }
    if count != header.routes {
        return Err(invalid(format!(
            "the route snapshot holds {count} routes, its header says {}",
            header.routes
        )));
    }
    let table =
        RouteTable::from_shards(routes.finish()).with_domains(DomainTable::new(header.domains));
    Ok((table, header.after))
}

/// Decides when to save, and saves on a blocking thread without holding up the caller (the
/// change follower, whose latency is the edge's propagation delay).
pub struct Snapshots {
    path: PathBuf,
    /// The table generation of the last save started.
    saved_generation: Option<u64>,
    started_at: Option<Instant>,
    running: Option<JoinHandle<()>>,
}

impl Snapshots {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(FILE),
            saved_generation: None,
            started_at: None,
            running: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts saving `table` (as of change `after`) if it changed since the last save, no save is
    /// running, and the last one started long enough ago. The first offer always saves.
    pub fn offer(&mut self, table: Arc<RouteTable>, after: &str) {
        let busy = self.running.as_ref().is_some_and(|r| !r.is_finished());
        let recent = self
            .started_at
            .is_some_and(|at| at.elapsed() < MIN_INTERVAL);
        if self.saved_generation == Some(table.generation()) || busy || recent {
            return;
        }
        self.saved_generation = Some(table.generation());
        self.started_at = Some(Instant::now());
        let (path, after) = (self.path.clone(), after.to_owned());
        self.running = Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = save(&path, &table, &after) {
                tracing::warn!(error = %e, path = %path.display(), "cannot save the route snapshot");
            }
        }));
    }

    /// Stopping: waits for a running save, then saves what is newer.
    pub async fn finish(&mut self, table: Arc<RouteTable>, after: &str) {
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
        self.started_at = None;
        self.offer(table, after);
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qr;

    #[test]
    fn a_saved_table_loads_back_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let table = RouteTable::from_qrs([
            Qr::web("qr_a", "team_1", "a", "https://a.example/"),
            Qr::web("qr_b", "team_1", "b", "https://b.example/?q=1"),
        ]);
        let c = Qr::web("qr_c", "team_2", "c", "https://c.example/");
        let table = table.with_updates([crate::edge::RouteUpdate {
            key: "c".into(),
            route: Route::for_qr(&c, None),
        }]);
        save(&path, &table, "1700000000000-3").unwrap();

        let (loaded, after) = load(&path).unwrap();
        assert_eq!(after, "1700000000000-3");
        assert_eq!(loaded.len(), 3);
        let b = loaded.lookup("b").unwrap();
        assert_eq!(b.record().location, "https://b.example/?q=1");
        assert_eq!(b.qr_id, "qr_b");
        assert_eq!(loaded.lookup("c").unwrap().team_id, "team_2");
    }

    #[test]
    fn custom_domains_and_their_codes_survive_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut on_domain = Qr::web("qr_d", "team_1", "menu", "https://d.example/");
        on_domain.domain = Some("qr.acme.test".into());
        let team: Team = serde_json::from_value(serde_json::json!({
            "id": "team_1", "orgId": "org_1", "name": "t", "defaultDomain": "qr.acme.test",
            "domains": ["qr.acme.test"], "domainSettings": {"qr.acme.test": {}},
            "createdAt": 0, "createdBy": "m", "updatedAt": 0, "updatedBy": "m"
        }))
        .unwrap();
        let table = RouteTable::from_qrs([on_domain]).with_domains(DomainTable::new(vec![(
            "qr.acme.test".into(),
            team.clone(),
        )]));
        save(&path, &table, "5-0").unwrap();

        let (loaded, _) = load(&path).unwrap();
        assert!(loaded.lookup("qr.acme.test/menu").is_some());
        assert!(
            loaded.lookup("menu").is_none(),
            "not on the platform's domain"
        );
        let domain = loaded.domains().get("qr.acme.test").unwrap();
        assert_eq!(&*domain.team_id, team.id.as_str());
    }

    #[test]
    fn a_truncated_snapshot_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let table = RouteTable::from_qrs([Qr::web("qr_a", "t", "a", "https://a.example/")]);
        save(&path, &table, "0-0").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let header_only = text.lines().next().unwrap();
        fs::write(&path, header_only).unwrap();
        assert!(load(&path).is_err());
    }
}
