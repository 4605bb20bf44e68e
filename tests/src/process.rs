//! The real `wasmhook serve` binary as a child process, for the tests and
//! benchmarks that need what only a process has: being killed with SIGKILL,
//! stopped with SIGTERM, restarted on the same data dir, or measured on its
//! own runtime. The server prints its address on stderr; this reads it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::server::{ADMIN_TOKEN, shared_cache_dir};
use crate::{ensure_built, repo_root};

/// How long a server may take to print its address (a fresh compile cache
/// compiles every first-party plugin first).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The line prefix `wasmhook serve` prints once it listens.
const LISTENING: &str = "wasmhook: listening on http://";

/// A `wasmhook serve` child process.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
}

impl ServerProcess {
    /// Starts `binary serve` on 127.0.0.1:0 over `data_dir` with the
    /// first-party plugins, the shared compile cache and [`ADMIN_TOKEN`],
    /// and waits (bounded) until it listens. `extra_args` go last.
    pub fn start(binary: &Path, data_dir: &Path, extra_args: &[&str]) -> Self {
        ensure_built();
        let mut child = Command::new(binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--plugins-dir")
            .arg(repo_root().join("plugins/dist"))
            .arg("--cache-dir")
            .arg(shared_cache_dir())
            .args(["--admin-token", ADMIN_TOKEN])
            .args(
                crate::database::database_for(data_dir)
                    .map(|url| vec!["--database-url".to_owned(), url])
                    .unwrap_or_default(),
            )
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (address_tx, address_rx) = mpsc::channel();
        // The reader keeps draining stderr after the address line so the
        // server never blocks on a full pipe; its lines go to the test output.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(LISTENING)
                    && let Some(address) = rest.split_whitespace().next()
                {
                    let _ = address_tx.send(address.to_owned());
                } else {
                    eprintln!("[server] {line}");
                }
            }
        });
        let address = match address_rx.recv_timeout(START_TIMEOUT) {
            Ok(address) => address,
            Err(error) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "server did not print its address within {START_TIMEOUT:?} ({error}); exit: {status:?}"
                );
            }
        };
        let addr: SocketAddr = address
            .parse()
            .unwrap_or_else(|e| panic!("server printed a bad address `{address}`: {e}"));
        ServerProcess {
            child,
            addr,
            base: format!("http://{addr}"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Kills the process with SIGKILL (no chance to flush) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("server did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that failed half way must not leave a server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A gupshup WhatsApp "delivered" callback
/// (`plugins/fixtures/gupshup/secondary-wa-v2-delivered.json`) whose message
/// id is `message_id`: distinct ids make distinct events.
#[derive(Debug, Clone)]
pub struct GupshupCallbacks {
    before_id: String,
    after_id: String,
}

impl GupshupCallbacks {
    /// Reads the fixture.
    pub fn load() -> Self {
        let path: PathBuf = crate::fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut sample: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
        const MARK: &str = "@@message-id@@";
        sample["payload"]["gsId"] = MARK.into();
        let text = sample.to_string();
        let (before_id, after_id) = text.split_once(MARK).expect("the mark is in the text");
        GupshupCallbacks {
            before_id: before_id.to_owned(),
            after_id: after_id.to_owned(),
        }
    }

    /// The callback body with message id `message_id`.
    pub fn body(&self, message_id: &str) -> String {
        format!("{}{message_id}{}", self.before_id, self.after_id)
    }
}
