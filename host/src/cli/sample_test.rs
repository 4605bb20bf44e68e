//! `wasmhook plugin test`: runs a component over a folder of samples
//! through the real runtime and compares what it makes of each with the
//! folder's `expected.json` (the formats of [`wasmhook_sdk::fixtures`],
//! which the crate's native tests read too). The component's world says
//! what a sample is: a callback for a mapper, template data for a renderer,
//! a block's input for a block (whose HTTP requests are answered from the
//! sample's `http` replies, never the network). One line per sample, the
//! first difference and what came out when one fails, and the exit code for
//! CI. `--watch` rebuilds the crate and runs the samples again on every
//! save.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use wasmhook_sdk::fixtures::{
    BlockCase, FixtureCase, RenderCase, check_block_case, check_case, check_render_case,
    request_view, try_load_block_cases, try_load_cases, try_load_render_cases,
};
use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse, Rendered};

use super::error::CliError;
use super::run::load_local;
use super::{TestArgs, runtime};
use crate::runtime::{CallError, HttpHandler, HttpSent, Runtime, World};

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

/// Loads the component and runs every sample of the folder through it,
/// reading the folder as its world's samples; whether all passed.
fn run_samples(
    runtime: &Runtime,
    wasm: &Path,
    samples: &Path,
    out: &mut impl Write,
) -> Result<bool, CliError> {
    let plugin = load_local(runtime, wasm)?;
    let world = plugin.world();
    // Which world's samples these are is the component's to say: a
    // folder of another world's samples is refused by its expected.json's
    // fields, named, with this added.
    let not_samples_of = |detail: String| CliError::Arg {
        arg: "SAMPLES_DIR",
        detail: format!(
            "{detail} ({} is a {world}: the folder is read as a {world}'s samples)",
            wasm.display()
        ),
    };
    match world {
        World::Mapper => {
            let cases = try_load_cases(samples).map_err(not_samples_of)?;
            report(samples, &cases, out, |case| {
                let outcome = plugin.map_outcome(&case.callback, &case.config);
                (outcome.stats.duration, mapper_verdict(case, outcome.result))
            })
        }
        World::Renderer => {
            let cases = try_load_render_cases(samples).map_err(not_samples_of)?;
            report(samples, &cases, out, |case| {
                let outcome = plugin.render_outcome(&case.request);
                (
                    outcome.stats.duration,
                    renderer_verdict(case, outcome.result),
                )
            })
        }
        World::Block => {
            let cases = try_load_block_cases(samples).map_err(not_samples_of)?;
            report(samples, &cases, out, |case| {
                let http = Arc::new(SampleHttp::new(case));
                let outcome = plugin.run_block_outcome(&case.input, &case.config, http.clone());
                let sent = http.take_sent();
                (
                    outcome.stats.duration,
                    block_verdict(case, outcome.result, &sent),
                )
            })
        }
    }
}

/// What a sample came to: a summary when it is as expected; else why not,
/// with what the plugin made of it (lines to show) when it made anything.
type Verdict = Result<String, (String, Option<String>)>;

