//! The Kafka scan producer: the production topology's hand-off from the pipeline worker to the
//! topic of scans.
//!
//! **Message.** Key = the event's `qrId`, so every scan of one code lands in one partition and an
//! aggregator sees that code's scans in order. Value = the [`ScanEvent`] as camelCase JSON, the
//! schema of `docs/events.md`. The message timestamp is the
//! event's `scanTime`, so a spooled scan replayed later still carries the time it happened.
//!
//! **Producer settings, and why.**
//! - `enable.idempotence=true` (`kafka.idempotence`, which implies `acks=all`, set explicitly
//!   too): librdkafka's own retries never write a message twice and keep per-partition order.
//!   Exactness does not rest on it: the aggregator counts each `eventId` once.
//! - `compression.type` (default `lz4`): scan events are repetitive JSON; lz4 shrinks them well
//!   for little CPU.
//! - `linger.ms` (default 5): a few milliseconds of batching amortizes requests under load and
//!   costs nothing a redirect waits for (the edge never waits on Kafka).
//! - `message.timeout.ms` (default 30 s): how long a message may wait for Kafka before it is
//!   reported undelivered and goes to the disk spool.
//! - `partitioner=murmur2_random`: the Java client's key hashing, so any other producer of this
//!   topic puts a `qrId` in the same partition.
//!
//! **Failures.** [`ScanProducer::send_batch`] never blocks on a full queue: it returns what was not
//! delivered, in order, for the caller to spool. A message that timed out after it was sent may
//! still have been written (its acknowledgement was lost), so a replay can repeat it; the
//! aggregator counts each `eventId` once, so the counts stay exact.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Deserialize;

use crate::model::ScanEvent;

/// Where and how scans are produced. Deserialized from the `[kafka]` section of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port,host:port`. Empty (the default): scans do not go through
    /// Kafka; the embedded pipeline counts them in-process.
    pub brokers: String,
    /// The topic of scans.
    pub topic: String,
    /// Partitions of the topic when qredge creates it: the most aggregators that can share the load.
    pub partitions: i32,
    /// Replication factor of the topic when qredge creates it.
    pub replication: i32,
    /// How long a message may wait for Kafka before it is reported undelivered (and spooled).
    pub message_timeout_ms: u64,
    /// How long the producer waits to fill a batch.
    pub linger_ms: u64,
    /// `none`, `gzip`, `snappy` or `lz4` (librdkafka is built without zstd).
    pub compression: String,
    /// librdkafka's idempotent producer: its own retries never duplicate or reorder a message.
    /// Counts are exact either way (the aggregator counts each `eventId` once); turn it off only
    /// for a broker that cannot follow the producer's epoch bump after a timeout (tansu 0.6).
    pub idempotence: bool,
    /// Further librdkafka properties for every client qredge makes (producer, consumer, admin),
    /// e.g. `"security.protocol" = "SASL_SSL"`; see librdkafka's CONFIGURATION.md.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: String::new(),
            topic: "qredge.scans".into(),
            partitions: 6,
            replication: 1,
            message_timeout_ms: 30_000,
            linger_ms: 5,
            compression: "lz4".into(),
            idempotence: true,
            client: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("invalid kafka config: {0}")]
    Config(String),
    #[error("cannot create the kafka client: {0}")]
    Client(#[source] RdKafkaError),
    #[error("kafka admin request failed: {0}")]
    Admin(#[source] RdKafkaError),
    #[error("cannot create topic {topic}: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
}

impl KafkaConfig {
    /// Catches mistakes librdkafka would only report later, or report vaguely.
    pub(crate) fn validate(&self) -> Result<(), KafkaError> {
        if self.brokers.trim().is_empty() {
            return Err(KafkaError::Config(
                "no brokers: set kafka.brokers (QREDGE_KAFKA_BROKERS)".into(),
            ));
        }
        if self.topic.is_empty() {
            return Err(KafkaError::Config("topic is empty".into()));
        }
        if !["none", "gzip", "snappy", "lz4"].contains(&self.compression.as_str()) {
            return Err(KafkaError::Config(format!(
                "compression {:?} is not one of none, gzip, snappy, lz4",
                self.compression
            )));
        }
        if self.partitions < 1 || self.replication < 1 {
            return Err(KafkaError::Config(format!(
                "partitions ({}) and replication ({}) must be at least 1",
                self.partitions, self.replication
            )));
        }
        Ok(())
    }

    /// The settings every client shares; the caller adds its own on top.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "qredge");
        for (key, value) in &self.client {
            config.set(key, value);
        }
        config
    }
}

