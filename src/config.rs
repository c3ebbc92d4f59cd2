//! The one typed configuration: an optional TOML file, then environment overrides.
//!
//! Every key is documented in `config/embedded.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store, analytics and spool live.
    pub data_dir: PathBuf,
    pub edge: EdgeConfig,
    pub api: ApiConfig,
    pub geoip: GeoipConfig,
    pub pipeline: PipelineConfig,
    pub store: StoreConfig,
    pub redis: RedisConfig,
    pub kafka: crate::pipeline::kafka::KafkaConfig,
    pub aggregator: AggregatorConfig,
    pub event_log: EventLogConfig,
    pub metrics: MetricsConfig,
}

/// `[event_log]`: the embedded topology's log of scan events (`data_dir/events/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventLogConfig {
    /// Days the detailed scan events are kept: closed segments last written longer ago are
    /// removed once a checkpoint covers them (counts stay). 0 (the default): kept for good.
    /// The Redis topology's `aggregator.retention_days` is its own.
    pub retention_days: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` (Prometheus text) is served, e.g. `127.0.0.1:9464`. Empty: not served.
    pub listen: String,
}

impl MetricsConfig {
    pub fn address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.is_empty() {
            return Ok(None);
        }
        parse_addr("metrics.listen", self.listen.clone()).map(Some)
    }
}

/// `[store]`: what both stores (embedded and Redis) share.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Entries the change feed that edges follow keeps (the embedded table exactly, the Redis
    /// stream about as many): an edge further behind reads every route afresh.
    pub changes_kept: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            changes_kept: crate::store::DEFAULT_CHANGES_KEPT,
        }
    }
}

impl StoreConfig {
    pub fn changes_kept(&self) -> Result<u64, ConfigError> {
        match self.changes_kept {
            0 => Err(ConfigError::Invalid {
                key: "store.changes_kept",
                value: "0".into(),
                reason: "the change feed keeps at least one entry".into(),
            }),
            kept => Ok(kept),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`. Empty (the default): the embedded store in `data_dir`.
    pub url: String,
    /// Prefix of every key qredge writes; the `{…}` hash tag keeps the store in one Cluster slot.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregatorConfig {
    /// The Kafka consumer group the aggregators share.
    pub group: String,
    /// This aggregator's static membership of the group (Kafka's `group.instance.id`, KIP-345):
    /// restarted under the same id, it takes its own partitions back at once. Empty (the
    /// default): a dynamic member. No two live aggregators of a group may share one.
    pub instance_id: String,
    /// How long the broker waits for a silent aggregator (crashed, host lost) before its
    /// partitions go to the others; also how long partitions may go unconsumed before the
    /// aggregators form the group anew.
    pub session_timeout_ms: u64,
    /// Days the detailed scan events are kept.
    pub retention_days: u32,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "qredge:{s}:".into(),
        }
    }
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            group: "qredge-aggregator".into(),
            instance_id: String::new(),
            session_timeout_ms: 10_000,
            retention_days: 90,
        }
    }
}

