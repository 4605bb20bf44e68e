//! `wasmhook plugin new` and `plugin test`, as a plugin author runs them:
//! every first-party fixture folder passes against its built component, a
//! wrong expectation (of a mapper, of a renderer) fails with the difference
//! and what came out, a block's samples run without a network, bad folders
//! and another world's samples are refused naming what is wrong, `--watch`
//! builds and runs again after a real file change, and a new crate of each
//! kind passes its own tests, builds and passes `plugin test`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::wasmhook;
use crate::harness::{fixture_folders, fixtures_dir, plugin_path};

/// `wasmhook plugin test WASM SAMPLES`.
fn plugin_test(wasm: &Path, samples: &Path) -> Output {
    wasmhook(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        samples.to_str().unwrap(),
    ])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of a vendor's fixture folder the test may edit.
/// The stdout of a `plugin test` run that failed (exit code 1) and its one
/// FAIL line.
fn failed_run(output: &Output) -> (String, String) {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let fail = stdout
        .lines()
        .find(|line| line.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL line:\n{stdout}"))
        .to_owned();
    (stdout, fail)
}

fn copy_of_fixtures(vendor: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for entry in std::fs::read_dir(fixtures_dir(vendor)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, samples.join(path.file_name().unwrap())).unwrap();
    }
    (dir, samples)
}

/// Sets what `file`'s first event's status must be in `samples/expected.json`.
fn expect_status(samples: &Path, file: &str, status: &str) {
    let path = samples.join("expected.json");
    let mut expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    expected[file]["events"][0]["status"]["status"] = Value::from(status);
    std::fs::write(&path, serde_json::to_vec_pretty(&expected).unwrap()).unwrap();
}

