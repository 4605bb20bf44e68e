//! `wasmhook plugin test`: runs a mapper component over a folder of sample
//! callbacks through the real runtime and compares what it makes of each
//! with the folder's `expected.json` (the format of
//! [`wasmhook_sdk::fixtures`], which the crate's native tests read too):
//! one line per sample, the first difference and what came out when one
//! fails, and the exit code for CI. `--watch` rebuilds the crate and runs
//! the samples again on every save.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use wasmhook_sdk::fixtures::{FixtureCase, check_case, try_load_cases};

use super::error::CliError;
use super::input::read;
use super::progress::Progress;
use super::run::plugin_id;
use super::{TestArgs, runtime};
use crate::runtime::{CallError, LimitsOverride, Runtime, World};

/// How often `--watch` looks for changed files.
const WATCH_POLL: Duration = Duration::from_millis(300);

/// Runs the samples once (exit code 1 when one fails), or with `--watch`
/// until interrupted.
pub(super) fn test(args: &TestArgs) -> Result<ExitCode, CliError> {
    let runtime = runtime(&args.cache)?;
    let samples = args
        .samples
        .clone()
        .unwrap_or_else(|| PathBuf::from("samples"));
    if args.watch {
        return watch(&runtime, args, &samples);
    }
    let passed = run_samples(
        &runtime,
        &args.wasm,
        &samples,
        &mut std::io::stdout().lock(),
    )?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Loads the component and runs every sample; whether all passed.
fn run_samples(
    runtime: &Runtime,
    wasm: &Path,
    samples: &Path,
    out: &mut impl Write,
) -> Result<bool, CliError> {
    let bytes = read(wasm)?;
    let plugin = {
        let _progress = Progress::start(format!("compiling {} …", wasm.display()));
        runtime.load(
            plugin_id(wasm),
            &bytes,
            &LimitsOverride::default(),
            &Value::Object(Default::default()),
        )
    }
    .map_err(|source| CliError::Load {
        path: wasm.to_owned(),
        source,
    })?;
    if plugin.world() != World::Mapper {
        return Err(CliError::Arg {
            arg: "WASM",
            detail: format!(
                "{} is a {}: `plugin test` runs mappers over sample callbacks",
                wasm.display(),
                plugin.world()
            ),
        });
    }
    let cases = try_load_cases(samples).map_err(|detail| CliError::Arg {
        arg: "SAMPLES_DIR",
        detail,
    })?;
    if cases.is_empty() {
        return Err(CliError::Arg {
            arg: "SAMPLES_DIR",
            detail: format!(
                "{} has no samples: its expected.json lists none",
                samples.display()
            ),
        });
    }
    let width = cases.iter().map(|case| case.name.len()).max().unwrap_or(0);
    let mut failed = 0;
    for case in &cases {
        let outcome = plugin.map_outcome(&case.callback, &case.config);
        let took = outcome.stats.duration;
        let verdict = verdict(case, outcome.result);
        match verdict {
            Ok(summary) => writeln!(
                out,
                "ok    {:width$}  {summary}, {:.1} ms",
                case.name,
                took.as_secs_f64() * 1e3
            )?,
            Err((why, made)) => {
                failed += 1;
                writeln!(out, "FAIL  {:width$}  {why}", case.name)?;
                if let Some(made) = made {
                    for line in made.lines() {
                        writeln!(out, "      | {line}")?;
                    }
                }
            }
        }
    }
    writeln!(
        out,
        "{} samples: {} passed, {failed} failed",
        cases.len(),
        cases.len() - failed
    )?;
    Ok(failed == 0)
}

/// What a sample came to: a summary when it is as expected; else why not,
/// with what the mapper made of it (pretty JSON) when it made anything.
fn verdict(
    case: &FixtureCase,
    result: Result<wasmhook_sdk::Mapped, CallError>,
) -> Result<String, (String, Option<String>)> {
    match result {
        Ok(mapped) => {
            let made = serde_json::to_string_pretty(&mapped.events).ok();
            let count = mapped.events.len();
            check_case(case, Ok(mapped))
                .map(|()| format!("{count} event{}", if count == 1 { "" } else { "s" }))
                .map_err(|why| (why, made))
        }
        Err(CallError::Plugin { error, .. }) => {
            let made = format!("refused: {error}");
            let summary = format!("refused as expected ({error})");
            check_case(case, Err(error))
                .map(|()| summary)
                .map_err(|why| (why, Some(made)))
        }
        // A trap, a timeout, the memory cap: never what a sample expects.
        Err(other) => Err((format!("the call failed: {other}"), None)),
    }
}

/// `--watch`: builds the crate, runs the samples, and again whenever a
/// file of the crate's `src/`, its `Cargo.toml` or the samples folder
/// changes. A failed build or a broken `expected.json` is reported and
/// waits for the next change.
fn watch(runtime: &Runtime, args: &TestArgs, samples: &Path) -> Result<ExitCode, CliError> {
    let crate_dir = match &args.manifest_dir {
        Some(dir) => dir.clone(),
        None => crate_of(&args.wasm)?,
    };
    let watched = [
        crate_dir.join("src"),
        crate_dir.join("Cargo.toml"),
        samples.to_owned(),
    ];
    let mut seen = modification_times(&watched);
    loop {
        let mut stdout = std::io::stdout().lock();
        match build(&crate_dir) {
            Ok(()) => {
                if let Err(error) = run_samples(runtime, &args.wasm, samples, &mut stdout) {
                    writeln!(stdout, "error: {error}")?;
                }
            }
            Err(why) => writeln!(stdout, "build failed: {why}")?,
        }
        writeln!(
            stdout,
            "watching {} and {} for changes (Ctrl-C to stop)",
            crate_dir.display(),
            samples.display()
        )?;
        stdout.flush()?;
        drop(stdout);
        loop {
            std::thread::sleep(WATCH_POLL);
            let now = modification_times(&watched);
            if now != seen {
                seen = now;
                break;
            }
        }
    }
}

/// The crate a component was built from: the folder holding the `target/`
/// the component is in (`CRATE/target/wasm32-wasip2/release/x.wasm`).
fn crate_of(wasm: &Path) -> Result<PathBuf, CliError> {
    let absolute = std::path::absolute(wasm).map_err(|source| CliError::Read {
        path: wasm.to_owned(),
        source,
    })?;
    absolute
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
        .and_then(Path::parent)
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .map(Path::to_owned)
        .ok_or_else(|| CliError::Arg {
            arg: "--watch",
            detail: format!(
                "{} is not under a crate's target/ folder: pass --manifest-dir CRATE",
                wasm.display()
            ),
        })
}

/// `cargo build --release --target wasm32-wasip2` in `crate_dir`, its
/// output going to the terminal.
fn build(crate_dir: &Path) -> Result<(), String> {
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(crate_dir)
        .status()
        .map_err(|error| format!("cannot run cargo in {}: {error}", crate_dir.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo exited with {status}"))
    }
}

/// Every file under `roots` with its modification time (a file added,
/// removed or saved changes the map).
fn modification_times(roots: &[PathBuf]) -> BTreeMap<PathBuf, SystemTime> {
    let mut times = BTreeMap::new();
    let mut pending: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|entry| entry.path()));
            }
        } else if let Ok(modified) = metadata.modified() {
            times.insert(path, modified);
        }
    }
    times
}