impl AggregatorConfig {
    /// The configured instance id (None: a dynamic member); refused when Kafka would refuse it.
    pub fn instance_id(&self) -> Result<Option<&str>, ConfigError> {
        let id = self.instance_id.as_str();
        if id.is_empty() {
            return Ok(None);
        }
        // Kafka's rule for group instance ids (the one for topic names).
        let valid = id.len() <= 249
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(ConfigError::Invalid {
                key: "aggregator.instance_id",
                value: id.to_owned(),
                reason: "at most 249 of the characters a-z A-Z 0-9 . _ -".into(),
            });
        }
        Ok(Some(id))
    }

    pub fn session_timeout(&self) -> Result<std::time::Duration, ConfigError> {
        // Kafka brokers accept 6-1800 s by default (group.min/max.session.timeout.ms).
        if !(1_000..=3_600_000).contains(&self.session_timeout_ms) {
            return Err(ConfigError::Invalid {
                key: "aggregator.session_timeout_ms",
                value: self.session_timeout_ms.to_string(),
                reason: "between 1000 and 3600000".into(),
            });
        }
        Ok(std::time::Duration::from_millis(self.session_timeout_ms))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    pub listen: SocketAddr,
    /// The base URL that printed codes carry, ending in '/'. Derived from `listen` when empty.
    pub public_url: String,
    /// Largest request head (request line and headers) the edge reads before answering 431/400.
    pub max_header_bytes: usize,
    /// A client that has not sent its whole request head by then is disconnected.
    pub header_read_timeout_ms: u64,
    /// A request body (a password form) not received whole by then is answered 408.
    pub body_read_timeout_ms: u64,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open connections (plain and TLS together) beyond this wait for a free slot before they
    /// are accepted.
    pub max_connections: usize,
    /// Networks of our own proxies / load balancers (CIDR): from these peers the client address
    /// is read from `Forwarded` / `X-Forwarded-For`. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Record client addresses cut to IPv4 /24 and IPv6 /48.
    pub anonymize_ip: bool,
    /// Scans of unknown codes per custom domain and second recorded in full.
    pub orphans_per_second: u32,
    /// Beyond `orphans_per_second`, one orphan scan in this many is recorded; 0: none.
    pub orphans_sample_one_in: u32,
    /// HTTPS terminated by the edge itself; off unless `tls.listen` is set.
    pub tls: TlsConfig,
}

/// `[edge.tls]`: an HTTPS listener next to the plain one, with certificates chosen by SNI.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Where HTTPS is served, e.g. `0.0.0.0:8443`. Empty (the default): no TLS listener.
    pub listen: String,
    /// A directory of `NAME.crt` (the certificate, then its chain, PEM) with `NAME.key` (its
    /// private key, PEM). A certificate serves the DNS names of its subjectAltName extension.
    pub certificates_dir: PathBuf,
    /// The `NAME` of the pair served when the client sends no SNI or a name no certificate has.
    /// Empty: such handshakes fail.
    pub default_certificate: String,
    /// How often the directory is checked for new, changed or removed files; 0: never.
    pub reload_interval_ms: u64,
    /// A client that has not finished its TLS handshake by then is disconnected.
    pub handshake_timeout_ms: u64,
    /// Most requests in flight at once on one HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            listen: String::new(),
            certificates_dir: PathBuf::new(),
            default_certificate: String::new(),
            reload_interval_ms: 10_000,
            handshake_timeout_ms: 10_000,
            http2_max_concurrent_streams: 128,
        }
    }
}

impl TlsConfig {
    /// The HTTPS address, or None when TLS is off; a listener without certificates is an error.
    pub fn address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.is_empty() {
            return Ok(None);
        }
        let addr = parse_addr("edge.tls.listen", self.listen.clone())?;
        if self.certificates_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "edge.tls.certificates_dir",
                value: String::new(),
                reason: "edge.tls.listen is set: name the directory of NAME.crt and NAME.key \
                         files to serve"
                    .into(),
            });
        }
        Ok(Some(addr))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The base URL of the API as clients reach it, ending in '/'. Derived from `listen` when empty.
    pub public_url: String,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers) the API reads before answering 431.
    pub max_header_bytes: usize,
    /// A client that has not sent its whole request head by then is disconnected.
    pub header_read_timeout_ms: u64,
    /// A request body not received whole by then is answered 408.
    pub body_read_timeout_ms: u64,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open connections beyond this wait for a free slot before they are accepted.
    pub max_connections: usize,
    /// API requests a team may make per minute, by its organization's plan (shared by every API
    /// process: counted in Redis in production, in memory on the embedded store).
    pub requests_per_minute: PlanRates,
    /// Live (not deleted) codes a team may have, by its organization's plan; 0: no limit. The
    /// API refuses a create past it; `qredge import`, the operator's tool, is not limited.
    pub codes_per_team: PlanCodeLimits,
    /// Teams an organization may have, by its plan; 0: no limit. `POST /api/teams-api` past it
    /// is refused.
    pub teams_per_org: PlanTeamLimits,
    /// Requests for public image URLs (`/images/…`, no credentials) a client address may make
    /// per minute (an IPv6 client's whole /64 shares one count), counted like the teams' limits.
    pub image_requests_per_minute: u64,
    /// Proxies in front of the API whose `Forwarded` / `X-Forwarded-For` name the client of a
    /// public image request (as `edge.trusted_proxies` for scans); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The dashboard served at `/` of this listener.
    pub dashboard: DashboardConfig,
}

