//! The aggregator: rolls scan events up into counts and keeps the detailed events.
//! `rollup` is the pure arithmetic (a referrer counts under its host: `referrer`) and `visitors`
//! the unique-visitor sketch; `embedded` keeps the rollups and events in `DATA_DIR`, `redis` in
//! Redis (the production topology, fed by the Kafka consumer, whose `watchdog` reads the
//! partition leases of `ownership`). Both answer the API through one `contract`, with days in
//! each team's zone (`team_zones`).

pub mod consumer;
pub mod contract;
pub mod embedded;
mod local_days;
pub mod ownership;
mod prefetch;
pub mod redis;
mod redis_reads;
mod redis_team_build;
pub mod referrer;
pub mod rollup;
pub mod team_zones;
pub mod visitors;
pub mod watchdog;

pub use contract::{AnalyticsReader, ScanAnalytics};
pub use embedded::{Analytics, AnalyticsError};
pub use redis::{RedisAnalytics, RedisAnalyticsError};
pub use rollup::{Dimension, Overview};
pub use team_zones::{StoreZones, TeamZones};
