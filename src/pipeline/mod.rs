//! The scan pipeline: the edge's non-blocking hand-off (`sink`), the disk spool that takes the
//! overflow (`spool`), enrichment (`user_agent`, `geoip`, `enrich`), and the worker that feeds
//! enriched events to the aggregator (`worker`). `kafka` produces enriched events to the topic of
//! scans in the production topology.

pub mod enrich;
pub mod geoip;
pub mod kafka;
pub mod sink;
pub mod spool;
pub mod user_agent;
pub mod worker;

pub use enrich::Enricher;
pub use sink::ScanSink;
pub use spool::Spool;
