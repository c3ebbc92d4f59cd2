//! HTTPS on the edge itself (`[edge.tls]`): rustls with the certificate chosen by SNI among those
//! of a directory that is reloaded when its files change, and HTTP/2 or HTTP/1.1 by ALPN.
//! Deployments behind a load balancer that terminates TLS keep the plain listener only.

pub mod certificates;
pub mod resolver;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;

pub use certificates::Certificates;
pub use resolver::SniResolver;

/// ALPN protocol ids, in the server's order of preference.
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read the TLS certificates directory {path} (edge.tls.certificates_dir): {source}"
    )]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no TLS certificates in {path} (edge.tls.certificates_dir): it holds NAME.crt (the certificate, then its chain, PEM) with NAME.key (its private key, PEM)")]
    Empty { path: PathBuf },
    #[error(
        "edge.tls.default_certificate {name:?}: there is no {name}.crt or {name}.key in {dir}"
    )]
    NoDefault { name: String, dir: PathBuf },
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the private key {key} does not match the certificate {cert}")]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto the edge uses: ring (see Cargo.toml), chosen here rather than as a process-wide
/// default so that nothing depends on which rustls features the dependency tree enables.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3 with rustls' safe defaults, certificates from `resolver`, h2 then http/1.1
/// offered by ALPN, and stateless session tickets so that returning phones resume cheaply.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: SniResolver,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}
