//! What every listener of the process shares: binding, and connection caps fitted under the
//! open files limit.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::{Roles, ServeError};
use crate::config::Config;
use crate::listener::{self, Limits};

pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// The limits of this process's listeners (`[edge]`, `[api]`).
pub struct ListenerLimits {
    pub edge: Limits,
    pub api: Limits,
}

impl ListenerLimits {
    /// The configured limits, the connection caps of the roles this process runs fitted under the
    /// open files limit, which is raised to its hard limit first.
    pub fn of(config: &Config, roles: Roles) -> Result<ListenerLimits, ServeError> {
        let (mut edge, mut api) = (config.edge.limits()?, config.api.limits()?);
        let open_files = listener::raise_open_files_limit();
        let mut caps: Vec<(&str, &mut usize)> = Vec::new();
        if roles.edge {
            caps.push(("edge.max_connections", &mut edge.max_connections));
        }
        if roles.api {
            caps.push(("api.max_connections", &mut api.max_connections));
        }
        listener::fit_connection_caps(open_files, &mut caps);
        Ok(ListenerLimits { edge, api })
    }
}
