//! HTTPS on the edge: the certificate chosen by SNI from a directory of PEM pairs (exact names,
//! wildcards, a default), HTTP/2 or HTTP/1.1 by ALPN, and certificates replaced on disk picked
//! up without a restart while a bad replacement keeps the one in use.

use crate::support;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::pki::{Leaf, Pki};
use crate::support::{Launch, Server};
use reqwest::blocking::{Client, Response};
use serde_json::json;

/// Writes `contents` to `path` whole, as a deployment tool should: a temporary file renamed.
fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// Installs `leaf` as `NAME.crt` / `NAME.key` (the key first: the pair is read when both changed).
fn install(dir: &Path, name: &str, leaf: &Leaf) {
    replace(&dir.join(format!("{name}.key")), &leaf.key_pem);
    replace(&dir.join(format!("{name}.crt")), &leaf.cert_pem);
}

/// The certificates of a test: a.qredge.test, b.qredge.test and *.c.qredge.test, each a pair.
struct Certificates {
    pki: Pki,
    dir: std::path::PathBuf,
    a: Leaf,
    b: Leaf,
    c: Leaf,
}

impl Certificates {
    fn new(dir: &Path) -> Self {
        let pki = Pki::new();
        let dir = dir.join("certs");
        std::fs::create_dir_all(&dir).unwrap();
        let a = pki.leaf(&["a.qredge.test"]);
        let b = pki.leaf(&["b.qredge.test"]);
        let c = pki.leaf(&["*.c.qredge.test"]);
        install(&dir, "a", &a);
        install(&dir, "b", &b);
        install(&dir, "c", &c);
        Self { pki, dir, a, b, c }
    }

    /// Starts `serve` with HTTPS on a free loopback port and these certificates; `extra` adds
    /// lines to `[edge.tls]`.
    fn serve(&self, data: &Path, extra: &str) -> (Server, SocketAddr) {
        let server = Launch::new(data)
            .config(&format!(
                "[edge.tls]\nlisten = \"127.0.0.1:0\"\ncertificates_dir = \"{}\"\n\
                 reload_interval_ms = 100\n{extra}\n",
                self.dir.display()
            ))
            .start();
        let addr = tls_address(&server);
        (server, addr)
    }
}

/// The HTTPS address from the ready line (`edge_tls=https://IP:PORT/`).
fn tls_address(server: &Server) -> SocketAddr {
    let ready = server
        .stdout
        .lines()
        .find(|line| line.starts_with("qredge ready "))
        .expect("a ready line");
    ready
        .split_whitespace()
        .find_map(|field| field.strip_prefix("edge_tls=https://"))
        .unwrap_or_else(|| panic!("no edge_tls address in {ready:?}"))
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

const NAMES: [&str; 5] = [
    "a.qredge.test",
    "b.qredge.test",
    "x.c.qredge.test",
    "c.qredge.test",
    "unknown.qredge.test",
];

/// A client that trusts only the test CA and resolves the test names to the edge. A new client
/// per check: no pooled connection or resumed session hides which certificate is served now.
fn client(ca: &reqwest::Certificate, edge: SocketAddr, http1_only: bool) -> Client {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10));
    for name in NAMES {
        builder = builder.resolve(name, edge);
    }
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

/// The leaf certificate the server presented.
fn peer_certificate(response: &Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS info with the peer certificate")
        .to_vec()
}

/// GET https://{host}/healthz; asserts the 200 and returns the certificate presented.
fn healthz(ca: &reqwest::Certificate, edge: SocketAddr, host: &str) -> Vec<u8> {
    let response = client(ca, edge, false)
        .get(format!("https://{host}/healthz"))
        .send()
        .unwrap_or_else(|e| panic!("https://{host}/healthz: {e:?}"));
    assert_eq!(response.status(), 200, "https://{host}/healthz");
    peer_certificate(&response)
}

