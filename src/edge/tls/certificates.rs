//! The certificates the edge serves: a directory of PEM pairs, `NAME.crt` (the certificate, then
//! its chain) with `NAME.key` (its private key), each serving the DNS names of its
//! subjectAltName extension. Loaded at start, where any problem stops qredge; then checked every
//! `edge.tls.reload_interval_ms`, where a pair that does not load keeps the version in use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use super::resolver::{Names, SniResolver};
use super::TlsError;
use crate::config::TlsConfig;
use crate::file_watch::{self, FileStamp, Reload};

/// What handshakes choose from: SNI name → certificate chain and signing key.
pub type CertificateMap = Names<Arc<CertifiedKey>>;

/// The versions of a pair's `.crt` and `.key` (None: missing or unreadable).
type PairStamp = (Option<FileStamp>, Option<FileStamp>);

/// One certificate, loaded and checked.
struct Loaded {
    key: Arc<CertifiedKey>,
    /// Its DNS subjectAltNames, `*.`-wildcards included.
    names: Vec<String>,
}

struct Pair {
    /// The files' versions last tried. A version that was refused is not tried again: the next
    /// change to the files is.
    tried: PairStamp,
    /// The version last loaded cleanly; None when none ever did.
    loaded: Option<Loaded>,
}

/// The pairs of the directory and the map handshakes read, rebuilt and swapped when they change.
pub struct Certificates {
    dir: PathBuf,
    default_name: Option<String>,
    provider: Arc<CryptoProvider>,
    pairs: BTreeMap<String, Pair>,
    current: Arc<ArcSwap<CertificateMap>>,
}

impl Certificates {
    /// Loads every pair of `config.certificates_dir`. Blocking (reads the files). Any problem is
    /// an error that names the file: a missing directory, a half pair, unreadable PEM, a key that
    /// does not match its certificate, a certificate without DNS names, no pair at all.
    pub fn open(config: &TlsConfig, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let dir = config.certificates_dir.clone();
        let files = scan(&dir).map_err(|source| TlsError::Dir {
            path: dir.clone(),
            source,
        })?;
        if files.is_empty() {
            return Err(TlsError::Empty { path: dir });
        }
        let default_name = Some(config.default_certificate.clone()).filter(|name| !name.is_empty());
        if let Some(name) = &default_name {
            if !files.contains_key(name) {
                return Err(TlsError::NoDefault {
                    name: name.clone(),
                    dir,
                });
            }
        }
        let mut certificates = Self {
            dir,
            default_name,
            provider,
            pairs: BTreeMap::new(),
            current: Arc::new(ArcSwap::from_pointee(CertificateMap::default())),
        };
        for (name, stamp) in files {
            let loaded = certificates.load(&name)?;
            tracing::info!(certificate = %name, names = ?loaded.names, "TLS certificate loaded");
            certificates.pairs.insert(
                name,
                Pair {
                    tried: stamp,
                    loaded: Some(loaded),
                },
            );
        }
        certificates.publish();
        Ok(certificates)
    }

    /// The rustls hook that picks among these certificates (and their later versions).
    pub fn resolver(&self) -> SniResolver {
        SniResolver::new(Arc::clone(&self.current))
    }

