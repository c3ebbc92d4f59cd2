//! Takeover when the group coordinator leaves partitions behind.
//!
//! A broker moves a crashed aggregator's partitions to the live ones once its session times out,
//! and assigns a restarted one its share when it joins. Not every coordinator
//! does: tansu 0.6 can hand the survivors their old assignment again, or a restarted aggregator
//! none at all, and then scans wait in Kafka with nobody counting them. So each aggregator leases
//! the partitions it holds (`ownership`) and checks every second for partitions that no lease
//! holds and whose applied offset stands still; once that has lasted a session timeout, it leaves
//! the consumer group and joins again, which makes the coordinator form the group anew. A healthy
//! coordinator never lets it come to that: it reassigns a dead holder's partitions within the
//! session timeout, and the watchdog waits for the lease to lapse and a session timeout more.
//! Idle partitions count too: left unassigned, they would not be counted once scans arrive. An
//! aggregator in the middle of joining rejoins only once that join has lasted a grace too.
//!
//! A rejoin never counts a scan twice or loses one, even when for a while two aggregators read
//! the same partition (one not yet told of its revocation, the other newly assigned): each batch
//! and the partition's applied offset are one Lua call, which Redis runs alone, skipping events at
//! or below the stored offset (and event ids it has seen) and only ever raising that offset; and
//! each reader starts just after the stored offset and reads on without gaps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::time::{sleep, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::consumer::Assignments;
use super::ownership::Leases;
use super::redis::{RedisAnalytics, RedisAnalyticsError};

/// How often leases are renewed and the partitions checked.
const TICK: Duration = Duration::from_secs(1);
/// How long a lease outlives its last renewal.
const LEASE: Duration = Duration::from_secs(3);
/// How long the metadata request of a check may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a rejoin waits for librdkafka to leave the group (see `Watchdog::rejoin`).
const LEAVE_WAIT: Duration = Duration::from_secs(10);
/// From the revocation to the LeaveGroup request being sent: librdkafka's main thread, at once.
const LEAVE_SETTLE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Analytics(#[from] RedisAnalyticsError),
    #[error("the topic {0} is not in the broker's metadata")]
    NoTopic(String),
    #[error("a Kafka request task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub struct Watchdog {
    pub consumer: Arc<StreamConsumer<Assignments>>,
    pub topic: String,
    pub group: String,
    /// Who this aggregator is, the value of its leases.
    pub holder: String,
    pub analytics: RedisAnalytics,
    pub leases: Leases,
    /// How long partitions may be left behind before the group is joined anew.
    pub grace: Duration,
}

impl Watchdog {
    pub async fn run(self, stop: CancellationToken) {
        let mut left_behind = LeftBehind::default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let held = self.held();
            metrics::gauge!("qredge_aggregator_partitions").set(held.len() as f64);
            if let Err(e) = self.leases.renew(&self.holder, &held, LEASE).await {
                tracing::debug!(error = %e, "cannot renew the partition leases");
                continue;
            }
            match self.unheld().await {
                Ok(found) => left_behind.update(Instant::now(), &found),
                Err(e) => {
                    // Kafka or Redis away: nothing can be taken over; start afresh once back.
                    tracing::debug!(error = %e, "cannot check the partitions' holders");
                    left_behind = LeftBehind::default();
                    continue;
                }
            }
            let partitions = left_behind.since(Instant::now(), self.grace);
            if !partitions.is_empty() && self.may_rejoin() {
                tracing::warn!(?partitions, after = ?self.grace,
                    "partitions have no live holder: leaving the consumer group and joining it again");
                self.rejoin(&stop).await;
                left_behind = LeftBehind::default();
            }
        }
    }

    /// Whether this aggregator may rejoin: it is done joining (assigned, if only nothing), or its
    /// join has lasted a grace already. A join under way is let finish, since leaving in its
    /// middle starts it over; but one that never finishes must not keep the partitions idle for
    /// good: after a Kafka outage tansu 0.6 kept a lost member as the group's leader, and its
    /// only other member was answered "rebalance in progress" to every SyncGroup from then on.
    fn may_rejoin(&self) -> bool {
        done_joining_or_stuck(self.consumer.context().joining_for(), self.grace)
    }

    /// The partitions of the topic assigned to this aggregator.
    fn held(&self) -> Vec<i32> {
        let assignment = self.consumer.assignment().unwrap_or_default();
        let mut held: Vec<i32> = assignment
            .elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect();
        held.sort_unstable();
        held
    }

    /// Partitions no lease holds, each with the offset applied of it.
    async fn unheld(&self) -> Result<Vec<(i32, Option<i64>)>, CheckError> {
        let consumer = Arc::clone(&self.consumer);
        let topic = self.topic.clone();
        // librdkafka's request blocks: off the async threads.
        let count =
            tokio::task::spawn_blocking(move || partition_count(&consumer, &topic)).await??;
        let unheld = self.leases.unheld(count).await?;
        if unheld.is_empty() {
            return Ok(Vec::new());
        }
        let applied = self
            .analytics
            .committed_offsets(&self.topic, &self.group)
            .await?;
        Ok(unheld
            .into_iter()
            .map(|partition| (partition, applied.get(&partition).copied()))
            .collect())
    }

    /// Leaves the group and joins it again, so that the coordinator assigns every partition anew.
    /// librdkafka sends the LeaveGroup once the revocation the unsubscribe starts is done (at
    /// once when it has nothing assigned, after the round under way when it is joining), and a
    /// subscribe made before that would cancel the leave: hence the wait between the two.
    async fn rejoin(&self, stop: &CancellationToken) {
        metrics::counter!("qredge_aggregator_rejoins_total").increment(1);
        let context = self.consumer.context();
        context.joining_from_now();
        let revoked = context.revocations();
        self.consumer.unsubscribe();
        let deadline = Instant::now() + LEAVE_WAIT;
        while context.revocations() == revoked && Instant::now() < deadline {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = sleep(Duration::from_millis(50)) => {}
            }
        }
        sleep(LEAVE_SETTLE).await;
        context.joining_from_now();
        if let Err(e) = self.consumer.subscribe(&[&self.topic]) {
            // The next checks find the partitions still left behind and try again.
            tracing::error!(error = %e, "cannot subscribe to the scans topic again");
        }
    }
}