/// The dashboard's sign-in (`[api.dashboard]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// How long a signed-in session lasts, in hours (it ends sooner at sign-out, or when its
    /// member is removed or paused).
    pub session_hours: u64,
    /// How long a one-time sign-in link stays usable, in minutes.
    pub sign_in_link_minutes: u64,
    /// Password sign-ins one email may try per minute; past it they are refused (429) without
    /// a password hash computed. Counted like the API's rate limits.
    pub sign_in_tries_per_minute: u64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            session_hours: 12,
            sign_in_link_minutes: 15,
            sign_in_tries_per_minute: 10,
        }
    }
}

/// A number for each plan, with its defaults (a section of its own type, so that a section
/// naming some plans takes the others' defaults).
macro_rules! per_plan {
    ($(#[$doc:meta])* $name:ident { $free:expr, $business:expr, $business_plus:expr, $enterprise:expr }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub free: u64,
            pub business: u64,
            pub business_plus: u64,
            pub enterprise: u64,
        }

        impl $name {
            pub fn of(&self, plan: crate::model::Plan) -> u64 {
                use crate::model::Plan;
                match plan {
                    Plan::Free => self.free,
                    Plan::Business => self.business,
                    Plan::BusinessPlus => self.business_plus,
                    Plan::Enterprise => self.enterprise,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    free: $free,
                    business: $business,
                    business_plus: $business_plus,
                    enterprise: $enterprise,
                }
            }
        }
    };
}

per_plan!(
    /// API requests a team may make per minute.
    PlanRates { 60, 300, 1_200, 6_000 }
);

per_plan!(
    /// Live codes a team may have; 0: no limit.
    PlanCodeLimits { 100, 10_000, 1_000_000, 0 }
);

per_plan!(
    /// Teams an organization may have; 0: no limit.
    PlanTeamLimits { 3, 10, 100, 0 }
);

impl PlanCodeLimits {
    /// The plan's limit, None when it has none.
    pub fn limit(&self, plan: crate::model::Plan) -> Option<u64> {
        Some(self.of(plan)).filter(|n| *n > 0)
    }
}

