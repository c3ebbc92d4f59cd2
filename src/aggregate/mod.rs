//! The aggregator: rolls scan events up into counts and keeps the detailed events.
//! `rollup` is the pure arithmetic; `embedded` stores it in a local redb file.

pub mod embedded;
pub mod rollup;

pub use embedded::{Analytics, AnalyticsError};
pub use rollup::Overview;
