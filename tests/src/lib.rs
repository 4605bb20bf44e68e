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

/// First-party plugin `name` with a custom section `wasmhook-test` holding
/// `tag` appended: the same plugin in different bytes, for tests that need a
/// second version (identical bytes are answered as the existing version).
pub fn plugin_bytes_tagged(name: &str, tag: &str) -> Vec<u8> {
    let mut bytes = plugin_bytes(name);
    let section_name = b"wasmhook-test";
    let mut content = leb128(section_name.len());
    content.extend_from_slice(section_name);
    content.extend_from_slice(tag.as_bytes());
    bytes.push(0); // a custom section
    bytes.extend(leb128(content.len()));
    bytes.extend(content);
    bytes
}

/// `value` as unsigned LEB128, the wasm binary format's integers.
fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
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
