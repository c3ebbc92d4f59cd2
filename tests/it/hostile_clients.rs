//! Clients that hold connections open: bodies announced and never sent or trickled a byte at a
//! time, heads trickled, silent and idle keep-alive connections, idle HTTP/2 connections and many
//! HTTP/2 streams; on the edge's plain and TLS listeners and on the API's. With small limits and
//! more slow connections than slots, the server closes each within its timeouts and answers
//! normal requests meanwhile; a process with fewer open files than its caps need keeps serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::pki::Pki;
use crate::support::{self, Launch, Server};

/// Small limits, so that a test takes seconds: [edge] or [api] keys.
const LIMITS: &str = "max_connections = 32\nheader_read_timeout_ms = 1000\n\
                      body_read_timeout_ms = 1000\nidle_timeout_ms = 2000\n";
/// The longest a slot is held by one slow client under LIMITS (the idle timeout and a quarter).
const LONGEST_HOLD: Duration = Duration::from_millis(2500);
/// Slow connections opened at once: more than max_connections.
const SLOW: usize = 40;
/// What a loaded test machine may add to a timeout before a close counts as late.
const SLACK: Duration = Duration::from_secs(3);
/// How long a connection being closed gets to finish what is in flight (qredge's DRAIN_TIME).
const DRAIN: Duration = Duration::from_secs(5);

/// One way to hold a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// POST to a code that takes no body, announcing 2000 bytes and sending none (issue 13).
    BodyForACodeWithout,
    /// POST to a protected code's form, announcing 100 bytes and sending none.
    BodyNeverSent,
    /// POST to a protected code's form, a byte every 200 ms.
    BodyTrickled,
    /// A request head, a byte every 200 ms.
    HeadTrickled,
    /// Connects and sends nothing.
    Silent,
    /// One request answered, then nothing (HTTP/1.1 keep-alive).
    IdleKeepAlive,
}

const EVERY_KIND: [Hostile; 6] = [
    Hostile::BodyForACodeWithout,
    Hostile::BodyNeverSent,
    Hostile::BodyTrickled,
    Hostile::HeadTrickled,
    Hostile::Silent,
    Hostile::IdleKeepAlive,
];

impl Hostile {
    /// What is sent at once, and what is then trickled (cycled, a byte at a time).
    fn script(self, paths: &Paths) -> (String, &'static [u8]) {
        let post = |path: &str, length: u32| {
            format!(
                "POST {path} HTTP/1.1\r\nHost: a.qredge.test\r\n{}\
                 Content-Type: {}\r\nContent-Length: {length}\r\n\r\n",
                paths.headers, paths.content_type
            )
        };
        match self {
            Hostile::BodyForACodeWithout => (post(&paths.no_body, 2000), b""),
            Hostile::BodyNeverSent => (post(&paths.body, 100), b""),
            Hostile::BodyTrickled => (post(&paths.body, 100), b"password=aaaa"),
            Hostile::HeadTrickled => (
                format!("GET {} HTTP/1.1\r\nHost: a.qredge.test\r\n", paths.get),
                b"x-a: b\r\n",
            ),
            Hostile::Silent => (String::new(), b""),
            Hostile::IdleKeepAlive => (
                format!("GET {} HTTP/1.1\r\nHost: a.qredge.test\r\n\r\n", paths.get),
                b"",
            ),
        }
    }

    /// The configured timeout that should close this connection.
    fn timeout(self) -> Duration {
        match self {
            Hostile::BodyForACodeWithout => Duration::ZERO,
            _ => Duration::from_secs(1),
        }
    }
}

/// Where each kind of request goes on the listener under test.
struct Paths {
    /// A GET that is answered at once.
    get: String,
    /// A POST whose body is read (a protected code's form, an API create).
    body: String,
    /// A POST to what takes no body.
    no_body: String,
    /// Extra request headers (the API's credentials).
    headers: String,
    /// The media type of the POSTs' bodies (the API refuses any but JSON before reading one).
    content_type: &'static str,
}

