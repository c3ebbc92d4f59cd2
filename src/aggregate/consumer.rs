//! `qredge aggregator`: a Kafka consumer group member that applies scan events to the Redis
//! rollups, exactly once.
//!
//! Exactness rests on Redis, not on Kafka's committed offsets: each batch is applied by one Lua
//! call that also records the highest offset applied per partition, and events at or below it are
//! skipped (see `aggregate::redis`). Offsets are committed to Kafka afterwards, asynchronously,
//! only so that a restarted consumer does not re-read far back; re-read events are skipped.
//! An event that reached the topic twice is counted once by its event id.
//!
//! Takeover: a crashed aggregator's partitions go to the live members once its session times
//! out (`aggregator.session_timeout_ms`), and one restarted at once joins as a new member; given
//! a stable `aggregator.instance_id` it is a static member instead and takes its own place back
//! without a rebalance (on brokers that implement KIP-345). The `watchdog` mends coordinators
//! that leave partitions without a holder all the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::ownership::Leases;
use super::redis::RedisAnalytics;
use super::watchdog::Watchdog;
use crate::backoff::Backoff;
use crate::config::{AggregatorConfig, ConfigError};
use crate::model::ScanEvent;
use crate::pipeline::kafka::{KafkaConfig, KafkaError};
use crate::store::redis::RedisStore;

/// Most events applied in one Lua call.
pub const MAX_BATCH: usize = 2_000;
/// How long a batch waits to fill once its first event has arrived.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// How long a team's time zone is trusted before it is read again.
const ZONE_TTL: Duration = Duration::from_secs(60);
const RETRY_MAX: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Config(#[from] KafkaError),
    #[error("cannot create the Kafka consumer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Setting(#[from] ConfigError),
}

/// Follows the partitions this aggregator owns: logs each change (the first thing to look at
/// when counting stalls), notes newly assigned ones, to be moved to the offset Redis holds, and
/// tells the watchdog whether a rebalance is under way and how many revocations there were.
pub struct Assignments {
    to_seek: std::sync::Mutex<Vec<i32>>,
    revocations: AtomicU64,
    /// Since when this consumer has been joining the group (started, revoked, or rejoining and
    /// not assigned since); None once it is assigned.
    joining_since: std::sync::Mutex<Option<Instant>>,
}

impl Default for Assignments {
    fn default() -> Self {
        Self {
            to_seek: Default::default(),
            revocations: AtomicU64::new(0),
            joining_since: std::sync::Mutex::new(Some(Instant::now())),
        }
    }
}

