//! The aggregator: rolls scan events up into counts and keeps the detailed events.
//! `rollup` is the pure arithmetic; `embedded` stores it in a local redb file, `redis` in Redis
//! (the production topology, fed by the Kafka consumer, whose `watchdog` reads the partition
//! leases of `ownership`).

pub mod consumer;
pub mod embedded;
pub mod ownership;
pub mod reader;
pub mod redis;
pub mod rollup;
pub mod watchdog;

pub use embedded::{Analytics, AnalyticsError};
pub use reader::AnalyticsReader;
pub use redis::{RedisAnalytics, RedisAnalyticsError};
pub use rollup::{Dimension, Overview};