impl Paths {
    fn edge() -> Self {
        Paths {
            get: "/open".into(),
            body: "/locked".into(),
            no_body: "/open".into(),
            headers: String::new(),
            content_type: "application/x-www-form-urlencoded",
        }
    }

    fn api(server: &Server) -> Self {
        let c = &server.credentials;
        Paths {
            get: "/healthz".into(),
            body: "/api/qrs-api".into(),
            no_body: "/healthz".into(),
            headers: format!(
                "x-request-team-id: {}\r\nx-request-client-id: {}\r\n\
                 x-request-client-secret: {}\r\n",
                c.team_id, c.client_id, c.client_secret
            ),
            content_type: "application/json",
        }
    }
}

/// A client connection, plain or TLS, whose socket can be given a read timeout.
trait Connection: Read + Write + Send {
    fn socket(&self) -> &TcpStream;
}

impl Connection for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Connection for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

/// What became of one slow connection.
#[derive(Debug)]
struct Held {
    kind: Hostile,
    /// Everything the server sent.
    answer: String,
    /// From the connect until the server closed it; None: still open after 20 s.
    closed_after: Option<Duration>,
}

/// Plays `kind` on `connection` until the server closes it (or 20 s pass).
fn hold(mut connection: impl Connection, kind: Hostile, paths: &Paths, opened: Instant) -> Held {
    let (head, trickle) = kind.script(paths);
    let mut answer = Vec::new();
    let mut closed_after = None;
    let mut trickle = trickle.iter().cycle();
    let mut writing = connection.write_all(head.as_bytes()).is_ok();
    let mut buffer = [0; 4096];
    while opened.elapsed() < Duration::from_secs(20) {
        if let (true, Some(byte)) = (writing, trickle.next()) {
            writing = connection.write_all(&[*byte]).is_ok() && connection.flush().is_ok();
        }
        let wait = Some(Duration::from_millis(200));
        connection.socket().set_read_timeout(wait).unwrap();
        match connection.read(&mut buffer) {
            Ok(0) => {
                closed_after = Some(opened.elapsed());
                break;
            }
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed_after = Some(opened.elapsed());
                break;
            }
        }
    }
    Held {
        kind,
        answer: String::from_utf8_lossy(&answer).into_owned(),
        closed_after,
    }
}

/// Opens SLOW connections with `connect`, cycling through the kinds, each played on a thread.
fn open_slow<C: Connection + 'static>(
    connect: impl Fn() -> C + Send + Sync + 'static,
    kinds: &[Hostile],
    paths: Paths,
) -> Vec<std::thread::JoinHandle<Held>> {
    let connect = Arc::new(connect);
    let paths = Arc::new(paths);
    (0..SLOW)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let (connect, paths) = (Arc::clone(&connect), Arc::clone(&paths));
            std::thread::spawn(move || {
                let opened = Instant::now();
                hold(connect(), kind, &paths, opened)
            })
        })
        .collect()
}

/// Waits for every slow connection's thread.
fn finish(slow: Vec<std::thread::JoinHandle<Held>>) -> Vec<Held> {
    slow.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Every slow connection was closed by the server, within its timeout (after waiting for a slot
/// behind the others) and with the answer its kind gets; `answers` names what each kind gets.
fn assert_all_cut(held: &[Held], answers: impl Fn(Hostile) -> &'static str) {
    for held in held {
        let closed = held
            .closed_after
            .unwrap_or_else(|| panic!("{:?} still open after 20 s: {held:?}", held.kind));
        assert!(
            closed < LONGEST_HOLD + held.kind.timeout() + SLACK,
            "{:?} closed only after {closed:?}",
            held.kind
        );
        let expected = answers(held.kind);
        match expected {
            "" => assert_eq!(held.answer, "", "{:?} gets no answer", held.kind),
            status => assert!(
                held.answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{:?} gets {status}: {:?}",
                held.kind,
                held.answer
            ),
        }
    }
}

/// What each kind gets from the edge.
fn edge_answer(kind: Hostile) -> &'static str {
    match kind {
        Hostile::BodyForACodeWithout => "405",
        Hostile::BodyNeverSent | Hostile::BodyTrickled => "408",
        Hostile::HeadTrickled | Hostile::Silent => "",
        Hostile::IdleKeepAlive => "302",
    }
}

fn plain_connect(addr: SocketAddr) -> impl Fn() -> TcpStream + Send + Sync + 'static {
    move || TcpStream::connect(addr).expect("connect")
}

