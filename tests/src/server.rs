//! A real server for tests and benchmarks: `wasmhook::app::run` in this
//! process on 127.0.0.1:0, a temp data dir, the first-party plugins
//! installed (compiled in process), a compile cache shared by every server of the test run, and an
//! HTTP client that speaks to it with the admin token.

use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmhook::config::ServeConfig;
use wasmhook::domain::Secret;

use crate::{ensure_built, repo_root};

/// The admin token every test server uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client (no proxy, no idle connections kept).
    pub client: reqwest::Client,
    /// The data dir (kept until the server is dropped; an unused one for a
    /// server started with [`TestServer::start_embedded_in`]).
    pub data_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), wasmhook::app::ServeError>>>,
}

/// The compile cache shared by the test servers of one `cargo test` run, so
/// each server loads the first-party plugins without compiling them.
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target/tmp/wasmhook-server-test-cache")
}

/// The configuration of a test server in `data_dir`: first-party plugins,
/// shared cache, fixed admin token, a small instance pool, and the store
/// the test run chose (see [`crate::database`]).
pub fn test_config(data_dir: PathBuf) -> ServeConfig {
    let mut config = embedded_config(data_dir);
    config.database_url = crate::database::database_for(&config.data_dir).map(Secret::new);
    config
}

/// [`test_config`] on the embedded store, whatever store the test run
/// chose.
pub fn embedded_config(data_dir: PathBuf) -> ServeConfig {
    ensure_built();
    let mut config = ServeConfig::with_data_dir(data_dir);
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    config.plugins_dir = Some(repo_root().join("plugins/dist"));
    config.cache_dir = Some(shared_cache_dir());
    config.max_instances = 32;
    // The test binary is not the server binary, so it cannot be the compile
    // child; tests of compilation limits point `compile_program` at the
    // package's `wasmhook-e2e` and turn this off.
    config.compile_in_process = true;
    config
}

impl TestServer {
    /// Starts a server with the test configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the test configuration changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let mut config = test_config(data_dir.path().to_path_buf());
        adjust(&mut config);
        Self::start_configured(data_dir, config).await
    }

    /// Starts a server on the embedded store in `data_dir`, which the
    /// caller keeps (it outlives the server: tests of what is done with a
    /// stopped server's data dir), whatever store the test run chose, with
    /// the test configuration changed by `adjust`.
    pub async fn start_embedded_in(
        data_dir: &std::path::Path,
        adjust: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        let mut config = embedded_config(data_dir.to_path_buf());
        adjust(&mut config);
        // `self.data_dir` is then an unused temp dir, dropped with the server.
        let unused = tempfile::tempdir().expect("temp dir");
        Self::start_configured(unused, config).await
    }

    async fn start_configured(data_dir: tempfile::TempDir, config: ServeConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(wasmhook::app::run(config, listener, shutdown.clone()));
        let mut server = TestServer {
            addr,
            base: format!("http://{addr}"),
            // No idle connections kept: after a 413 the server closes the
            // connection it did not read to the end, and a pooled client
            // could pick that connection for the next request
            // (`IncompleteMessage`), making tests flaky.
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
            data_dir,
            shutdown,
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            // A server that failed to start says why instead of timing out.
            if self.task.as_ref().is_some_and(JoinHandle::is_finished)
                && let Some(task) = self.task.take()
            {
                panic!(
                    "server at {} stopped before it was ready: {:?}",
                    self.base,
                    task.await
                );
            }
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server at {} not ready within 120 s",
                self.base
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// GET with the admin token; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        json_of(self.admin(Method::GET, path).send().await.expect("GET")).await
    }

    /// POST JSON with the admin token; returns status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        json_of(
            self.admin(Method::POST, path)
                .json(body)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Creates a source for `mapper` with token `<name>-token-0123456789`;
    /// panics unless it was created.
    pub async fn create_source(&self, name: &str, mapper: &str, config: Value) -> String {
        let token = format!("{name}-token-0123456789");
        let (status, body) = self
            .post(
                "/v1/sources",
                &serde_json::json!({"name": name, "mapper": mapper, "config": config, "ingest_token": token}),
            )
            .await;
        assert_eq!(status, 201, "creating source {name}: {body}");
        token
    }

    /// Stops the server gracefully and waits for it (store flushed).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        crate::database::drop_database_of(self.data_dir.path());
    }
}

/// Status and JSON body of a response (`Value::Null` for an empty or
/// non-JSON body).
pub async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("response body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}