/// Whether a consumer joining for this long (None: not joining) may be made to rejoin.
fn done_joining_or_stuck(joining_for: Option<Duration>, grace: Duration) -> bool {
    joining_for.is_none_or(|joining| joining >= grace)
}

fn partition_count(consumer: &StreamConsumer<Assignments>, topic: &str) -> Result<i32, CheckError> {
    let metadata = consumer.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none());
    let topic_metadata = found.ok_or_else(|| CheckError::NoTopic(topic.to_owned()))?;
    Ok(i32::try_from(topic_metadata.partitions().len()).unwrap_or(i32::MAX))
}

/// Partitions found without a holder: since when, and at which applied offset.
#[derive(Default)]
struct LeftBehind(HashMap<i32, (Instant, Option<i64>)>);

impl LeftBehind {
    /// Takes one check's findings. A partition no longer found is forgotten, and one whose
    /// applied offset moved starts over: something applies it (an aggregator that writes no
    /// leases, such as an older version during an upgrade).
    fn update(&mut self, now: Instant, found: &[(i32, Option<i64>)]) {
        self.0.retain(|p, _| found.iter().any(|(q, _)| q == p));
        for &(partition, applied) in found {
            let seen = self.0.entry(partition).or_insert((now, applied));
            if seen.1 != applied {
                *seen = (now, applied);
            }
        }
    }

    /// The partitions left behind for `grace` or longer.
    fn since(&self, now: Instant, grace: Duration) -> Vec<i32> {
        let mut partitions: Vec<i32> = self
            .0
            .iter()
            .filter(|(_, (since, _))| now.duration_since(*since) >= grace)
            .map(|(&partition, _)| partition)
            .collect();
        partitions.sort_unstable();
        partitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn a_join_is_let_finish_unless_it_has_lasted_the_grace() {
        assert!(done_joining_or_stuck(None, GRACE));
        assert!(!done_joining_or_stuck(Some(Duration::from_secs(3)), GRACE));
        assert!(done_joining_or_stuck(Some(GRACE), GRACE));
    }

    #[test]
    fn partitions_left_behind_for_the_grace_are_reported() {
        let start = Instant::now();
        let mut left = LeftBehind::default();
        left.update(start, &[(1, Some(5)), (2, None)]);
        assert!(left.since(start + Duration::from_secs(9), GRACE).is_empty());
        left.update(start + Duration::from_secs(9), &[(1, Some(5)), (2, None)]);
        assert_eq!(left.since(start + GRACE, GRACE), vec![1, 2]);
    }

    #[test]
    fn a_partition_found_held_again_or_moving_starts_over() {
        let start = Instant::now();
        let mut left = LeftBehind::default();
        left.update(start, &[(1, Some(5)), (2, Some(7))]);
        let later = start + Duration::from_secs(6);
        // 1 is held again; 2 is unheld but applied by something that writes no lease.
        left.update(later, &[(2, Some(9))]);
        left.update(start + GRACE, &[(1, Some(5)), (2, Some(9))]);
        assert!(left.since(start + GRACE, GRACE).is_empty());
        assert_eq!(left.since(later + GRACE, GRACE), vec![2]);
        assert_eq!(left.since(start + GRACE + GRACE, GRACE), vec![1, 2]);
    }
}
