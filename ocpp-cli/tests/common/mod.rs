//! What the tests of the HTTP APIs share: scratch directories, an `ocpp csms --http`
//! process, HTTP/1.1 requests over loopback, and bounded polling.
#![allow(dead_code, reason = "each test crate uses a part")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ocpp");

/// A fresh scratch directory for one test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("http-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// An `ocpp csms --http` process: its OCPP-J URL and its API address. Killed when dropped.
pub(crate) struct Csms {
    child: Child,
    pub(crate) url: String,
    pub(crate) api: SocketAddr,
    log: PathBuf,
}

impl Csms {
    pub(crate) fn start(dir: &Path) -> Csms {
        Csms::start_with(dir, &["--accept-all"])
    }

    /// With extra arguments.
    pub(crate) fn start_with(dir: &Path, extra: &[&str]) -> Csms {
        let log = dir.join("csms.log");
        let mut child = Command::new(BIN)
            .args(["csms", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .arg("--db")
            .arg(dir.join("csms.redb"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("ocpp csms runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read stdout");
            lines.push(line.trim().to_owned());
        }
        let url = lines[0].strip_prefix("listening on ").map(str::to_owned);
        let api = lines[2]
            .strip_prefix("http api on http://")
            .and_then(|a| a.parse().ok());
        let (Some(url), Some(api)) = (url, api) else {
            let _ = child.kill();
            panic!("unexpected first lines {lines:?}");
        };
        Csms {
            child,
            url,
            api,
            log,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Csms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; the status and the JSON body (`null` if the body is not JSON).
pub(crate) async fn http(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(api).await.expect("connect");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("receive");
        let response = String::from_utf8(response).expect("UTF-8");
        let (head, body) = response.split_once("\r\n\r\n").expect("a header");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect("answered within 60 s")
}

/// `POST /stations/{station}/calls/{action}` with `payload`.
pub(crate) async fn post_call(
    api: SocketAddr,
    station: &str,
    action: &str,
    payload: &str,
) -> (u16, Value) {
    http(
        api,
        "POST",
        &format!("/stations/{station}/calls/{action}"),
        payload,
    )
    .await
}

/// Whether the error message of `body` contains `text`.
pub(crate) fn says(body: &Value, text: &str) -> bool {
    body["error"].as_str().is_some_and(|e| e.contains(text))
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Polls `GET path` until `ready` holds for the body (or 20 s have passed).
pub(crate) async fn until(api: SocketAddr, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http(api, "GET", path, "").await;
        if status == 200 && ready(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "GET {path}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