/// Runs every case, printing one line per sample as it goes (and what came
/// out under a failure), then the total; whether all passed.
fn report<C: Sample>(
    samples: &Path,
    cases: &[C],
    out: &mut impl Write,
    mut run: impl FnMut(&C) -> (Duration, Verdict),
) -> Result<bool, CliError> {
    if cases.is_empty() {
        return Err(CliError::Arg {
            arg: "SAMPLES_DIR",
            detail: format!(
                "{} has no samples: its expected.json lists none",
                samples.display()
            ),
        });
    }
    let width = cases
        .iter()
        .map(|case| case.name().len())
        .max()
        .unwrap_or(0);
    let mut failed = 0;
    for case in cases {
        let (took, verdict) = run(case);
        match verdict {
            Ok(summary) => writeln!(
                out,
                "ok    {:width$}  {summary}, {:.1} ms",
                case.name(),
                took.as_secs_f64() * 1e3
            )?,
            Err((why, made)) => {
                failed += 1;
                writeln!(out, "FAIL  {:width$}  {why}", case.name())?;
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

/// A loaded sample of any world, named `folder/file` on its line.
trait Sample {
    fn name(&self) -> &str;
}

impl Sample for FixtureCase {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Sample for RenderCase {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Sample for BlockCase {
    fn name(&self) -> &str {
        &self.name
    }
}

/// A mapper's sample: the events it made (pretty JSON) under a failure.
fn mapper_verdict(case: &FixtureCase, result: Result<wasmhook_sdk::Mapped, CallError>) -> Verdict {
    match result {
        Ok(mapped) => {
            let made = serde_json::to_string_pretty(&mapped.events).ok();
            let count = mapped.events.len();
            check_case(case, Ok(mapped))
                .map(|()| format!("{count} event{}", if count == 1 { "" } else { "s" }))
                .map_err(|why| (why, made))
        }
        Err(error) => refusal_verdict(error, |error| check_case(case, Err(error))),
    }
}

/// A renderer's sample: the content type and the body under a failure.
fn renderer_verdict(case: &RenderCase, result: Result<Rendered, CallError>) -> Verdict {
    match result {
        Ok(rendered) => {
            let made = format!(
                "content type: {}\n{}",
                rendered.content_type,
                String::from_utf8_lossy(&rendered.body)
            );
            let summary = format!("{}, {} bytes", rendered.content_type, rendered.body.len());
            check_render_case(case, Ok(rendered))
                .map(|()| summary)
                .map_err(|why| (why, Some(made)))
        }
        Err(error) => refusal_verdict(error, |error| check_render_case(case, Err(error))),
    }
}

/// A block's sample: the requests it sent and its data under a failure.
fn block_verdict(
    case: &BlockCase,
    result: Result<Value, CallError>,
    sent: &[HttpRequest],
) -> Verdict {
    let requests: Vec<Value> = sent.iter().map(request_view).collect();
    let sent_lines = format!(
        "requests: {}",
        serde_json::to_string_pretty(&requests).unwrap_or_default()
    );
    let count = sent.len();
    let summary = format!("{count} request{}", if count == 1 { "" } else { "s" });
    match result {
        Ok(data) => {
            let made = format!(
                "{sent_lines}\ndata: {}",
                serde_json::to_string_pretty(&data).unwrap_or_default()
            );
            check_block_case(case, Ok(data), sent)
                .map(|()| format!("{summary}, data"))
                .map_err(|why| (why, Some(made)))
        }
        Err(CallError::Plugin { error, .. }) => {
            let made = format!("{sent_lines}\nrefused: {error}");
            let summary = format!("{summary}, refused as expected ({error})");
            check_block_case(case, Err(error), sent)
                .map(|()| summary)
                .map_err(|why| (why, Some(made)))
        }
        Err(other) => Err((format!("the call failed: {other}"), Some(sent_lines))),
    }
}

/// A call that failed: a plugin's refusal is checked with `check`; a trap,
/// a timeout, the memory cap are never what a sample expects.
fn refusal_verdict(
    error: CallError,
    check: impl FnOnce(wasmhook_sdk::PluginError) -> Result<(), String>,
) -> Verdict {
    match error {
        CallError::Plugin { error, .. } => {
            let made = format!("refused: {error}");
            let summary = format!("refused as expected ({error})");
            let checked = check(error);
            checked.map(|()| summary).map_err(|why| (why, Some(made)))
        }
        other => Err((format!("the call failed: {other}"), None)),
    }
}

/// The network as a block sample sees it: the sample's `http` replies in
/// order, every request recorded for its `requests`.
struct SampleHttp {
    replies: Mutex<VecDeque<Result<HttpResponse, HttpError>>>,
    exhausted: HttpError,
    sent: Mutex<Vec<HttpRequest>>,
}

impl SampleHttp {
    fn new(case: &BlockCase) -> Self {
        SampleHttp {
            replies: Mutex::new(case.replies()),
            exhausted: case.no_reply_left(),
            sent: Mutex::new(Vec::new()),
        }
    }

    fn take_sent(&self) -> Vec<HttpRequest> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl HttpHandler for SampleHttp {
    fn send(&self, request: HttpRequest, _remaining: Duration) -> HttpSent<'_> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        let reply = self
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or_else(|| Err(self.exhausted.clone()));
        Box::pin(std::future::ready(reply))
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
