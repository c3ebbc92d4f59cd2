//! The test clock (`QREDGE_TEST_CLOCK_START_MS`): moves this process's "now", for tests only.

use super::topology::Roles;
use super::ServeError;
use crate::config::Config;

/// Moves this process's clock when the test clock is asked for (refused unless every listener
/// of `roles` is on loopback), with a warning.
pub fn start(config: &Config, roles: Roles) -> Result<(), ServeError> {
    let mut listens = Vec::new();
    if roles.edge {
        listens.push(config.edge.listen);
        listens.extend(config.edge.tls.address()?);
    }
    if roles.api {
        listens.push(config.api.listen);
    }
    listens.extend(config.metrics.address()?);
    let asked = std::env::var(crate::clock::TEST_CLOCK_ENV).ok();
    if let Some(start) = crate::clock::start_test_clock(asked, &listens)? {
        tracing::warn!(
            start_ms = start,
            "the test clock is on: this process's now started at {start} (tests only)"
        );
    }
    Ok(())
}
