//! The Kafka scan producer against a real Kafka-protocol broker (tansu, started by
//! `scripts/test.sh`): topic creation, a round trip read back by a real consumer, and an
//! unreachable broker.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use qredge::model::ScanEvent;
use qredge::pipeline::kafka::{ensure_topic, KafkaConfig, ScanProducer};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::Message;

/// The broker the harness started. Missing means the test was run outside the harness: fail, so
/// that a missing service is never mistaken for a pass.
fn brokers() -> String {
    match std::env::var("QREDGE_TEST_KAFKA_BROKERS") {
        Ok(brokers) if !brokers.is_empty() => brokers,
        _ => panic!(
            "QREDGE_TEST_KAFKA_BROKERS is not set: run the tests through scripts/test.sh \
             (it starts a Kafka-protocol broker and exports it)"
        ),
    }
}

/// A topic of its own per test and per run: tests run in parallel and reruns share a broker.
fn unique_topic(name: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    format!("qredge.test.{name}.{}", hex::encode(bytes))
}

fn config(topic: &str, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers(),
        topic: topic.to_owned(),
        partitions,
        ..KafkaConfig::default()
    }
}

fn event(n: usize, qrs: usize) -> ScanEvent {
    ScanEvent {
        event_id: format!("{n:032x}").into(),
        qr_id: format!("qr_{}", n % qrs).into(),
        team_id: "team_1".into(),
        display_id: format!("code-{}", n % qrs).into(),
        scan_time: 1_700_000_000_000 + n as i64,
        device: "mobile".into(),
        browser: "Safari".into(),
        os: "iOS".into(),
        country: "DE".into(),
        city: "Berlin".into(),
        ip_address: "203.0.113.7".into(),
        referrer: "".into(),
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)".into(),
        bot: n % 50 == 0,
        head: false,
        orphan: false,
    }
}

/// Partition count of `topic` as the broker's metadata reports it.
fn partition_count(brokers: &str, topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("metadata client");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let topic_metadata = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .expect("the topic is in the metadata");
    assert!(
        topic_metadata.error().is_none(),
        "metadata error for {topic}: {:?}",
        topic_metadata.error()
    );
    topic_metadata.partitions().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topic_creates_the_topic_once_with_its_partitions() {
    let topic = unique_topic("ensure");
    let config = config(&topic, 4);

    ensure_topic(&config).await.expect("topic created");
    assert_eq!(partition_count(&config.brokers, &topic), 4);

    ensure_topic(&config)
        .await
        .expect("an existing topic is fine");
    let other_count = KafkaConfig {
        partitions: 9,
        ..config.clone()
    };
    ensure_topic(&other_count)
        .await
        .expect("an existing topic is fine whatever its partition count");
    assert_eq!(
        partition_count(&config.brokers, &topic),
        4,
        "an existing topic is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_delivered_once_each_keyed_by_qr_id() {
    const EVENTS: usize = 1000;
    const QRS: usize = 37;
    let topic = unique_topic("roundtrip");
    let config = config(&topic, 6);
    ensure_topic(&config).await.expect("topic created");

    let producer = ScanProducer::new(&config).expect("producer");
    let sent: Vec<ScanEvent> = (0..EVENTS).map(|n| event(n, QRS)).collect();
    let undelivered = producer.send_batch(sent.clone()).await;
    assert!(
        undelivered.is_empty(),
        "{} of {EVENTS} events not delivered",
        undelivered.len()
    );
    assert_eq!(producer.in_flight(), 0);

    let mut group = [0u8; 6];
    getrandom::fill(&mut group).expect("randomness");
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("qredge-test-{}", hex::encode(group)))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");

    let mut received: HashMap<String, ScanEvent> = HashMap::new();
    let mut partitions_of: HashMap<String, HashSet<i32>> = HashMap::new();
    let mut messages = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < EVENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, consumer.recv()).await {
            Ok(message) => message.expect("consume"),
            Err(_) => panic!(
                "only {} of {EVENTS} events read back in 60 s",
                received.len()
            ),
        };
        messages += 1;
        let key = std::str::from_utf8(message.key().expect("a key")).expect("UTF-8 key");
        let event: ScanEvent =
            serde_json::from_slice(message.payload().expect("a payload")).expect("a ScanEvent");
        assert_eq!(key, &*event.qr_id, "the key is the qrId");
        partitions_of
            .entry(event.qr_id.to_string())
            .or_default()
            .insert(message.partition());
        let id = event.event_id.to_string();
        assert!(
            received.insert(id.clone(), event).is_none(),
            "event {id} read twice"
        );
    }
    assert_eq!(messages, EVENTS);
    for event in &sent {
        assert_eq!(received.get(&*event.event_id), Some(event));
    }

    // No extra copies: the partitions hold exactly what was sent.
    let mut stored = 0;
    for partition in 0..6 {
        let (low, high) = consumer
            .fetch_watermarks(&topic, partition, Duration::from_secs(10))
            .expect("watermarks");
        stored += high - low;
    }
    assert_eq!(stored, EVENTS as i64, "messages stored in the topic");

    for (qr_id, partitions) in &partitions_of {
        assert_eq!(partitions.len(), 1, "{qr_id} spread over {partitions:?}");
    }
    let used: HashSet<i32> = partitions_of.values().flatten().copied().collect();
    assert!(
        used.len() > 1,
        "37 codes over 6 partitions use more than one"
    );
    producer.flush(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_gives_every_event_back_in_order() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let config = KafkaConfig {
        brokers: closed.to_string(),
        topic: unique_topic("unreachable"),
        message_timeout_ms: 2000,
        ..KafkaConfig::default()
    };
    let producer = ScanProducer::new(&config).expect("creating a producer does not connect");
    let sent: Vec<ScanEvent> = (0..200).map(|n| event(n, 7)).collect();

    let started = Instant::now();
    let undelivered =
        tokio::time::timeout(Duration::from_secs(30), producer.send_batch(sent.clone()))
            .await
            .expect("send_batch returns within the message timeout and some slack");
    assert_eq!(undelivered, sent, "every event back, in the original order");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "it did wait for the broker"
    );
    assert_eq!(producer.in_flight(), 0);

    let created = tokio::time::timeout(Duration::from_secs(30), ensure_topic(&config))
        .await
        .expect("ensure_topic gives up within the timeout and some slack");
    assert!(created.is_err(), "no topic without a broker");
}
