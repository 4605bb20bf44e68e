//! A full disk, on a real size-limited filesystem (a tmpfs, else a loop-
//! mounted ext4 image; both need root): ingest and admin writes answer 503
//! `storage_unavailable` with `Retry-After` and `/readyz` 503 while the
//! disk is full, everything works again without a restart once space is
//! back, and no event that got a 202 is lost. A server started on a data
//! dir that is (or becomes) full exits with a message naming the data dir
//! and the cause instead of hanging.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook_tests::process::GupshupCallbacks;
use wasmhook_tests::server::{ADMIN_TOKEN, TestServer, shared_cache_dir};

/// A size-limited filesystem mounted on a temp dir; unmounted on drop.
struct SmallFs {
    mount: tempfile::TempDir,
    image: Option<tempfile::TempDir>,
}

impl SmallFs {
    /// A filesystem of `mib` MiB, or `None` (with why printed) where this
    /// process may not mount one.
    fn new(mib: u64) -> Option<Self> {
        let mount = tempfile::tempdir().expect("mount point");
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(mount.path())
            .stderr(Stdio::piped())
            .output();
        let tmpfs_error = match tmpfs {
            Ok(output) if output.status.success() => {
                return Some(SmallFs { mount, image: None });
            }
            Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            Err(error) => error.to_string(),
        };
        // No tmpfs: a loop-mounted ext4 image.
        let image_dir = tempfile::tempdir().expect("image dir");
        let image = image_dir.path().join("fs.img");
        let made = Command::new("truncate")
            .args(["-s", &format!("{mib}M")])
            .arg(&image)
            .status()
            .is_ok_and(|status| status.success())
            && Command::new("mkfs.ext4")
                .args(["-q", "-F"])
                .arg(&image)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(mount.path())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
        if made {
            return Some(SmallFs {
                mount,
                image: Some(image_dir),
            });
        }
        eprintln!(
            "SKIPPED: no size-limited filesystem can be mounted here (tmpfs: {tmpfs_error}; \
             a loop-mounted ext4 image failed too); these tests need root (CI runs them as root)"
        );
        None
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fills the filesystem to the last byte with a file; returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let block = vec![0xa5u8; 64 << 10];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => break,
                Err(error) => panic!("filling the filesystem: {error}"),
            }
        }
        // Whatever a partial block left.
        let mut byte = [0u8; 1];
        while file.write(&byte).is_ok_and(|n| n == 1) {
            byte[0] = byte[0].wrapping_add(1);
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        let _ = &self.image;
    }
}

async fn ingest(server: &TestServer, token: &str, body: String) -> reqwest::Response {
    server
        .client
        .post(server.url("/ingest/gs"))
        .header("x-wasmhook-token", token)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("ingest request")
}

/// The event ids a 202 named.
async fn accepted_ids(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_recovers_without_restart() {
    if wasmhook_tests::database::on_postgres() {
        // The records are in the database, not on the data dir's disk (it
        // keeps the compile cache): the store's outage tests cover a
        // database that stops taking writes.
        eprintln!("note: the embedded store's full-disk test; the servers run on PostgreSQL");
        return;
    }
    let Some(fs) = SmallFs::new(64) else {
        return;
    };
    let data_dir = fs.path().join("data");
    let server = TestServer::start_with(|config| {
        config.data_dir = data_dir.clone();
        config.min_free_disk_bytes = 2 << 20;
    })
    .await;
    let token = server.create_source("gs", "gupshup", json!({})).await;
    let callbacks = GupshupCallbacks::load();
    let mut stored = Vec::new();
    for n in 0..20 {
        let response = ingest(&server, &token, callbacks.body(&format!("before-{n}"))).await;
        stored.extend(accepted_ids(response).await);
    }

    let filler = fs.fill();
    for n in 0..5 {
        let response = ingest(&server, &token, callbacks.body(&format!("full-{n}"))).await;
        assert_eq!(response.status(), 503, "callback full-{n} on a full disk");
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "storage_unavailable", "{body}");
    }
    let (status, body) = server
        .post(
            "/v1/sources",
            &json!({"name": "other", "mapper": "gupshup", "config": {}, "ingest_token": "other-token-0123456789"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{body}"
    );
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert!(
        ready.to_string().contains("min_free_disk_bytes"),
        "/readyz should say why: {ready}"
    );
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "a full disk is no reason to restart");

    // Space is back: writes resume by themselves.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still 503 10 s after space came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in 0..20 {
        let response = ingest(&server, &token, callbacks.body(&format!("after-{n}"))).await;
        stored.extend(accepted_ids(response).await);
    }
    let (status, body) = server
        .post(
            "/v1/sources",
            &json!({"name": "other", "mapper": "gupshup", "config": {}, "ingest_token": "other-token-0123456789"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Every 202 is there, now and after a restart on the same data dir.
    for id in &stored {
        let (status, _) = server.get(&format!("/v1/events/{id}")).await;
        assert_eq!(status, 200, "event {id}");
    }
    server.stop().await;
    let restarted = TestServer::start_with(|config| {
        config.data_dir = data_dir.clone();
        config.min_free_disk_bytes = 2 << 20;
    })
    .await;
    for id in &stored {
        let (status, _) = restarted.get(&format!("/v1/events/{id}")).await;
        assert_eq!(status, 200, "event {id} after the restart");
    }
    restarted.stop().await;
}

/// Runs `wasmhook serve` on `data_dir` with `extra` flags; panics unless
/// it exits (within 60 s) unsuccessfully. Returns its stderr.
fn start_fails(data_dir: &Path, extra: &[&str]) -> String {
    wasmhook_tests::ensure_built();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--plugins-dir")
        .arg(wasmhook_tests::repo_root().join("plugins/dist"))
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .args(["--admin-token", ADMIN_TOKEN])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server neither started nor exited within 60 s:\n{}",
                std::fs::read_to_string(stderr.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(stderr.path()).unwrap();
    assert!(
        !status.success(),
        "the server started on a full disk:\n{text}"
    );
    assert!(
        !text.contains("wasmhook: listening on"),
        "the server listened on a full disk:\n{text}"
    );
    text
}

#[test]
fn starting_on_a_full_or_tiny_disk_exits_with_a_message() {
    // Full to the last byte.
    let Some(fs) = SmallFs::new(8) else {
        return;
    };
    let filler = fs.fill();
    let data_dir = fs.path().join("data");
    let text = start_fails(&data_dir, &[]);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains(&data_dir.display().to_string()) && last.contains("No space left"),
        "the last line should name the data dir and the cause:\n{text}"
    );
    std::fs::remove_file(filler).unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);

    // Less free than the floor.
    let text = start_fails(&data_dir, &["--min-free-disk-bytes", "67108864"]);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains(&data_dir.display().to_string()) && last.contains("min_free_disk_bytes"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);

    // Room to open the store but not for the bundled plugins (8 MiB of
    // them): the disk fills while starting. This used to hang for ever.
    let text = start_fails(&data_dir, &["--min-free-disk-bytes", "1048576"]);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains(&data_dir.display().to_string()),
        "the last line should name the data dir:\n{text}"
    );
}
