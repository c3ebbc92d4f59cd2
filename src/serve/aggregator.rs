//! The aggregator role: consumes the Kafka topic of scans into the Redis rollups. Without Kafka
//! (`qredge serve` on its defaults) the edge's pipeline counts the scans itself, and there is no
//! aggregator to start.

use super::topology::{Codes, Counting, Topology};
use super::{Running, ServeError};
use crate::aggregate::consumer::Aggregator;
use crate::config::Config;

pub fn start(
    config: &Config,
    topology: &Topology,
    running: &mut Running,
) -> Result<(), ServeError> {
    match (&topology.counting, &topology.codes) {
        (Counting::InProcess(_), _) => Ok(()),
        (Counting::Redis(Some(rollups)), Codes::Redis(store)) => {
            let aggregator = Aggregator::new(
                &config.kafka,
                &config.aggregator,
                rollups.clone(),
                store.clone(),
            )?;
            running.spawn(aggregator.run(running.stop.clone()));
            running.ready("aggregator=kafka".into());
            Ok(())
        }
        _ => Err(ServeError::Setup(
            "the aggregator role consumes Kafka: set kafka.brokers and redis.url",
        )),
    }
}