#[test]
fn every_first_party_fixture_folder_passes_against_its_component() {
    for (vendor, plugin) in fixture_folders() {
        let wasm = plugin_path(&plugin);
        let samples = fixtures_dir(&vendor);
        let output = plugin_test(&wasm, &samples);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{vendor}: exit {:?}\n{stdout}\n{}",
            output.status,
            text(&output.stderr)
        );
        let expected: serde_json::Map<String, Value> =
            serde_json::from_slice(&std::fs::read(samples.join("expected.json")).unwrap()).unwrap();
        // One line per sample, then the total.
        for file in expected.keys() {
            assert!(
                stdout
                    .lines()
                    .any(|line| line.starts_with("ok ") && line.contains(file.as_str())),
                "{vendor}: no ok line for {file}:\n{stdout}"
            );
        }
        let total = expected.len();
        assert!(
            stdout.contains(&format!("{total} samples: {total} passed, 0 failed")),
            "{vendor}:\n{stdout}"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_with_the_difference_and_what_came_out() {
    let (_dir, samples) = copy_of_fixtures("gupshup");
    expect_status(&samples, "secondary-wa-v2-delivered.json", "read");
    let wasm = plugin_path("gupshup");
    let output = plugin_test(&wasm, &samples);
    let (stdout, fail) = failed_run(&output);
    assert!(
        fail.contains("secondary-wa-v2-delivered.json")
            && fail.contains(r#"$[0].status.status: expected "read", got "delivered""#),
        "{fail}"
    );
    // What the mapper made, under the line.
    assert!(
        stdout.contains(r#"|       "status": "delivered","#),
        "{stdout}"
    );
    assert!(stdout.contains("1 failed"), "{stdout}");
}

#[test]
fn bad_samples_and_another_worlds_samples_are_refused_naming_what_is_wrong() {
    let (_dir, samples) = copy_of_fixtures("gupshup");
    std::fs::write(samples.join("stray.json"), "{}").unwrap();
    let wasm = plugin_path("gupshup");
    let output = plugin_test(&wasm, &samples);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("stray.json has no entry in") && stderr.contains("expected.json"),
        "{stderr}"
    );

    // A renderer reads the folder as renderer samples: a mapper's
    // expectation is named, field and all.
    let renderer = plugin_path("json-renderer");
    let output = plugin_test(&renderer, &fixtures_dir("gupshup"));
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("unknown field `events`")
            && stderr.contains("is a renderer: the folder is read as a renderer's samples"),
        "{stderr}"
    );
}

/// Writes `files` (name, contents) into a fresh `samples/` folder.
fn samples_folder(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for (name, contents) in files {
        std::fs::write(samples.join(name), contents).unwrap();
    }
    (dir, samples)
}

#[test]
fn a_wrong_render_expectation_fails_with_the_first_differing_line() {
    let (_dir, samples) = samples_folder(&[
        ("ana.json", r#"{"name": "Ana", "order": "o-17"}"#),
        (
            "greeting.tmpl",
            "Hi {{ name }}\nyour order {{ order }} is on its way",
        ),
        (
            "expected.json",
            r#"{
              "ana.json": {
                "format": "text",
                "template_file": "greeting.tmpl",
                "content_type": "text/plain; charset=utf-8",
                "body": "Hi Ana\nyour order o-17 is on its way"
              },
              "ana-again.json": {
                "format": "text",
                "template_file": "greeting.tmpl",
                "body": "Hi Ana\nyour order o-18 is on its way"
              }
            }"#,
        ),
    ]);
    std::fs::copy(samples.join("ana.json"), samples.join("ana-again.json")).unwrap();
    let output = plugin_test(&plugin_path("text-renderer"), &samples);
    let (stdout, fail) = failed_run(&output);
    assert!(
        stdout.lines().any(|line| line.starts_with("ok ")
            && line.contains("samples/ana.json")
            && line.contains("text/plain; charset=utf-8")),
        "{stdout}"
    );
    assert!(
        fail.contains("samples/ana-again.json")
            && fail.contains(
                "body: line 2: expected `your order o-18 is on its way`, got `your order o-17 is on its way`"
            ),
        "{fail}"
    );
    // What the renderer made, under the line.
    assert!(
        stdout.contains("      | content type: text/plain; charset=utf-8\n      | Hi Ana\n"),
        "{stdout}"
    );
    assert!(stdout.contains("2 samples: 1 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_block_runs_its_samples_against_canned_replies_without_a_network() {
    let config =
        r#"{"url": "https://crm.example.com/contacts?email=${email}", "connector": "crm"}"#;
    let expected = format!(
        r#"{{
          "ana.json": {{
            "config": {config},
            "http": [{{"body": {{"tier": "gold"}}}}],
            "requests": [{{"method": "GET", "url": "https://crm.example.com/contacts?email=ana%40example.com", "connector": "crm"}}],
            "data": {{"tier": "gold"}}
          }},
          "crm-down.json": {{
            "config": {config},
            "http": [{{"error": {{"kind": "timeout"}}}}],
            "error": "upstream"
          }},
          "two-calls.json": {{
            "config": {config},
            "requests": [{{}}, {{}}],
            "data": {{}}
          }}
        }}"#
    );
    let input = r#"{"contact": {"email": "ana@example.com"}}"#;
    let (_dir, samples) = samples_folder(&[
        ("ana.json", input),
        ("crm-down.json", input),
        ("two-calls.json", input),
        ("expected.json", &expected),
    ]);
    let output = plugin_test(&plugin_path("http-block"), &samples);
    let (stdout, fail) = failed_run(&output);
    for passing in ["samples/ana.json", "samples/crm-down.json"] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with("ok ") && line.contains(passing)),
            "{passing}:\n{stdout}"
        );
    }
    // The block sent one request where two were expected; with no reply
    // left for a request it would have been refused, never sent.
    assert!(
        fail.contains("samples/two-calls.json")
            && fail.contains("requests: expected 2, the block sent 1"),
        "{fail}"
    );
    assert!(
        stdout.contains("expected.json's `http` has 0 replies"),
        "the refusal says why:\n{stdout}"
    );
}