/// Creates the topic if missing (rdkafka AdminClient); Ok if it exists already. An existing
/// topic is left as it is, whatever its partition count.
pub async fn ensure_topic(config: &KafkaConfig) -> Result<(), KafkaError> {
    config.validate()?;
    let admin: AdminClient<DefaultClientContext> = config
        .client_config()
        .create()
        .map_err(KafkaError::Client)?;
    // Bounded like a message: an unreachable cluster fails this call rather than hanging it.
    let timeout = Some(Duration::from_millis(config.message_timeout_ms));
    let options = AdminOptions::new()
        .request_timeout(timeout)
        .operation_timeout(timeout);
    let topic = NewTopic::new(
        &config.topic,
        config.partitions,
        TopicReplication::Fixed(config.replication),
    );
    let results = admin
        .create_topics([&topic], &options)
        .await
        .map_err(KafkaError::Admin)?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(topic = %config.topic, partitions = config.partitions,
                "created the kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(KafkaError::CreateTopic { topic, code }),
        }
    }
    Ok(())
}

/// Creates the topic if missing, retrying in the background until Kafka answers: an edge serves
/// from the start, and its producer never lets the broker auto-create the topic with the
/// broker's partition count (scans wait in the spool meanwhile).
pub async fn ensure_topic_eventually(
    config: KafkaConfig,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut retry = crate::backoff::Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        match ensure_topic(&config).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry.next_delay(), "cannot make sure the scans topic exists")
            }
        }
        if !retry.wait(&stop).await {
            return;
        }
    }
}

/// Produces scan events to the topic. Cheap to share behind an `Arc`; librdkafka does the
/// batching, compression and retries on its own threads.
pub struct ScanProducer {
    producer: FutureProducer,
    topic: String,
    /// Events enqueued by `send_batch` whose delivery report has not been awaited yet. Our own
    /// count, because librdkafka's lags: it drops a message only after its report is handed over.
    in_flight: AtomicUsize,
}

