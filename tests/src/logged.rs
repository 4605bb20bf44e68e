//! `wasmhook serve` (the real binary) as a child process whose stderr log
//! lines are kept, for tests about what the server logs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::server::{ADMIN_TOKEN, shared_cache_dir};
use crate::{ensure_built, repo_root};

/// `wasmhook serve` as a child process whose log lines are kept.
pub struct LoggedServer {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl LoggedServer {
    /// [`LoggedServer::start`] from async code: the start blocks while
    /// the server loads its plugins.
    pub async fn launch(binary: &'static str) -> Self {
        tokio::task::spawn_blocking(move || LoggedServer::start(Path::new(binary)))
            .await
            .expect("the server start ran to the end")
    }

    /// Starts `binary` (the test's `CARGO_BIN_EXE_wasmhook-e2e`) serving, with
    /// every log line at debug level kept.
    pub fn start(binary: &Path) -> Self {
        ensure_built();
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut child = Command::new(binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--plugins-dir")
            .arg(repo_root().join("plugins/dist"))
            .arg("--cache-dir")
            .arg(shared_cache_dir())
            .args(["--admin-token", ADMIN_TOKEN])
            .args(
                crate::database::database_for(data_dir.path())
                    .map(|url| vec!["--database-url".to_owned(), url])
                    .unwrap_or_default(),
            )
            .args([
                "--allow-plain-http-blocks",
                "--outbound-allowlist",
                "127.0.0.1/32",
            ])
            .env("WASMHOOK_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wasmhook serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let kept = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("wasmhook: listening on http://")
                    && let Some(address) = rest.split_whitespace().next()
                {
                    let _ = address_tx.send(address.to_owned());
                }
                kept.lock().expect("lock").push(line);
            }
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server prints its address");
        LoggedServer {
            child,
            base: format!("http://{address}"),
            lines,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            _data_dir: data_dir,
        }
    }

    /// Sends a request; returns status, the body as text, and as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, text, json)
    }

    /// The server's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every log line so far, without colour codes.
    pub fn log(&self) -> Vec<String> {
        self.raw_log()
            .iter()
            .map(|line| without_ansi(line))
            .collect()
    }

    /// Every log line so far, exactly as the server wrote it.
    pub fn raw_log(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }
}

/// `line` without terminal colour codes (`ESC [ … m`).
pub fn without_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for code in chars.by_ref() {
                if code.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