    /// Checks the directory once: loads new and changed pairs, drops removed ones, and swaps in
    /// the new map when anything changed. A pair that does not load keeps the version in use (a
    /// warning is logged) until its files change again. Blocking (reads changed files).
    pub fn check(&mut self) {
        let mut files = match scan(&self.dir) {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "TLS certificates directory unreadable; keeping the certificates in use");
                return;
            }
        };
        let mut changed = false;
        let removed: Vec<String> = self
            .pairs
            .keys()
            .filter(|name| !files.contains_key(*name))
            .cloned()
            .collect();
        for name in removed {
            if self.default_name.as_ref() == Some(&name) {
                // The default is never dropped: tried as a pair of missing files, which keeps it.
                files.insert(name, (None, None));
                continue;
            }
            tracing::info!(certificate = %name, "TLS certificate files removed; no longer served");
            self.pairs.remove(&name);
            changed = true;
        }
        for (name, stamp) in files {
            if self
                .pairs
                .get(&name)
                .is_some_and(|pair| pair.tried == stamp)
            {
                continue;
            }
            let result = self.load(&name);
            let pair = self.pairs.entry(name.clone()).or_insert(Pair {
                tried: stamp,
                loaded: None,
            });
            pair.tried = stamp;
            match result {
                Ok(loaded) => {
                    tracing::info!(certificate = %name, names = ?loaded.names, "TLS certificate reloaded");
                    pair.loaded = Some(loaded);
                    changed = true;
                }
                Err(e) if pair.loaded.is_some() => {
                    tracing::warn!(certificate = %name, error = %e, "new TLS certificate refused; keeping the previous one until the files change again");
                }
                Err(e) => {
                    tracing::warn!(certificate = %name, error = %e, "TLS certificate refused; not served until the files change again");
                }
            }
        }
        if changed {
            self.publish();
        }
    }

    /// Checks the directory every `every` until `stop`.
    pub async fn run(self, every: Duration, stop: CancellationToken) {
        file_watch::run_every(self, every, "TLS certificate", stop).await
    }

    /// Reads and checks one pair.
    fn load(&self, name: &str) -> Result<Loaded, TlsError> {
        let cert_path = self.dir.join(format!("{name}.crt"));
        let key_path = self.dir.join(format!("{name}.key"));
        let loaded = load_pair(&cert_path, &key_path, &self.provider)?;
        if loaded.names.is_empty() && self.default_name.as_deref() != Some(name) {
            return Err(TlsError::File {
                path: cert_path,
                reason: "the certificate has no DNS subjectAltName, so no SNI name selects it \
                         (make it edge.tls.default_certificate, or add the names)"
                    .into(),
            });
        }
        Ok(loaded)
    }

    /// Builds the map from the loaded pairs (in name order: the first claim on a name wins) and
    /// swaps it in.
    fn publish(&self) {
        let mut map = CertificateMap::default();
        for (name, pair) in &self.pairs {
            let Some(loaded) = &pair.loaded else { continue };
            for dns_name in &loaded.names {
                if !map.insert(dns_name, Arc::clone(&loaded.key)) {
                    tracing::warn!(certificate = %name, name = %dns_name, "another certificate (first by file name) already serves this name");
                }
            }
            if self.default_name.as_deref() == Some(name.as_str()) {
                map.set_default(Arc::clone(&loaded.key));
            }
        }
        self.current.store(Arc::new(map));
    }
}

/// The pairs in `dir`: each `NAME` with a `NAME.crt` or a `NAME.key` (a half pair is listed, and
/// fails to load). Hidden entries (Kubernetes' `..data`) and other files are ignored.
fn scan(dir: &Path) -> std::io::Result<BTreeMap<String, PairStamp>> {
    let mut pairs: BTreeMap<String, PairStamp> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        let (name, is_cert) = if let Some(name) = file_name.strip_suffix(".crt") {
            (name, true)
        } else if let Some(name) = file_name.strip_suffix(".key") {
            (name, false)
        } else {
            continue;
        };
        if name.is_empty() || entry.path().is_dir() {
            continue;
        }
        let stamp = FileStamp::read(&entry.path()).ok();
        let pair = pairs.entry(name.to_owned()).or_default();
        if is_cert {
            pair.0 = stamp;
        } else {
            pair.1 = stamp;
        }
    }
    Ok(pairs)
}

/// Reads a certificate chain and its key, checks that they belong together, and lists the
/// certificate's DNS names.
fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<Loaded, TlsError> {
    let file_error = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let cert_pem = std::fs::read(cert_path).map_err(|e| file_error(cert_path, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert_path, format!("not a PEM certificate chain: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(file_error(
            cert_path,
            "no CERTIFICATE in it (PEM expected: the certificate, then its chain)".into(),
        ));
    };
    let names = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| file_error(cert_path, format!("not a valid certificate: {e}")))?
        .valid_dns_names()
        .map(str::to_ascii_lowercase)
        .collect();

    let key_pem = std::fs::read(key_path).map_err(|e| file_error(key_path, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let reason = match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY in it (PEM expected: PKCS#8, PKCS#1 or SEC1)".to_owned()
            }
            e => format!("not a PEM private key: {e}"),
        };
        file_error(key_path, reason)
    })?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            key: key_path.to_owned(),
            cert: cert_path.to_owned(),
        },
        e => file_error(key_path, format!("unusable private key: {e}")),
    })?;
    Ok(Loaded {
        key: Arc::new(key),
        names,
    })
}

impl Reload for Certificates {
    fn check(&mut self) {
        Certificates::check(self)
    }
}