/// Polls `host` with fresh connections until it presents `expected`, for up to 20 s; returns
/// whether it did.
fn presents_within(
    ca: &reqwest::Certificate,
    edge: SocketAddr,
    host: &str,
    expected: &[u8],
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client(ca, edge, false)
            .get(format!("https://{host}/healthz"))
            .send()
        {
            if peer_certificate(&response) == expected {
                return true;
            }
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to 20 s) until the server's log has a line with every one of `parts`.
fn log_has_line(server: &Server, parts: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if server
            .log()
            .lines()
            .any(|line| parts.iter().all(|part| line.contains(part)))
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn certificates_are_chosen_by_sni_and_http2_is_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = Certificates::new(dir.path());
    let (server, edge) = certificates.serve(&dir.path().join("data"), "");
    let ca = &certificates.pki.ca;

    assert_eq!(healthz(ca, edge, "a.qredge.test"), certificates.a.der);
    assert_eq!(healthz(ca, edge, "b.qredge.test"), certificates.b.der);
    // The wildcard covers one label, not its own parent name.
    assert_eq!(healthz(ca, edge, "x.c.qredge.test"), certificates.c.der);
    for host in ["c.qredge.test", "unknown.qredge.test"] {
        let refused = client(ca, edge, false)
            .get(format!("https://{host}/healthz"))
            .send();
        assert!(refused.is_err(), "{host}: no certificate, no handshake");
    }

    // HTTP/2 when the client offers it (ALPN), HTTP/1.1 when it only speaks that.
    let h2 = client(ca, edge, false)
        .get("https://a.qredge.test/healthz")
        .send()
        .unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(h2.text().unwrap(), "ok\n");
    let h1 = client(ca, edge, true)
        .get("https://a.qredge.test/healthz")
        .send()
        .unwrap();
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    assert_eq!(h1.text().unwrap(), "ok\n");

    // edge.max_header_bytes holds on both protocols.
    let big = "x".repeat(20_000);
    let h1 = client(ca, edge, true)
        .get("https://a.qredge.test/healthz")
        .header("x-big", &big)
        .send()
        .unwrap();
    assert_eq!(h1.status(), 431);
    let h2 = client(ca, edge, false)
        .get("https://a.qredge.test/healthz")
        .header("x-big", &big)
        .send()
        .unwrap();
    assert_eq!(
        (h2.version(), h2.status().as_u16()),
        (reqwest::Version::HTTP_2, 431)
    );

    // A real code redirects over both, and both scans are counted.
    let qr = server.create_qr(json!({
        "qrType": "WEB", "displayId": "tls-launch", "qrRedirectUrl": "https://example.com/launch"
    }));
    server.assert_served("tls-launch");
    for http1_only in [false, true] {
        let response = client(ca, edge, http1_only)
            .get("https://a.qredge.test/tls-launch")
            .header("user-agent", support::IPHONE_SAFARI)
            .send()
            .unwrap();
        assert_eq!(response.status(), 302, "http1_only = {http1_only}");
        assert_eq!(
            response.headers()["location"],
            "https://example.com/launch",
            "http1_only = {http1_only}"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "no-store, no-cache, must-revalidate, max-age=0"
        );
    }
    let id = qr["id"].as_str().unwrap();
    assert_eq!(server.wait_for_total(id, 2)["totalScans"], 2);

    // Host routing reads the HTTP/2 authority (there is no Host header): a code on the custom
    // domain b.qredge.test answers there, on both protocols, and not on a.qredge.test.
    let (status, body) = server.call(
        reqwest::Method::PUT,
        &format!("/api/teams-api/{}/domains", server.credentials.team_id),
        Some(json!({"defaultDomain": "b.qredge.test", "domains": ["b.qredge.test"]})),
    );
    assert_eq!(status, 200, "{body}");
    let on_b = server.create_qr(json!({
        "qrType": "WEB", "displayId": "tls-launch", "qrRedirectUrl": "https://example.com/b"
    }));
    assert_eq!(on_b["shortUrl"], "https://b.qredge.test/tls-launch");
    for http1_only in [false, true] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let response = loop {
            let response = client(ca, edge, http1_only)
                .head("https://b.qredge.test/tls-launch")
                .send()
                .unwrap();
            if response.status() == 302 || std::time::Instant::now() > deadline {
                break response;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(response.headers()["location"], "https://example.com/b");
        let platform = client(ca, edge, http1_only)
            .head("https://a.qredge.test/tls-launch")
            .send()
            .unwrap();
        assert_eq!(platform.headers()["location"], "https://example.com/launch");
    }

    // The plain listener is still there, and a stop is orderly with both open.
    let plain = server
        .client
        .get(format!("{}/healthz", server.edge))
        .send()
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(server.stop().success());
}

#[test]
fn changed_certificates_are_picked_up_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = Certificates::new(dir.path());
    let (server, edge) = certificates.serve(&dir.path().join("data"), "");
    let ca = &certificates.pki.ca;
    assert_eq!(healthz(ca, edge, "a.qredge.test"), certificates.a.der);

    // A renewed certificate for a (a new key and serial) is served once the edge sees it.
    let renewed = certificates.pki.leaf(&["a.qredge.test"]);
    assert_ne!(renewed.der, certificates.a.der);
    install(&certificates.dir, "a", &renewed);
    assert!(
        presents_within(ca, edge, "a.qredge.test", &renewed.der),
        "the renewed certificate is served; log:\n{}",
        server.log()
    );

    // A replacement that is not a certificate, and a key that belongs to another certificate:
    // both refused (and logged), and the certificates in use keep being served.
    replace(&certificates.dir.join("b.crt"), "not a certificate\n");
    let stranger = certificates.pki.leaf(&["x.c.qredge.test"]);
    replace(&certificates.dir.join("c.key"), &stranger.key_pem);
    assert!(
        log_has_line(&server, &["certificate refused", "certificate=b", "b.crt"]),
        "the bad b.crt is logged:\n{}",
        server.log()
    );
    assert!(
        log_has_line(
            &server,
            &["certificate refused", "certificate=c", "does not match"]
        ),
        "the mismatched c.key is logged:\n{}",
        server.log()
    );
    assert_eq!(healthz(ca, edge, "b.qredge.test"), certificates.b.der);
    assert_eq!(healthz(ca, edge, "x.c.qredge.test"), certificates.c.der);
    assert_eq!(healthz(ca, edge, "a.qredge.test"), renewed.der);

    // Good files are picked up again.
    let new_b = certificates.pki.leaf(&["b.qredge.test"]);
    install(&certificates.dir, "b", &new_b);
    assert!(presents_within(ca, edge, "b.qredge.test", &new_b.der));
}

#[test]
fn the_default_certificate_answers_unknown_names_and_no_name() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = Certificates::new(dir.path());
    let (_server, edge) =
        certificates.serve(&dir.path().join("data"), "default_certificate = \"b\"");
    let ca = &certificates.pki.ca;
    assert_eq!(healthz(ca, edge, "a.qredge.test"), certificates.a.der);

    // The default does not carry the name asked for, so only a client that checks nothing
    // accepts it; what matters is which certificate the edge chose.
    let lenient = Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .resolve("unknown.qredge.test", edge)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for url in [
        "https://unknown.qredge.test/healthz".to_owned(),
        format!("https://{edge}/healthz"), // an IP address: no SNI at all
    ] {
        let response = lenient.get(&url).send().unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(peer_certificate(&response), certificates.b.der, "{url}");
    }
}