/// The stdout lines of a running child, gathered by a thread.
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn wait_for(&self, what: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let lines = self.0.lock().unwrap();
            if lines.iter().filter(|line| line.contains(what)).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {count}x `{what}` in:\n{}",
                lines.join("\n")
            );
            drop(lines);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn watch_builds_and_runs_again_after_a_file_changes() {
    let (dir, samples) = copy_of_fixtures("gupshup");
    // A crate of its own to build (the smallest that builds to wasm), so
    // the test exercises the build without compiling a whole mapper.
    let crate_dir = dir.path().join("crate");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"watched\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), "").unwrap();
    let wasm = plugin_path("gupshup");
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .args(["plugin", "test", "--watch", "--manifest-dir"])
        .arg(&crate_dir)
        .arg(&wasm)
        .arg(&samples)
        .env("WASMHOOK_CACHE_DIR", cache.path())
        .env_remove("CARGO_TARGET_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wasmhook runs");
    let lines = Lines(Arc::new(Mutex::new(Vec::new())));
    let gathered = Arc::clone(&lines.0);
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            gathered.lock().unwrap().push(line);
        }
    });

    lines.wait_for("0 failed", 1);
    lines.wait_for("watching", 1);
    assert!(
        crate_dir
            .join("target/wasm32-wasip2/release/watched.wasm")
            .exists(),
        "the crate was built"
    );
    expect_status(&samples, "secondary-wa-v2-delivered.json", "read");
    lines.wait_for("1 failed", 1);
    lines.wait_for("watching", 2);
    // And back: the fix is picked up too.
    expect_status(&samples, "secondary-wa-v2-delivered.json", "delivered");
    lines.wait_for("0 failed", 2);
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `program` in `dir`, failing the test with its output if it fails.
fn run_in(dir: &Path, program: &str, args: &[&str], target_dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        // The scaffold has no Cargo.lock: resolve from what is cached
        // here (the machine has no network), as the plugins did.
        .env("CARGO_NET_OFFLINE", "true")
        .env("WASMHOOK_CACHE_DIR", target_dir.join("wasmhook-cache"))
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "{program} {args:?} in {}: {:?}\n{all}",
        dir.display(),
        output.status
    );
    all
}

/// What `plugin new --kind KIND` makes and what its samples come to.
struct Scaffold {
    kind: &'static str,
    name: &'static str,
    native_test: &'static str,
    samples: usize,
}

const SCAFFOLDS: [Scaffold; 3] = [
    Scaffold {
        kind: "mapper",
        name: "acme",
        native_test: "every_sample_maps_as_expected",
        samples: 3,
    },
    Scaffold {
        kind: "renderer",
        name: "acme-notice",
        native_test: "every_sample_renders_as_expected",
        samples: 4,
    },
    Scaffold {
        kind: "block",
        name: "acme-crm",
        native_test: "every_sample_runs_as_expected",
        samples: 4,
    },
];

#[test]
fn a_new_plugin_of_each_kind_passes_its_tests_builds_and_passes_plugin_test() {
    let empty = tempfile::tempdir().unwrap();
    let wasmhook = env!("CARGO_BIN_EXE_wasmhook-e2e");
    // A target dir of its own that outlives the test, shared by the three
    // crates: the SDK's dependencies are built once, not per kind or run.
    let target = crate::harness::repo_root().join("target/scaffold-test");
    for scaffold in &SCAFFOLDS {
        let started = Instant::now();
        let Scaffold { kind, name, .. } = scaffold;
        let said = run_in(
            empty.path(),
            wasmhook,
            &["plugin", "new", name, "--kind", kind],
            &target,
        );
        assert!(
            said.contains(&format!("(a {kind},")) && said.contains("cargo test"),
            "{said}"
        );
        let crate_dir = empty.path().join(name);
        for file in [
            "Cargo.toml",
            "src/lib.rs",
            "samples/expected.json",
            "README.md",
        ] {
            assert!(crate_dir.join(file).is_file(), "{kind}: {file} written");
        }

        let tested = run_in(&crate_dir, "cargo", &["test"], &target);
        assert!(
            tested.contains(&format!("{} ... ok", scaffold.native_test)),
            "{kind}: {tested}"
        );
        run_in(
            &crate_dir,
            "cargo",
            &["build", "--release", "--target", "wasm32-wasip2"],
            &target,
        );
        let wasm = target.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ));
        let checked = run_in(
            &crate_dir,
            wasmhook,
            &["plugin", "test", wasm.to_str().unwrap(), "samples"],
            &target,
        );
        let total = scaffold.samples;
        assert!(
            checked.contains(&format!("{total} samples: {total} passed, 0 failed")),
            "{kind}: {checked}"
        );
        eprintln!(
            "plugin new --kind {kind}: new, cargo test, build, plugin test in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    // A second `new` over one is refused, naming the folder.
    let output = Command::new(wasmhook)
        .args(["plugin", "new", "acme"])
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("already exists"),
        "{}",
        text(&output.stderr)
    );
}
