//! The integration tests: one test binary (one link) for every suite; each module is one suite.

mod support;

mod aggregator_restart;
mod api_keys;
mod bad_input;
mod bounded_lists;
mod bulk_create;
mod client_address;
mod code_operations;
mod damaged_data;
mod domains;
mod durability;
mod end_to_end;
mod enrichment;
mod hosted_pages;
mod hostile_clients;
mod import;
mod input_validation;
mod kafka_producer;
mod kafka_python;
mod listing;
mod members;
mod metrics;
mod misconfiguration;
mod openapi;
mod outages;
mod production;
mod public_images;
mod rate_limits;
mod redirects;
mod redis_analytics;
mod redis_store;
mod role_matrix;
mod teams;
mod templates;
mod tls;
