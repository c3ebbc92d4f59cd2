//! Why a role could not start.

use std::net::SocketAddr;

use crate::aggregate::consumer::ConsumerError;
use crate::aggregate::redis::RedisAnalyticsError;
use crate::aggregate::AnalyticsError;
use crate::config::ConfigError;
use crate::edge::tls::TlsError;
use crate::pipeline::geoip::GeoIpError;
use crate::pipeline::kafka::KafkaError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error("cannot reach Redis for the analytics: {0}")]
    RedisAnalytics(#[from] RedisAnalyticsError),
    #[error(transparent)]
    GeoIp(#[from] GeoIpError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Consumer(#[from] ConsumerError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Redis is unreachable and the route snapshot {path} cannot be read: {source}")]
    Snapshot {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen for stop signals: {0}")]
    Signal(std::io::Error),
    #[error("cannot open the scan spool: {0}")]
    Spool(std::io::Error),
    #[error("the data directory: {0}")]
    DataDir(std::io::Error),
    #[error("the embedded store {}: {source}", .path.display())]
    EmbeddedStore {
        path: std::path::PathBuf,
        source: StoreError,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Metrics(String),
    #[error("{0}")]
    Setup(&'static str),
    #[error(transparent)]
    TestClock(#[from] crate::clock::TestClockError),
}
