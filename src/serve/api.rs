//! The API role: the management API on its listener, over the store and the analytics of this
//! process's topology, with the dashboard beside it. The first start on an empty store creates
//! the first credential and a one-time dashboard sign-in link for its owner.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::topology::Topology;
use super::{Running, ServeError};
use crate::api::{self, AppState};
use crate::config::{public_base_url, Config};
use crate::dashboard::{self, DashState};
use crate::listener::{self, Limits};
use crate::model::validate::domain_of;
use crate::store::{add_sign_in_url, Bootstrap};

/// Starts the API on `listener`. `edge_addr`, the edge's address, is the base URL printed codes
/// carry unless `edge.public_url` names one.
pub async fn start(
    config: &Config,
    topology: &Topology,
    (listener, addr): (TcpListener, SocketAddr),
    limits: Limits,
    edge_addr: SocketAddr,
    running: &mut Running,
) -> Result<(), ServeError> {
    let edge_base_url = public_base_url(&config.edge.public_url, edge_addr);
    let default_domain = url::Url::parse(&edge_base_url)
        .map(|u| domain_of(&u))
        .unwrap_or_else(|_| format!("localhost:{}", edge_addr.port()));
    let store = topology
        .store()
        .ok_or(ServeError::Setup("the API needs its store"))?;
    let api_base_url = public_base_url(&config.api.public_url, addr);
    if let Some(bootstrap) = store
        .bootstrap_if_empty(&config.data_dir, &default_domain)
        .await?
    {
        let minutes = config.api.dashboard.sign_in_link_minutes;
        let link =
            dashboard::issue_sign_in_link(&store, &api_base_url, &bootstrap.member_id, minutes)
                .await?;
        add_sign_in_url(&config.data_dir, &link)?;
        print_bootstrap(&bootstrap, &config.data_dir, &link);
    }
    let platform = crate::model::PlatformHosts::of(&edge_base_url, &api_base_url);
    store
        .release_platform_claims(&platform, &default_domain)
        .await?;
    let analytics = topology
        .analytics_reader()
        .ok_or(ServeError::Setup("the API needs its analytics"))?;
    let public_images = Arc::new(api::PublicImages::new(
        store.image_url_secret().await?,
        &config.api,
    ));
    let state = AppState {
        store,
        analytics,
        edge_base_url: edge_base_url.as_str().into(),
        api_base_url: api_base_url.as_str().into(),
        requests_per_minute: Arc::new(config.api.requests_per_minute.clone()),
        codes_per_team: Arc::new(config.api.codes_per_team.clone()),
        teams_per_org: Arc::new(config.api.teams_per_org.clone()),
        public_images,
    };
    let dashboard = dashboard::router(DashState {
        app: state.clone(),
        config: Arc::new(config.api.dashboard.clone()),
    });
    let app = api::router(state, config.api.max_body_bytes).merge(dashboard);
    let stop = running.stop.clone();
    let serving = listener::serve_router(listener, app, limits, limits.slots(), stop, timed_out);
    running.spawn(serving);
    running.ready(format!("api=http://{addr}/"));
    Ok(())
}

/// The API's answer to a request whose body did not arrive within `api.body_read_timeout_ms`.
fn timed_out(timeout: std::time::Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    );
    api::ApiError::new(axum::http::StatusCode::REQUEST_TIMEOUT, message).into_response()
}

fn print_bootstrap(bootstrap: &Bootstrap, data_dir: &std::path::Path, sign_in_url: &str) {
    println!(
        "qredge: first start: created an organization, a team and an owner credential.\n\
         The secret is shown only now; it is also in {} (mode 0600).\n  \
         orgId:        {}\n  teamId:       {}\n  clientId:     {}\n  clientSecret: {}\n\
         Sign in to the dashboard once with this link (then set a password):\n  \
         signInUrl:    {}",
        data_dir.join("bootstrap.json").display(),
        bootstrap.org_id,
        bootstrap.team_id,
        bootstrap.client_id,
        bootstrap.client_secret,
        sign_in_url,
    );
}