fn address(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// An open code and a protected one on `server`, served.
fn codes(server: &Server) {
    server.create_served(
        json!({"qrType": "WEB", "displayId": "open", "qrRedirectUrl": "https://example.com/"}),
    );
    server.create_served(json!({"qrType": "WEB", "displayId": "locked",
        "qrRedirectUrl": "https://example.com/secret", "settings": {"password": "sesame"}}));
}

#[test]
fn slow_clients_on_the_edge_are_cut_and_scans_answered_meanwhile() {
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data)
        .config(&format!("[edge]\n{LIMITS}"))
        .start();
    codes(&server);

    let slow = open_slow(
        plain_connect(address(&server.edge)),
        &EVERY_KIND,
        Paths::edge(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let scan = server.scan("open", support::IPHONE_SAFARI);
    assert_eq!(
        scan.status(),
        302,
        "a scan is answered beside {SLOW} slow clients"
    );
    assert_all_cut(&finish(slow), edge_answer);

    // The password form itself still works, and a POST to a code without one is refused.
    let form = server
        .client
        .post(format!("{}/locked", server.edge))
        .form(&[("password", "sesame")])
        .send()
        .unwrap();
    assert_eq!(support::location(&form), "https://example.com/secret");
    let post = server
        .client
        .post(format!("{}/open", server.edge))
        .send()
        .unwrap();
    assert_eq!(post.status(), 405);
    let too_big = server
        .client
        .post(format!("{}/locked", server.edge))
        .body(vec![b'a'; 4096])
        .send()
        .unwrap();
    assert_eq!(too_big.status(), 413, "refused by its Content-Length");
}

#[test]
fn a_client_that_reads_no_answers_is_cut() {
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data)
        .config(&format!("[edge]\n{LIMITS}"))
        .start();
    // Requests pipelined without reading a single answer: once the socket buffers are full the
    // edge can answer no more, and with no request in progress it closes the connection.
    let request: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: a.qredge.test\r\n\r\n";
    let requests = request.repeat(1000);
    let mut stream = TcpStream::connect(address(&server.edge)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let (mut at, mut last_progress) = (0, Instant::now());
    let stalled_for = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "still open");
        match stream.write(&requests[at..]) {
            Ok(0) => break last_progress.elapsed(),
            Ok(n) => {
                at = (at + n) % requests.len();
                last_progress = Instant::now();
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut) => {}
            Err(_) => break last_progress.elapsed(),
        }
    };
    // The idle timeout, then the time a closing connection gets to finish.
    assert!(
        stalled_for < LONGEST_HOLD + DRAIN + SLACK,
        "closed {stalled_for:?} after the last request went out"
    );
    assert_eq!(server.get("healthz", &[]).status(), 200);
}

/// A certificate for a.qredge.test, served by the edge's TLS listener under LIMITS.
struct Tls {
    pki: Pki,
    server: Server,
    addr: SocketAddr,
}

impl Tls {
    fn start(dir: &Path) -> Self {
        let pki = Pki::new();
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let leaf = pki.leaf(&["a.qredge.test"]);
        std::fs::write(certs.join("a.key"), &leaf.key_pem).unwrap();
        std::fs::write(certs.join("a.crt"), &leaf.cert_pem).unwrap();
        let server = Launch::new(&dir.join("data"))
            .config(&format!(
                "[edge]\n{LIMITS}\n[edge.tls]\nlisten = \"127.0.0.1:0\"\n\
                 certificates_dir = \"{}\"\ndefault_certificate = \"a\"\n",
                certs.display()
            ))
            .start();
        let addr = server
            .stdout
            .split_whitespace()
            .find_map(|field| field.strip_prefix("edge_tls=https://"))
            .expect("the TLS address")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        Tls { pki, server, addr }
    }