impl Assignments {
    fn take_to_seek(&self) -> Vec<i32> {
        std::mem::take(&mut *self.to_seek.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn revocations(&self) -> u64 {
        self.revocations.load(Ordering::Acquire)
    }

    /// How long the consumer has been joining the group; None when it is assigned.
    pub fn joining_for(&self) -> Option<Duration> {
        let since = *self.joining();
        since.map(|since| since.elapsed())
    }

    /// Notes that a join starts now (the watchdog's rejoin).
    pub fn joining_from_now(&self) {
        *self.joining() = Some(Instant::now());
    }

    fn joining(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.joining_since.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for Assignments {}

impl ConsumerContext for Assignments {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance) {
        let partitions = |list: &TopicPartitionList| -> Vec<i32> {
            list.elements().iter().map(|e| e.partition()).collect()
        };
        match rebalance {
            Rebalance::Assign(list) => {
                tracing::info!(partitions = ?partitions(list), "partitions assigned");
                *self.joining() = None;
                self.to_seek
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(partitions(list));
            }
            Rebalance::Revoke(list) => {
                tracing::info!(partitions = ?partitions(list), "partitions revoked");
                self.revocations.fetch_add(1, Ordering::AcqRel);
                *self.joining() = Some(Instant::now());
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "consumer group rebalance failed"),
        }
    }
}

/// Team time zones, read from the store and cached.
struct Zones {
    store: RedisStore,
    cache: HashMap<String, (Tz, Instant)>,
}

impl Zones {
    async fn refresh(&mut self, team_ids: impl Iterator<Item = &str>) {
        for team_id in team_ids {
            let fresh = self
                .cache
                .get(team_id)
                .is_some_and(|(_, at)| at.elapsed() < ZONE_TTL);
            if fresh {
                continue;
            }
            let zone = match self.store.team(team_id).await {
                Ok(Some(team)) => team.zone(),
                // Unknown team (deleted since) or Redis hiccup: UTC, re-read next time.
                _ => Tz::UTC,
            };
            self.cache
                .insert(team_id.to_owned(), (zone, Instant::now()));
        }
    }

    fn of(&self, team_id: &str) -> Tz {
        self.cache.get(team_id).map_or(Tz::UTC, |(zone, _)| *zone)
    }
}

pub struct Aggregator {
    pub consumer: Arc<StreamConsumer<Assignments>>,
    pub topic: String,
    pub group: String,
    pub analytics: RedisAnalytics,
    /// Renews this aggregator's partition leases and rejoins when partitions are left behind;
    /// taken by `run`.
    watchdog: Option<Watchdog>,
    zones: Zones,
}

impl Aggregator {
    pub fn new(
        kafka: &KafkaConfig,
        settings: &AggregatorConfig,
        analytics: RedisAnalytics,
        store: RedisStore,
    ) -> Result<Self, ConsumerError> {
        kafka.validate()?;
        let topic = kafka.topic.as_str();
        let group = settings.group.as_str();
        let instance = settings.instance_id()?;
        let session = settings.session_timeout()?.as_millis();
        let mut config = kafka.client_config();
        if let Some(instance) = instance {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<Assignments> = config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // A crashed aggregator that does not come back loses its partitions to the others
            // after this long (librdkafka's 45 s default would stall counting most of a minute).
            .set("session.timeout.ms", session.to_string())
            .set("heartbeat.interval.ms", (session / 10).to_string())
            .create_with_context(Assignments::default())?;
        consumer.subscribe(&[topic])?;
        tracing::info!(group, instance, "joining the consumer group");
        // Who holds a lease, for an operator reading Redis.
        let holder = instance.map_or_else(|| format!("pid-{}", std::process::id()), str::to_owned);
        let consumer = Arc::new(consumer);
        let watchdog = Watchdog {
            consumer: Arc::clone(&consumer),
            topic: topic.to_owned(),
            group: group.to_owned(),
            holder,
            leases: Leases::new(&analytics, topic, group),
            analytics: analytics.clone(),
            grace: Duration::from_millis(settings.session_timeout_ms),
        };
        Ok(Self {
            consumer,
            topic: topic.to_owned(),
            group: group.to_owned(),
            analytics,
            watchdog: Some(watchdog),
            zones: Zones {
                store,
                cache: HashMap::new(),
            },
        })
    }

    /// Consumes and applies until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        let watchdog = self
            .watchdog
            .take()
            .map(|w| tokio::spawn(w.run(stop.clone())));
        self.consume(&stop).await;
        if let Some(watchdog) = watchdog {
            let _ = watchdog.await;
        }
    }

    async fn consume(&mut self, stop: &CancellationToken) {
        loop {
            let batch = tokio::select! {
                _ = stop.cancelled() => return,
                batch = self.next_batch() => batch,
            };
            let Some((mut events, mut highest)) = batch else {
                continue;
            };
            // A partition assigned while this batch was read starts again where Redis says;
            // what was read of it before the seek is read again after it.
            let moved = self.seek_to_applied().await;
            if !moved.is_empty() {
                events.retain(|(partition, _, _)| !moved.contains(partition));
                highest.retain(|partition, _| !moved.contains(partition));
            }
            self.apply_until_done(&events, stop).await;
            self.commit(&highest);
        }
    }

    /// Moves newly assigned partitions to just after the offset Redis says was applied, and
    /// returns those it moved. Kafka's committed offset is normally the same or older (it is
    /// committed after Redis), but Redis is the truth: if it lost its last writes (a failover),
    /// re-reading recounts them.
    async fn seek_to_applied(&self) -> Vec<i32> {
        let mut moved = Vec::new();
        let partitions = self.consumer.context().take_to_seek();
        if partitions.is_empty() {
            return moved;
        }
        let applied = match self
            .analytics
            .committed_offsets(&self.topic, &self.group)
            .await
        {
            Ok(applied) => applied,
            Err(e) => {
                // Kafka's committed offsets stand in; re-read events are skipped all the same.
                tracing::warn!(error = %e, "cannot read the applied offsets; resuming from Kafka's");
                return moved;
            }
        };
        for partition in partitions {
            let Some(&offset) = applied.get(&partition) else {
                continue;
            };
            let to = Offset::Offset(offset + 1);
            match self
                .consumer
                .seek(&self.topic, partition, to, Duration::from_secs(5))
            {
                Ok(()) => {
                    tracing::info!(
                        partition,
                        offset = offset + 1,
                        "resuming after the offset Redis applied"
                    );
                    moved.push(partition);
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "cannot seek; resuming from Kafka's committed offset")
                }
            }
        }
        moved
    }

    /// Ends the process on an error librdkafka cannot recover from (the consumer would only
    /// repeat it): above all a broker fencing this static member because another aggregator
    /// joined under the same instance id. A supervisor restarting it would only fence the other
    /// in turn, so the message names the setting to fix.
    fn stop_if_fatal(&self) {
        let Some((code, reason)) = self.consumer.client().fatal_error() else {
            return;
        };
        let hint = if code == RDKafkaErrorCode::FencedInstanceId {
            ": another aggregator of the group runs with the same aggregator.instance_id \
             (QREDGE_AGGREGATOR_INSTANCE_ID); give each its own"
        } else {
            ""
        };
        tracing::error!(
            ?code,
            reason,
            "the Kafka consumer failed for good{hint}; stopping"
        );
        std::process::exit(1);
    }

    /// Waits for one message, then takes what arrives within the batch window.
    /// Returns the events and the highest offset seen per partition.
    async fn next_batch(&self) -> Option<(Vec<(i32, i64, ScanEvent)>, HashMap<i32, i64>)> {
        let mut events = Vec::new();
        let mut highest = HashMap::new();
        let first = match self.consumer.recv().await {
            Ok(message) => message.detach(),
            Err(e) => {
                self.stop_if_fatal();
                tracing::warn!(error = %e, "Kafka consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                return None;
            }
        };
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            highest
                .entry(message.partition())
                .and_modify(|o: &mut i64| *o = (*o).max(message.offset()))
                .or_insert(message.offset());
            match message.payload().map(serde_json::from_slice::<ScanEvent>) {
                Some(Ok(event)) => events.push((message.partition(), message.offset(), event)),
                Some(Err(e)) => {
                    tracing::warn!(partition = message.partition(), offset = message.offset(), error = %e, "skipping a malformed scan event");
                    metrics::counter!("qredge_aggregator_malformed_total").increment(1);
                }
                None => {}
            }
            if events.len() >= MAX_BATCH {
                break;
            }
            if let Ok(Ok(more)) = tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                next = Some(more.detach());
            }
        }
        Some((events, highest))
    }

    /// A batch is applied or retried: never skipped, so a Redis outage only delays counts.
    async fn apply_until_done(
        &mut self,
        events: &[(i32, i64, ScanEvent)],
        stop: &CancellationToken,
    ) {
        if events.is_empty() {
            return;
        }
        let mut retry = Backoff::new(Duration::from_millis(100), RETRY_MAX);
        loop {
            self.zones
                .refresh(events.iter().map(|(_, _, e)| &*e.team_id))
                .await;
            let zones = &self.zones;
            match self
                .analytics
                .apply(&self.topic, &self.group, events, &|team| zones.of(team))
                .await
            {
                Ok(counted) => {
                    metrics::counter!("qredge_aggregator_events_total").increment(counted as u64);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, events = events.len(), "applying a batch failed; retrying");
                    if !retry.wait(stop).await {
                        return;
                    }
                }
            }
        }
    }

    fn commit(&self, highest: &HashMap<i32, i64>) {
        let mut offsets = TopicPartitionList::new();
        for (&partition, &offset) in highest {
            if let Err(e) =
                offsets.add_partition_offset(&self.topic, partition, Offset::Offset(offset + 1))
            {
                tracing::warn!(error = %e, "cannot record an offset to commit");
            }
        }
        if let Err(e) = self.consumer.commit(&offsets, CommitMode::Async) {
            // Harmless: Redis holds the applied offsets; a re-read is skipped there.
            tracing::debug!(error = %e, "committing offsets to Kafka failed");
        }
    }
}