impl PlanTeamLimits {
    /// The plan's limit, None when it has none.
    pub fn limit(&self, plan: crate::model::Plan) -> Option<u64> {
        Some(self.of(plan)).filter(|n| *n > 0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoipConfig {
    /// Path of one City database (GeoIP2/GeoLite2 or ip-location-db schema). The short form of
    /// `databases` for the usual single file; setting both is an error.
    pub database: Option<PathBuf>,
    /// City databases looked up in order until one knows the address, e.g. the separate IPv4 and
    /// IPv6 files of ip-location-db. Empty (and no `database`): scans carry no country or city.
    pub databases: Vec<PathBuf>,
    /// How often each database file's metadata is checked for a new version; 0: never reloaded.
    pub reload_interval_ms: u64,
}

impl Default for GeoipConfig {
    fn default() -> Self {
        Self {
            database: None,
            databases: Vec::new(),
            reload_interval_ms: 10_000,
        }
    }
}

impl GeoipConfig {
    /// The database files in lookup order; empty when none is configured.
    pub fn paths(&self) -> Result<Vec<PathBuf>, ConfigError> {
        match &self.database {
            Some(one) if !self.databases.is_empty() => Err(ConfigError::Invalid {
                key: "geoip.database",
                value: one.display().to_string(),
                reason: "set geoip.database or geoip.databases, not both".into(),
            }),
            Some(one) => Ok(vec![one.clone()]),
            None => Ok(self.databases.clone()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Scans held in memory between the edge and the aggregator; beyond it they go to the spool.
    pub queue_capacity: usize,
    /// Most scans appended to the event log in one write (one fsync), or sent to Kafka at once.
    pub batch_size: usize,
    /// How long a batch that is not full waits for more scans: fewer, larger writes (one fsync
    /// or one Kafka send each), for analytics that see a scan this much later. 0: no wait.
    pub batch_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            edge: EdgeConfig::default(),
            api: ApiConfig::default(),
            geoip: GeoipConfig::default(),
            pipeline: PipelineConfig::default(),
            store: StoreConfig::default(),
            redis: RedisConfig::default(),
            kafka: Default::default(),
            aggregator: AggregatorConfig::default(),
            event_log: EventLogConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            public_url: String::new(),
            max_header_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            idle_timeout_ms: 10_000,
            max_connections: 10_000,
            trusted_proxies: Vec::new(),
            anonymize_ip: false,
            orphans_per_second: 50,
            orphans_sample_one_in: 1_000,
            tls: TlsConfig::default(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_url: String::new(),
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 1_024,
            requests_per_minute: PlanRates::default(),
            codes_per_team: PlanCodeLimits::default(),
            teams_per_org: PlanTeamLimits::default(),
            image_requests_per_minute: 600,
            trusted_proxies: Vec::new(),
            dashboard: DashboardConfig::default(),
        }
    }
}

/// The names of a listener's limit keys: the cap, then the head, body and idle timeouts.
type LimitKeys = [&'static str; 4];
const EDGE_LIMITS: LimitKeys = [
    "edge.max_connections",
    "edge.header_read_timeout_ms",
    "edge.body_read_timeout_ms",
    "edge.idle_timeout_ms",
];
const API_LIMITS: LimitKeys = [
    "api.max_connections",
    "api.header_read_timeout_ms",
    "api.body_read_timeout_ms",
    "api.idle_timeout_ms",
];

/// A listener's client limits, checked: the connection cap and every timeout at least 1.
fn connection_limits(
    keys: LimitKeys,
    max_connections: usize,
    max_header_bytes: usize,
    timeouts_ms: [u64; 3],
) -> Result<crate::listener::Limits, ConfigError> {
    let values = [
        max_connections as u64,
        timeouts_ms[0],
        timeouts_ms[1],
        timeouts_ms[2],
    ];
    if let Some((key, _)) = keys.iter().zip(values).find(|(_, value)| *value == 0) {
        return Err(ConfigError::Invalid {
            key,
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(crate::listener::Limits {
        max_connections,
        max_header_bytes,
        header_read_timeout: Duration::from_millis(timeouts_ms[0]),
        body_read_timeout: Duration::from_millis(timeouts_ms[1]),
        idle_timeout: Duration::from_millis(timeouts_ms[2]),
    })
}

impl EdgeConfig {
    /// `edge.orphans_per_second` and `edge.orphans_sample_one_in`.
    pub fn orphan_limits(&self) -> crate::edge::orphans::OrphanLimits {
        crate::edge::orphans::OrphanLimits {
            per_second: self.orphans_per_second,
            sample_one_in: self.orphans_sample_one_in,
        }
    }

    /// `edge.max_connections`, `edge.max_header_bytes` and the edge's timeouts.
    pub fn limits(&self) -> Result<crate::listener::Limits, ConfigError> {
        connection_limits(
            EDGE_LIMITS,
            self.max_connections,
            self.max_header_bytes,
            [
                self.header_read_timeout_ms,
                self.body_read_timeout_ms,
                self.idle_timeout_ms,
            ],
        )
    }
}

impl ApiConfig {
    /// `api.max_connections`, `api.max_header_bytes` and the API's timeouts.
    pub fn limits(&self) -> Result<crate::listener::Limits, ConfigError> {
        connection_limits(
            API_LIMITS,
            self.max_connections,
            self.max_header_bytes,
            [
                self.header_read_timeout_ms,
                self.body_read_timeout_ms,
                self.idle_timeout_ms,
            ],
        )
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            batch_size: 2_048,
            batch_wait_ms: 2,
        }
    }
}

/// Environment variables that override the file, with the key each one sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("QREDGE_DATA_DIR", "data_dir"),
    ("QREDGE_EDGE_LISTEN", "edge.listen"),
    ("QREDGE_EDGE_PUBLIC_URL", "edge.public_url"),
    ("QREDGE_EDGE_TLS_LISTEN", "edge.tls.listen"),
    (
        "QREDGE_EDGE_TLS_CERTIFICATES_DIR",
        "edge.tls.certificates_dir",
    ),
    (
        "QREDGE_EDGE_TLS_DEFAULT_CERTIFICATE",
        "edge.tls.default_certificate",
    ),
    ("QREDGE_API_LISTEN", "api.listen"),
    ("QREDGE_API_PUBLIC_URL", "api.public_url"),
    ("QREDGE_GEOIP_DB", "geoip.databases"),
    ("QREDGE_REDIS_URL", "redis.url"),
    ("QREDGE_KAFKA_BROKERS", "kafka.brokers"),
    ("QREDGE_KAFKA_TOPIC", "kafka.topic"),
    ("QREDGE_AGGREGATOR_INSTANCE_ID", "aggregator.instance_id"),
    ("QREDGE_METRICS_LISTEN", "metrics.listen"),
];

impl Config {
    /// The file (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.metrics.address()?;
        config.edge.tls.address()?;
        config.edge.limits()?;
        config.api.limits()?;
        config.geoip.paths()?;
        config.store.changes_kept()?;
        config.aggregator.session_timeout()?;
        config.aggregator.instance_id()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Applies overrides from `lookup` (the environment in production, a map in tests).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for &(name, key) in ENV_OVERRIDES {
            let Some(value) = lookup(name) else { continue };
            match key {
                "data_dir" => self.data_dir = PathBuf::from(value),
                "edge.listen" => self.edge.listen = parse_addr(key, value)?,
                "edge.public_url" => self.edge.public_url = value,
                "edge.tls.listen" => self.edge.tls.listen = value,
                "edge.tls.certificates_dir" => {
                    self.edge.tls.certificates_dir = PathBuf::from(value)
                }
                "edge.tls.default_certificate" => self.edge.tls.default_certificate = value,
                "api.listen" => self.api.listen = parse_addr(key, value)?,
                "api.public_url" => self.api.public_url = value,
                // One path or several separated by ':' (like PATH); it replaces both file keys.
                "geoip.databases" => {
                    self.geoip.database = None;
                    self.geoip.databases = std::env::split_paths(&value)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect();
                }
                "redis.url" => self.redis.url = value,
                "kafka.brokers" => self.kafka.brokers = value,
                "kafka.topic" => self.kafka.topic = value,
                "aggregator.instance_id" => self.aggregator.instance_id = value,
                "metrics.listen" => self.metrics.listen = value,
                _ => unreachable!("every override names a key handled here"),
            }
        }
        Ok(())
    }
}

fn parse_addr(key: &'static str, value: String) -> Result<SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
            key,
            reason: e.to_string(),
            value,
        })
}

/// The public base URL for a listener: the configured one (with a trailing '/'), or one derived
/// from the address it actually bound (an unspecified IP becomes `localhost`).
pub fn public_base_url(configured: &str, bound: SocketAddr) -> String {
    if !configured.is_empty() {
        let mut url = configured.to_owned();
        if !url.ends_with('/') {
            url.push('/');
        }
        return url;
    }
    let host = if bound.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        match bound {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    format!("http://{host}:{}/", bound.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.edge.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:8081");
        assert!(c.geoip.paths().unwrap().is_empty());
        assert_eq!(c.geoip.reload_interval_ms, 10_000);
        assert_eq!(c.aggregator.session_timeout_ms, 10_000);
    }

    #[test]
    fn an_aggregator_is_a_dynamic_member_unless_it_is_given_an_id() {
        let mut c = AggregatorConfig::default();
        assert_eq!(c.instance_id().unwrap(), None);
        let mut config = Config::default();
        config
            .apply_env(|k| (k == "QREDGE_AGGREGATOR_INSTANCE_ID").then(|| "agg-2".into()))
            .unwrap();
        assert_eq!(config.aggregator.instance_id().unwrap(), Some("agg-2"));
        for bad in ["two words", "a/b", &"x".repeat(250)] {
            c.instance_id = bad.to_owned();
            let err = c.instance_id().unwrap_err().to_string();
            assert!(err.contains("aggregator.instance_id"), "{err}");
        }
    }

    #[test]
    fn a_session_timeout_out_of_range_is_refused() {
        let mut c = AggregatorConfig::default();
        assert_eq!(c.session_timeout().unwrap().as_millis(), 10_000);
        c.session_timeout_ms = 10;
        let err = c.session_timeout().unwrap_err().to_string();
        assert!(err.contains("aggregator.session_timeout_ms"), "{err}");
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/embedded.toml");
        let c = Config::from_file(&path).expect("config/embedded.toml parses");
        let d = Config::default();
        assert_eq!(c.edge.listen, d.edge.listen);
        assert_eq!(c.api.listen, d.api.listen);
        assert_eq!(c.api.max_body_bytes, d.api.max_body_bytes);
        let teams = |l: &PlanTeamLimits| [l.free, l.business, l.business_plus, l.enterprise];
        assert_eq!(teams(&c.api.teams_per_org), teams(&d.api.teams_per_org));
        assert_eq!(c.pipeline.queue_capacity, d.pipeline.queue_capacity);
        assert_eq!(c.geoip.reload_interval_ms, d.geoip.reload_interval_ms);
        assert_eq!(c.store.changes_kept().unwrap(), d.store.changes_kept);
        assert_eq!(c.edge.tls.address().unwrap(), None);
        assert_eq!(c.edge.tls.reload_interval_ms, d.edge.tls.reload_interval_ms);
        assert_eq!(
            c.edge.tls.handshake_timeout_ms,
            d.edge.tls.handshake_timeout_ms
        );
        assert_eq!(
            c.edge.tls.http2_max_concurrent_streams,
            d.edge.tls.http2_max_concurrent_streams
        );
        assert_eq!(c.edge.limits().unwrap(), d.edge.limits().unwrap());
        assert_eq!(c.api.limits().unwrap(), d.api.limits().unwrap());
        assert_eq!(c.edge.orphan_limits(), d.edge.orphan_limits());
        assert_eq!(c.aggregator.instance_id, d.aggregator.instance_id);
        assert_eq!(
            c.aggregator.session_timeout_ms,
            d.aggregator.session_timeout_ms
        );
    }

    #[test]
    fn a_change_feed_keeps_at_least_one_entry() {
        let mut c = Config::default();
        c.store.changes_kept = 0;
        let err = c.store.changes_kept().unwrap_err().to_string();
        assert!(err.contains("store.changes_kept"), "{err}");
    }

    #[test]
    fn the_production_example_has_the_default_limits() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
        let c = Config::from_file(&path).unwrap();
        let d = Config::default();
        assert_eq!(c.edge.limits().unwrap(), d.edge.limits().unwrap());
        assert_eq!(c.api.limits().unwrap(), d.api.limits().unwrap());
        assert_eq!(c.edge.orphan_limits(), d.edge.orphan_limits());
        assert_eq!(c.store.changes_kept, d.store.changes_kept);
    }

    #[test]
    fn a_zero_limit_is_refused_by_name() {
        for (text, key) in [
            ("[edge]\nmax_connections = 0\n", "edge.max_connections"),
            ("[edge]\nidle_timeout_ms = 0\n", "edge.idle_timeout_ms"),
            (
                "[api]\nbody_read_timeout_ms = 0\n",
                "api.body_read_timeout_ms",
            ),
            (
                "[api]\nheader_read_timeout_ms = 0\n",
                "api.header_read_timeout_ms",
            ),
        ] {
            let c: Config = toml::from_str(text).unwrap();
            let err = c.edge.limits().and(c.api.limits()).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_production_example_names_redis_and_kafka() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
        let c = Config::from_file(&path).expect("config/production.toml parses");
        assert!(c.redis.url.starts_with("redis://"));
        assert!(!c.kafka.brokers.is_empty());
        assert_eq!(c.aggregator.group, "qredge-aggregator");
        assert!(c.kafka.idempotence);
        assert_eq!(c.kafka.client["socket.keepalive.enable"], "true");
        assert!(c.metrics.address().unwrap().is_some());
    }

    #[test]
    fn environment_overrides_the_file() {
        let env: HashMap<&str, &str> = [
            ("QREDGE_DATA_DIR", "/tmp/q"),
            ("QREDGE_EDGE_LISTEN", "127.0.0.1:0"),
            ("QREDGE_GEOIP_DB", "/geo/City.mmdb"),
        ]
        .into();
        let mut c = Config::default();
        c.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/q"));
        assert_eq!(c.edge.listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            c.geoip.paths().unwrap(),
            vec![PathBuf::from("/geo/City.mmdb")]
        );
    }

    #[test]
    fn geoip_databases_come_from_either_key_or_the_environment() {
        let one: Config = toml::from_str("[geoip]\ndatabase = \"/geo/City.mmdb\"\n").unwrap();
        assert_eq!(
            one.geoip.paths().unwrap(),
            vec![PathBuf::from("/geo/City.mmdb")]
        );
        let mut two: Config =
            toml::from_str("[geoip]\ndatabases = [\"/geo/v4.mmdb\", \"/geo/v6.mmdb\"]\n").unwrap();
        assert_eq!(
            two.geoip.paths().unwrap(),
            vec![PathBuf::from("/geo/v4.mmdb"), PathBuf::from("/geo/v6.mmdb")]
        );
        // The environment replaces what the file says, with one path or several.
        two.apply_env(|k| (k == "QREDGE_GEOIP_DB").then(|| "/env/a.mmdb:/env/b.mmdb".into()))
            .unwrap();
        assert_eq!(
            two.geoip.paths().unwrap(),
            vec![PathBuf::from("/env/a.mmdb"), PathBuf::from("/env/b.mmdb")]
        );
        two.apply_env(|k| (k == "QREDGE_GEOIP_DB").then(String::new))
            .unwrap();
        assert!(two.geoip.paths().unwrap().is_empty(), "empty: no database");
    }

    #[test]
    fn both_geoip_keys_at_once_are_refused() {
        let c: Config = toml::from_str(
            "[geoip]\ndatabase = \"/geo/City.mmdb\"\ndatabases = [\"/geo/v4.mmdb\"]\n",
        )
        .unwrap();
        let err = c.geoip.paths().unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn a_bad_listen_address_is_a_clear_error() {
        let mut c = Config::default();
        let err = c
            .apply_env(|k| (k == "QREDGE_API_LISTEN").then(|| "not-an-addr".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("api.listen"), "{err}");
    }

    #[test]
    fn tls_is_off_unless_a_listener_is_set() {
        let c = Config::default();
        assert_eq!(c.edge.tls.address().unwrap(), None);
        let c: Config = toml::from_str(
            "[edge.tls]\nlisten = \"127.0.0.1:8443\"\ncertificates_dir = \"/etc/qredge/certs\"\n",
        )
        .unwrap();
        assert_eq!(
            c.edge.tls.address().unwrap(),
            Some("127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(c.edge.tls.reload_interval_ms, 10_000);
        // A listener without certificates is refused, naming the missing key.
        let mut c = Config::default();
        c.apply_env(|k| (k == "QREDGE_EDGE_TLS_LISTEN").then(|| "127.0.0.1:8443".into()))
            .unwrap();
        let err = c.edge.tls.address().unwrap_err();
        assert!(err.to_string().contains("certificates_dir"), "{err}");
        assert!(toml::from_str::<Config>("[edge.tls]\ncert_dir = \"x\"\n").is_err());
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        assert!(toml::from_str::<Config>("[edge]\nlisten_port = 1\n").is_err());
    }

    #[test]
    fn public_urls_are_derived_from_the_bound_address() {
        let bound: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(public_base_url("", bound), "http://localhost:8080/");
        assert_eq!(
            public_base_url("https://qr.example.com", bound),
            "https://qr.example.com/"
        );
    }
}