    /// A TLS client that trusts the test CA and offers `alpn`.
    fn client_config(&self, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.pki.ca_der.clone().into()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }

    /// Connects, with the handshake done on first use.
    fn connect(
        &self,
        alpn: &[u8],
    ) -> impl Fn() -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> + Send + Sync + 'static
    {
        let (config, addr) = (self.client_config(alpn), self.addr);
        move || {
            let name = "a.qredge.test".try_into().unwrap();
            let tls = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
            let socket = TcpStream::connect(addr).expect("connect");
            // The handshake waits for a slot: never forever.
            socket
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            rustls::StreamOwned::new(tls, socket)
        }
    }

    /// A GET of `/open` over HTTPS, on a connection of its own.
    fn scan(&self) -> u16 {
        let client = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(self.pki.ca.clone())
            .resolve("a.qredge.test", self.addr)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let response = client.get("https://a.qredge.test/open").send().unwrap();
        response.status().as_u16()
    }
}

#[test]
fn slow_clients_over_tls_are_cut_and_scans_answered_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let tls = Tls::start(dir.path());
    codes(&tls.server);

    let slow = open_slow(tls.connect(b"http/1.1"), &EVERY_KIND, Paths::edge());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        tls.scan(),
        302,
        "a scan is answered beside {SLOW} slow clients"
    );
    assert_all_cut(&finish(slow), edge_answer);

    // The plain listener shares the pool of slots and is answered too.
    assert_eq!(
        tls.server.scan("open", support::IPHONE_SAFARI).status(),
        302
    );
}

#[test]
fn an_idle_http2_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let tls = Tls::start(dir.path());
    // The client preface and an empty SETTINGS frame, then no request: only PINGs answered.
    let mut connection = tls.connect(b"h2")();
    connection
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    assert_eq!(connection.conn.alpn_protocol(), Some(&b"h2"[..]));
    let opened = Instant::now();
    let mut received = Vec::new();
    let mut frame_types = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match connection.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
        while received.len() >= 9 {
            let length = u32::from_be_bytes([0, received[0], received[1], received[2]]) as usize;
            if received.len() < 9 + length {
                break;
            }
            let frame: Vec<u8> = received.drain(..9 + length).collect();
            let (kind, flags) = (frame[3], frame[4]);
            frame_types.push(kind);
            if kind == 6 && flags & 1 == 0 {
                let mut ack = frame.clone();
                ack[4] = 1;
                let _ = connection.write_all(&ack);
            }
        }
    }
    let closed = opened.elapsed();
    assert!(
        closed < LONGEST_HOLD + SLACK,
        "closed after {closed:?}, idle timeout 2 s"
    );
    assert_eq!(
        frame_types.last(),
        Some(&7),
        "a GOAWAY last: {frame_types:?}"
    );
}

#[test]
fn many_http2_streams_hold_no_slot_past_their_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let tls = Tls::start(dir.path());
    codes(&tls.server);
    let config = tls.client_config(b"h2");
    let addr = tls.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // 200 POSTs to the password form on one connection (128 at a time, the stream limit), each
    // announcing a body it never sends: each answered 408 after the body timeout.
    let (statuses, connection) = runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = "a.qredge.test".try_into().unwrap();
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .unwrap();
        let (client, connection) = h2::client::handshake(stream).await.unwrap();
        let connection = tokio::spawn(connection);
        // Once the server's SETTINGS are in, the client keeps to its stream limit.
        let client = client.ready().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.current_max_send_streams() != 128 {
            assert!(Instant::now() < deadline, "the server's SETTINGS arrive");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut answers = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..200 {
            let mut client = client.clone().ready().await.unwrap();
            let request = hyper::Request::post("https://a.qredge.test/locked")
                .header("content-length", "100")
                .body(())
                .unwrap();
            let (answer, body) = client.send_request(request, false).unwrap();
            answers.push(tokio::spawn(answer));
            bodies.push(body);
        }
        let mut statuses = Vec::new();
        for answer in answers {
            let answer = tokio::time::timeout(Duration::from_secs(20), answer).await;
            statuses.push(
                answer
                    .expect("answered")
                    .unwrap()
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        (statuses, connection)
    });
    assert!(statuses.iter().all(|s| *s == 408), "{statuses:?}");
    assert_eq!(tls.scan(), 302, "scans are answered on other connections");
    // With nothing in progress any more, the server closes the connection.
    let closed = runtime
        .block_on(async { tokio::time::timeout(LONGEST_HOLD + DRAIN + SLACK, connection).await });
    assert!(closed.is_ok(), "the idle HTTP/2 connection was closed");
}

