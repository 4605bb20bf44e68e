//! Support shared by the end-to-end tests and the benchmarks: where the
//! repository's wasm artefacts are, built from source on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod bench;
pub mod database;
pub mod logged;
pub mod process;
pub mod receiver;
pub mod resource;
pub mod server;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Builds the first-party plugins and the test guests once per process
/// (`plugins/build.sh`; a no-op when they are up to date), panicking with the
/// build's output if it fails.
pub fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = repo_root().join("plugins/build.sh");
        let output = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed:\n{}\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// The path of first-party plugin `name` (`gupshup`, `json-renderer`, ...).
pub fn plugin_path(name: &str) -> PathBuf {
    ensure_built();
    let path = repo_root()
        .join("plugins/dist")
        .join(format!("{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The bytes of first-party plugin `name`.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    read(&plugin_path(name))
}

/// The bytes of test guest `name` (`hostile`, `forbidden-http`, ...).
pub fn guest_bytes(name: &str) -> Vec<u8> {
    ensure_built();
    read(
        &repo_root()
            .join("tests/guests/dist")
            .join(format!("{name}.wasm")),
    )
}

/// The fixture folder of a vendor (`plugins/fixtures/<vendor>`).
pub fn fixtures_dir(vendor: &str) -> PathBuf {
    repo_root().join("plugins/fixtures").join(vendor)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