impl ScanProducer {
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        config.validate()?;
        let producer = config
            .client_config()
            .set("enable.idempotence", config.idempotence.to_string())
            .set("acks", "all")
            .set("compression.type", &config.compression)
            .set("linger.ms", config.linger_ms.to_string())
            .set("message.timeout.ms", config.message_timeout_ms.to_string())
            .set("partitioner", "murmur2_random")
            // The topic is created by ensure_topic with kafka.partitions, never by the broker.
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(KafkaError::Client)?;
        Ok(Self {
            producer,
            topic: config.topic.clone(),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Enqueues every event (key = qrId, payload = the event's JSON) without waiting, then awaits
    /// all delivery reports. Returns the events that were NOT delivered (queue full, timeout,
    /// broker error), in their original order, so the caller can spool exactly those (nothing
    /// delivered is ever spooled, hence nothing is sent twice by the spool). One exception,
    /// inherent to Kafka: a message that timed out after it was sent may have been written; the
    /// aggregator's `eventId` check absorbs that copy. Await it to the end: a dropped call's
    /// events are neither returned nor known to be delivered.
    pub async fn send_batch(&self, events: Vec<ScanEvent>) -> Vec<ScanEvent> {
        let mut delivered = vec![false; events.len()];
        let mut pending = Vec::with_capacity(events.len());
        let mut first_error: Option<RdKafkaError> = None;
        for (i, event) in events.iter().enumerate() {
            let payload = match serde_json::to_vec(event) {
                Ok(payload) => payload,
                // Strings, integers and a bool always serialize; kept undelivered all the same.
                Err(e) => {
                    tracing::error!(error = %e, "cannot serialize a scan event");
                    continue;
                }
            };
            let record = FutureRecord::to(&self.topic)
                .key(&*event.qr_id)
                .payload(&payload)
                .timestamp(event.scan_time);
            // librdkafka copies key and payload: `payload` may be dropped right after.
            match self.producer.send_result(record) {
                Ok(delivery) => pending.push((i, delivery)),
                // Queue full (or a closed producer): undelivered now, never waited for.
                Err((e, _)) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Released when the reports are in, or if the caller drops this future halfway.
        let in_flight = InFlight::add(self, pending.len());

        let (indices, deliveries): (Vec<usize>, Vec<_>) = pending.into_iter().unzip();
        for (i, report) in indices.into_iter().zip(join_all(deliveries).await) {
            match report {
                Ok(Ok(_)) => delivered[i] = true,
                Ok(Err((e, _))) => {
                    first_error.get_or_insert(e);
                }
                // Only if the producer were dropped mid-flight; we hold it, so this is moot.
                Err(_canceled) => {}
            }
        }
        drop(in_flight);

        let sent = delivered.iter().filter(|&&d| d).count();
        let failed = events.len() - sent;
        metrics::counter!("qredge_kafka_delivered_total").increment(sent as u64);
        if failed > 0 {
            metrics::counter!("qredge_kafka_delivery_errors_total").increment(failed as u64);
            // One line per batch, not per event: an absent Kafka fails every message.
            match &first_error {
                Some(e) => tracing::warn!(failed, delivered = sent, error = %e,
                    "scans not delivered to kafka"),
                None => tracing::warn!(failed, delivered = sent, "scans not delivered to kafka"),
            }
        }
        events
            .into_iter()
            .zip(delivered)
            .filter_map(|(event, delivered)| (!delivered).then_some(event))
            .collect()
    }

    /// Flushes in-flight messages (for shutdown), bounded by `timeout`. Blocks the calling thread:
    /// call it from a blocking context (or at the very end of shutdown).
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, in_flight = self.producer.in_flight_count(),
                "kafka flush did not finish");
        }
    }

    /// Events handed to Kafka by `send_batch` calls still waiting for their delivery reports.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Counts a batch in `qredge_kafka_in_flight` while it waits for its delivery reports.
struct InFlight<'a> {
    producer: &'a ScanProducer,
    count: usize,
}

impl<'a> InFlight<'a> {
    fn add(producer: &'a ScanProducer, count: usize) -> Self {
        let now = producer.in_flight.fetch_add(count, Ordering::Relaxed) + count;
        metrics::gauge!("qredge_kafka_in_flight").set(now as f64);
        Self { producer, count }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let now = self
            .producer
            .in_flight
            .fetch_sub(self.count, Ordering::Relaxed)
            - self.count;
        metrics::gauge!("qredge_kafka_in_flight").set(now as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_config_keeps_the_defaults_and_unknown_keys_are_refused() {
        let config: KafkaConfig = toml::from_str("brokers = \"k1:9092,k2:9092\"").unwrap();
        assert_eq!(config.brokers, "k1:9092,k2:9092");
        assert_eq!(config.topic, "qredge.scans");
        assert_eq!(config.partitions, 6);
        assert_eq!(config.compression, "lz4");
        assert!(toml::from_str::<KafkaConfig>("brokrs = \"k1:9092\"").is_err());
    }

    #[test]
    fn bad_settings_are_refused_before_any_connection() {
        let empty = KafkaConfig {
            brokers: " ".into(),
            ..KafkaConfig::default()
        };
        assert!(matches!(
            ScanProducer::new(&empty),
            Err(KafkaError::Config(_))
        ));
        let codec = KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            compression: "brotli".into(),
            ..KafkaConfig::default()
        };
        assert!(matches!(
            ScanProducer::new(&codec),
            Err(KafkaError::Config(_))
        ));
    }
}