/// Runs `serve` with TLS on `certs` and returns what it printed on stderr, asserting it failed.
fn refused_start(dir: &Path, certs: &Path, extra_env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qredge"))
        .arg("serve")
        .env("QREDGE_DATA_DIR", dir.join("data"))
        .env("QREDGE_EDGE_LISTEN", "127.0.0.1:0")
        .env("QREDGE_API_LISTEN", "127.0.0.1:0")
        .env("QREDGE_EDGE_TLS_LISTEN", "127.0.0.1:0")
        .env("QREDGE_EDGE_TLS_CERTIFICATES_DIR", certs)
        .envs(extra_env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "started anyway: {stderr}");
    stderr
}

#[test]
fn a_bad_certificate_directory_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");

    let stderr = refused_start(dir.path(), &certs, &[]);
    assert!(stderr.contains(&certs.display().to_string()), "{stderr}");
    assert!(stderr.contains("certificates_dir"), "{stderr}");

    std::fs::create_dir_all(&certs).unwrap();
    let stderr = refused_start(dir.path(), &certs, &[]);
    assert!(stderr.contains("no TLS certificates"), "{stderr}");

    let pki = Pki::new();
    let a = pki.leaf(&["a.qredge.test"]);
    let other = pki.leaf(&["a.qredge.test"]);
    std::fs::write(certs.join("a.crt"), &a.cert_pem).unwrap();
    std::fs::write(certs.join("a.key"), &other.key_pem).unwrap();
    let stderr = refused_start(dir.path(), &certs, &[]);
    assert!(stderr.contains("a.key does not match"), "{stderr}");

    std::fs::write(certs.join("a.key"), &a.key_pem).unwrap();
    std::fs::write(certs.join("b.crt"), &a.cert_pem).unwrap();
    let stderr = refused_start(dir.path(), &certs, &[]);
    assert!(
        stderr.contains("b.key"),
        "a half pair names its missing key: {stderr}"
    );

    std::fs::remove_file(certs.join("b.crt")).unwrap();
    let stderr = refused_start(
        dir.path(),
        &certs,
        &[("QREDGE_EDGE_TLS_DEFAULT_CERTIFICATE", "fallback")],
    );
    assert!(stderr.contains("fallback"), "{stderr}");
}