#[test]
fn slow_clients_on_the_api_are_cut_and_the_api_and_edge_answer_meanwhile() {
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data)
        .config(&format!("[api]\n{LIMITS}"))
        .start();
    codes(&server);
    let kinds = [
        Hostile::BodyNeverSent,
        Hostile::BodyTrickled,
        Hostile::HeadTrickled,
        Hostile::Silent,
        Hostile::IdleKeepAlive,
    ];
    let slow = open_slow(
        plain_connect(address(&server.api)),
        &kinds,
        Paths::api(&server),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.scan("open", support::IPHONE_SAFARI).status(), 302);
    let (status, body) = server.call(reqwest::Method::GET, "/api/qrs-api", None);
    assert_eq!(
        status, 200,
        "the API answers beside {SLOW} slow clients: {body}"
    );
    let big = server
        .client
        .get(format!("{}/healthz", server.api))
        .header("x-big", "x".repeat(20_000))
        .send()
        .unwrap();
    assert_eq!(big.status(), 431, "api.max_header_bytes");
    let held = finish(slow);
    for held in &held {
        if held.kind == Hostile::BodyNeverSent || held.kind == Hostile::BodyTrickled {
            assert!(
                held.answer.contains("\"success\":false")
                    && held.answer.contains("did not arrive within 1000 ms"),
                "{held:?}"
            );
        }
    }
    let api_answer = |kind| match kind {
        Hostile::BodyNeverSent | Hostile::BodyTrickled => "408",
        Hostile::IdleKeepAlive => "200",
        _ => "",
    };
    assert_all_cut(&held, api_answer);
    // Nothing was created by the bodies that never came.
    let (_, list) = server.call(reqwest::Method::GET, "/api/qrs-api", None);
    assert_eq!(list["data"]["qrs"].as_array().unwrap().len(), 2, "{list}");
}

#[test]
fn the_caps_fit_under_the_open_files_limit_and_the_edge_keeps_serving() {
    let (_tmp, data) = support::data_dir();
    // Soft 300, hard 600: raised to 600, of which 256 are kept for files and outgoing
    // connections, the rest shared in proportion by the edge (10000) and the API (1024).
    let server = Launch::new(&data)
        .config("[edge]\nheader_read_timeout_ms = 1000\n[api]\nheader_read_timeout_ms = 1000\n")
        .open_files(300, 600)
        .start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["600", "600"],
        "{open_files}"
    );
    assert!(
        server
            .log()
            .contains("lowered to edge.max_connections = 312, api.max_connections = 31"),
        "{}",
        server.log()
    );
    codes(&server);

    // More silent connections than the process has files for: they wait to be accepted, and
    // are cut by the header timeout, while scans and API calls are answered.
    let edge = address(&server.edge);
    let api = address(&server.api);
    let silent: Vec<TcpStream> = (0..500)
        .map(|i| TcpStream::connect(if i % 5 == 0 { api } else { edge }).unwrap())
        .collect();
    assert_eq!(server.scan("open", support::IPHONE_SAFARI).status(), 302);
    let (status, _) = server.call(reqwest::Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200);
    drop(silent);
    assert_eq!(server.scan("open", support::IPHONE_SAFARI).status(), 302);
    assert!(!server.log().contains("accept failed"), "{}", server.log());
}
