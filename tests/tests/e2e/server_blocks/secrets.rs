//! Connectors' secrets in block requests: the resource receives Basic,
//! Bearer and API-key credentials, and no API answer and no log line of the
//! server (the real binary, its stderr captured at debug level) ever holds
//! one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::{ADMIN_TOKEN, shared_cache_dir};
use wasmhook_tests::{ensure_built, repo_root};

/// `wasmhook serve` as a child process whose log lines are kept.
struct LoggedServer {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl LoggedServer {
    fn start() -> Self {
        ensure_built();
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--plugins-dir")
            .arg(repo_root().join("plugins/dist"))
            .arg("--cache-dir")
            .arg(shared_cache_dir())
            .args(["--admin-token", ADMIN_TOKEN])
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
                kept.lock().expect("lock").push(without_ansi(&line));
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
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, String, Value) {
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

    fn log(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }
}

/// `line` without terminal colour codes (`ESC [ … m`).
fn without_ansi(line: &str) -> String {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_credentials_reach_the_resource_and_nothing_else() {
    let server = tokio::task::spawn_blocking(LoggedServer::start)
        .await
        .expect("start");
    let resource = TestResource::start().await;
    resource.route("/secured", Answer::json(json!({"ok": true})));
    // base64("ops-user:pw-BASIC-s3cret"): what travels in the Basic header.
    let basic_encoded = "b3BzLXVzZXI6cHctQkFTSUMtczNjcmV0";
    let secrets = [
        "pw-BASIC-s3cret",
        basic_encoded,
        "tok-BEARER-s3cret",
        "key-APIKEY-s3cret",
    ];
    let connectors = [
        (
            "crm-basic",
            json!({"kind": "basic", "username": "ops-user", "password": "pw-BASIC-s3cret"}),
        ),
        (
            "crm-bearer",
            json!({"kind": "bearer", "token": "tok-BEARER-s3cret"}),
        ),
        (
            "crm-key",
            json!({"kind": "api_key", "header": "X-Api-Key", "value": "key-APIKEY-s3cret"}),
        ),
    ];
    let mut answers: Vec<String> = Vec::new();
    for (name, auth) in &connectors {
        let (status, text, _) = server
            .call(
                Method::POST,
                "/v1/connectors",
                Some(json!({"name": name, "auth": auth})),
            )
            .await;
        assert_eq!(status, 201, "{text}");
        answers.push(text);
    }
    let blocks = [
        ("b_basic", "crm-basic"),
        ("b_bearer", "crm-bearer"),
        ("b_key", "crm-key"),
    ];
    for (block, connector) in blocks {
        let (status, text, _) = server
            .call(
                Method::POST,
                "/v1/blocks",
                Some(json!({"name": block, "config": {
                    "url": resource.url("/secured?email=${email}"), "connector": connector}})),
            )
            .await;
        assert_eq!(status, 201, "{text}");
        answers.push(text);
    }
    let input = json!({"event": {"email": "ann.private@example.com"}});
    let expected_header = [
        ("b_basic", "authorization", format!("Basic {basic_encoded}")),
        (
            "b_bearer",
            "authorization",
            "Bearer tok-BEARER-s3cret".to_owned(),
        ),
        ("b_key", "x-api-key", "key-APIKEY-s3cret".to_owned()),
    ];
    for (block, header, value) in &expected_header {
        let (status, text, result) = server
            .call(
                Method::POST,
                &format!("/v1/blocks/{block}/invoke"),
                Some(input.clone()),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(result["ok"], true, "{text}");
        assert_eq!(
            resource.last_on("/secured").header(header),
            Some(value.as_str())
        );
        let shown = result["request"]["headers"].as_array().expect("headers");
        assert!(
            shown.contains(&json!([header, "***"])),
            "{block}: {shown:?}"
        );
        answers.push(text);
        let (status, text, _) = server
            .call(
                Method::POST,
                &format!("/v1/blocks/{block}/test"),
                Some(input.clone()),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        answers.push(text);
    }
    let mut run = input.clone();
    run["blocks"] = json!(["b_basic", "b_bearer", "b_key"]);
    let (status, text, result) = server
        .call(Method::POST, "/v1/workflows/run", Some(run))
        .await;
    assert_eq!((status, &result["ok"]), (200, &json!(true)), "{text}");
    answers.push(text);
    for path in [
        "/v1/blocks",
        "/v1/blocks/b_basic",
        "/v1/connectors",
        "/v1/connectors/crm-basic",
        "/v1/plugins/http-block",
        "/openapi.json",
    ] {
        let (status, text, _) = server.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {text}");
        answers.push(text);
    }
    for answer in &answers {
        for secret in secrets {
            assert!(
                !answer.contains(secret),
                "an API answer holds a secret: {answer}"
            );
        }
    }

    // The log: every request traced, without secrets or the query's
    // personal data.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log();
    let traced: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("block request") && line.contains("b_key"))
        .collect();
    assert!(
        traced.len() >= 3,
        "block requests are not traced:\n{}",
        log.join("\n")
    );
    assert!(
        traced.iter().all(|line| line.contains("status=200")),
        "{traced:?}"
    );
    assert!(
        traced.iter().all(|line| line.contains("/secured")),
        "{traced:?}"
    );
    for line in &log {
        for secret in secrets {
            assert!(!line.contains(secret), "a log line holds a secret: {line}");
        }
        assert!(
            !line.contains("ann.private"),
            "a log line holds the query: {line}"
        );
    }
}
