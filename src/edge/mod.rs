//! The scan edge: a minimal hyper server that resolves a displayId on an arc-swapped route table,
//! answers with a redirect, and hands the scan to the pipeline without waiting for it.

pub mod client_ip;
pub mod domains;
pub mod follow;
pub mod handler;
pub mod limits;
pub mod metrics;
pub mod orphans;
pub mod packed_routes;
pub mod pages;
pub mod password_attempts;
pub mod request_target;
pub mod route;
pub mod route_shards;
pub mod route_table;
pub mod rules;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod visitor;

pub use route::Route;
pub use route_table::{RouteTable, RouteUpdate};
