//! Where uploads are compiled: in this process ([`Compiler::InProcess`], for
//! the CLI and tests) or in a child process of the server binary
//! ([`Compiler::Subprocess`]) that lowers its own priority and caps its own
//! address space, under a wall-clock timeout and a limit on compiles at once,
//! so a compile bomb costs a bounded child and never the server's memory or
//! the threads that answer callbacks. The server loads a child's artifact
//! only after checking that an engine configured like its own produced it.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::cache::engine_compatibility_hex;
use super::engine::build_compile_engine;
use super::error::{LoadError, chain_message};
use super::executor::Executor;

/// The hidden subcommand of the server binary that compiles one component.
pub const COMPILE_SUBCOMMAND: &str = "__compile-plugin";

/// How components are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiler {
    /// On the calling thread of this process, without limits: for one-off
    /// CLI commands and tests.
    InProcess,
    /// In a child process running `program __compile-plugin`.
    Subprocess {
        /// The server binary (it must be the same build as the server).
        program: PathBuf,
        /// Wall-clock limit of one compile; also the longest an upload
        /// waits for a free compile slot.
        timeout: Duration,
        /// Address-space limit of the child, bytes.
        memory_bytes: u64,
        /// Compiles running at once.
        concurrency: u32,
    },
}

impl Compiler {
    /// Default compile timeout: 60 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default compile memory limit: 2 GiB.
    pub const DEFAULT_MEMORY_BYTES: u64 = 2 << 30;
    /// Default number of compiles at once: 1.
    pub const DEFAULT_CONCURRENCY: u32 = 1;
}

/// Exit code of a child that was given an invalid component (apart from
/// the codes a command line commonly uses: 1, 2 for usage, 101 for a panic).
const EXIT_INVALID: u8 = 65;
/// Exit code of a child that ran out of memory (and noticed).
const EXIT_MEMORY: u8 = 66;
/// Exit code of a child that failed otherwise (I/O, engine).
const EXIT_FAILED: u8 = 67;
/// The line prefix of the engine hash a child prints on success.
const HASH_PREFIX: &str = "engine-hash ";
/// How much of a child's stderr is kept for an error message.
const STDERR_TAIL_BYTES: usize = 16 << 10;
/// SIGKILL on Linux.
const SIGKILL: i32 = 9;
/// How much of it goes into an error's detail.
const DETAIL_CHARS: usize = 600;

/// What a compile child is asked to do: the arguments of
/// `wasmhook __compile-plugin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRequest {
    /// The component to compile.
    pub input: PathBuf,
    /// Where to write the compiled artifact.
    pub output: PathBuf,
    /// The child's address-space limit, bytes.
    pub memory_bytes: u64,
    /// Whether the engine meters fuel (it changes the compiled code).
    pub fuel: bool,
}

impl ChildRequest {
    /// The command line (after the program) that asks a child for this.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            COMPILE_SUBCOMMAND.into(),
            "--input".into(),
            self.input.clone().into(),
            "--output".into(),
            self.output.clone().into(),
            "--memory-bytes".into(),
            self.memory_bytes.to_string().into(),
        ];
        if self.fuel {
            args.push("--fuel".into());
        }
        args
    }
}

/// Why a compile child failed; its exit code tells the server which kind.
#[derive(Debug)]
pub struct ChildFailure {
    /// The code the child exits with.
    pub exit_code: u8,
    /// What to print on stderr.
    pub message: String,
}

/// The child's side: caps this process's address space, lowers its
/// priority, compiles the input with the server's engine configuration and
/// writes the artifact. Returns the engine's compatibility hash (hex) for
/// the child to print. Call only in a process that exists for this.
pub fn compile_child(request: &ChildRequest) -> Result<String, ChildFailure> {
    use rustix::process::{Resource, Rlimit, nice, setrlimit};
    let failed = |message: String| ChildFailure {
        exit_code: EXIT_FAILED,
        message,
    };
    // Limit first, so everything after it counts, the engine included.
    let limit = Rlimit {
        current: Some(request.memory_bytes),
        maximum: Some(request.memory_bytes),
    };
    setrlimit(Resource::As, limit).map_err(|error| {
        failed(format!(
            "cannot limit the address space to {} bytes: {error}",
            request.memory_bytes
        ))
    })?;
    // Niceness 10: the server's threads (callbacks) come first.
    nice(10).map_err(|error| failed(format!("cannot lower the priority: {error}")))?;
    let bytes = std::fs::read(&request.input)
        .map_err(|error| failed(format!("cannot read {}: {error}", request.input.display())))?;
    let engine = build_compile_engine(request.fuel).map_err(|error| ChildFailure {
        exit_code: if is_out_of_memory(&error.to_string()) {
            EXIT_MEMORY
        } else {
            EXIT_FAILED
        },
        message: error.to_string(),
    })?;
    let artifact = engine.precompile_component(&bytes).map_err(|error| {
        let message = chain_message(&error);
        ChildFailure {
            exit_code: if is_out_of_memory(&message) {
                EXIT_MEMORY
            } else {
                EXIT_INVALID
            },
            message,
        }
    })?;
    drop(bytes);
    std::fs::write(&request.output, &artifact).map_err(|error| {
        failed(format!(
            "cannot write {}: {error}",
            request.output.display()
        ))
    })?;
    Ok(engine_compatibility_hex(&engine))
}

/// Whether an error message says an allocation failed. Under an
/// address-space limit a thread that cannot get its stack fails with
/// `EAGAIN`, which the compiler's thread pool reports as a build error.
fn is_out_of_memory(message: &str) -> bool {
    [
        "memory allocation of",
        "Cannot allocate memory",
        "out of memory",
        "ThreadPoolBuildError",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A compiled component; `artifact` is set when it was compiled elsewhere
/// and is what the cache should keep.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) artifact: Option<Vec<u8>>,
}

/// A runtime's compiler and its compile slots.
pub(crate) struct CompileService {
    compiler: Compiler,
    slots: Arc<Semaphore>,
    fuel: bool,
    /// Hex compatibility hash of the server's engine.
    engine_hash: String,
    /// Where compile children get their temp dirs.
    temp_root: PathBuf,
}

impl CompileService {
    pub(crate) fn new(
        compiler: Compiler,
        engine: &Engine,
        fuel: bool,
        temp_root: Option<&Path>,
    ) -> Self {
        let concurrency = match &compiler {
            Compiler::InProcess => 1,
            Compiler::Subprocess { concurrency, .. } => (*concurrency).max(1),
        };
        CompileService {
            compiler,
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            fuel,
            engine_hash: engine_compatibility_hex(engine),
            temp_root: temp_root.map_or_else(std::env::temp_dir, Path::to_owned),
        }
    }

    /// Compiles `bytes` for `engine`. Blocking: never call it on a thread
    /// that answers requests. A child's wait runs on `executor` and holds
    /// no thread there.
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        executor: &Executor,
        bytes: &[u8],
    ) -> Result<Compiled, LoadError> {
        match &self.compiler {
            Compiler::InProcess => {
                let component =
                    Component::from_binary(engine, bytes).map_err(|error| LoadError::Invalid {
                        detail: chain_message(&error),
                    })?;
                Ok(Compiled {
                    component,
                    artifact: None,
                })
            }
            Compiler::Subprocess {
                program,
                timeout,
                memory_bytes,
                concurrency,
            } => {
                let limits = ChildLimits {
                    timeout: *timeout,
                    memory_bytes: *memory_bytes,
                    concurrency: *concurrency,
                };
                self.compile_in_child(engine, executor, program, limits, bytes)
            }
        }
    }

    fn compile_in_child(
        &self,
        engine: &Engine,
        executor: &Executor,
        program: &Path,
        limits: ChildLimits,
        bytes: &[u8],
    ) -> Result<Compiled, LoadError> {
        let unavailable = |detail: String| LoadError::CompilerUnavailable {
            program: program.to_owned(),
            detail,
        };
        // A private directory (mode 0700) for the input and the artifact:
        // nothing but this server and its child writes there.
        let dir = tempfile::Builder::new()
            .prefix("wasmhook-compile-")
            .tempdir_in(&self.temp_root)
            .map_err(|error| {
                unavailable(format!(
                    "cannot create a temp dir in {}: {error}",
                    self.temp_root.display()
                ))
            })?;
        let request = ChildRequest {
            input: dir.path().join("component.wasm"),
            output: dir.path().join("component.cwasm"),
            memory_bytes: limits.memory_bytes,
            fuel: self.fuel,
        };
        std::fs::write(&request.input, bytes).map_err(|error| {
            unavailable(format!("cannot write {}: {error}", request.input.display()))
        })?;
        let run = run_child(
            program.to_owned(),
            request.to_args(),
            limits,
            Arc::clone(&self.slots),
        );
        let ran = executor
            .run_blocking(run)
            .ok_or_else(|| unavailable("the plugin threads are gone".to_owned()))??;
        let hash = judge(&ran, limits.memory_bytes).map_err(|error| match error {
            Judged::Load(error) => error,
            Judged::Unavailable(detail) => unavailable(detail),
        })?;
        if hash != self.engine_hash {
            return Err(unavailable(format!(
                "it compiled for another engine (hash {hash}, this server's is {}); \
                 it must be the same wasmhook build as the server",
                self.engine_hash
            )));
        }
        let artifact = std::fs::read(&request.output).map_err(|error| {
            unavailable(format!("cannot read {}: {error}", request.output.display()))
        })?;
        tracing::debug!(
            took_ms = ran.took.as_millis() as u64,
            artifact_bytes = artifact.len(),
            "component compiled in a child process"
        );
        // SAFETY: `Component::deserialize` trusts its input to be an artifact
        // wasmtime produced. These bytes were written by our own child (this
        // server's binary, run by us, reporting this engine's compatibility
        // hash) into a directory only this process created, from a component
        // uploaded as wasm; uploads are never accepted in precompiled form.
        // They were read into memory before loading, so the file cannot change
        // under the load. wasmtime checks the artifact's engine settings again.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &artifact) }.map_err(|error| {
            unavailable(format!(
                "wasmtime refused its artifact: {}",
                chain_message(&error)
            ))
        })?;
        Ok(Compiled {
            component,
            artifact: Some(artifact),
        })
    }
}

/// The limits one child runs under.
#[derive(Debug, Clone, Copy)]
struct ChildLimits {
    timeout: Duration,
    memory_bytes: u64,
    concurrency: u32,
}

/// How a child ended.
#[derive(Debug)]
struct ChildRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Waits (bounded) for a compile slot, runs the child and waits (bounded)
/// for it; a child past its timeout is killed and reaped.
async fn run_child(
    program: PathBuf,
    args: Vec<OsString>,
    limits: ChildLimits,
    slots: Arc<Semaphore>,
) -> Result<ChildRun, LoadError> {
    let unavailable = |detail: String| LoadError::CompilerUnavailable {
        program: program.clone(),
        detail,
    };
    let waiting = Instant::now();
    let _slot = match tokio::time::timeout(limits.timeout, slots.acquire_owned()).await {
        Ok(Ok(slot)) => slot,
        Ok(Err(_closed)) => return Err(unavailable("the compile slots are closed".to_owned())),
        Err(_elapsed) => {
            return Err(LoadError::CompileBusy {
                waited_ms: waiting.elapsed().as_millis() as u64,
                concurrency: limits.concurrency,
            });
        }
    };
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&program)
        .args(&args)
        // mimalloc would otherwise reserve a 1 GiB arena per thread up front,
        // all of it counted against the address-space limit.
        .env("MIMALLOC_ARENA_RESERVE", "0")
        // Half the cores for compiling (wasmtime compiles functions on
        // rayon's pool): the other half stays with the server whatever the
        // niceness does.
        .env("RAYON_NUM_THREADS", compile_threads().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| unavailable(format!("cannot start it: {error}")))?;
    let stdout = tokio::spawn(read_tail(child.stdout.take(), STDERR_TAIL_BYTES));
    let stderr = tokio::spawn(read_tail(child.stderr.take(), STDERR_TAIL_BYTES));
    let status = match tokio::time::timeout(limits.timeout, child.wait()).await {
        Ok(status) => {
            status.map_err(|error| unavailable(format!("cannot wait for it: {error}")))?
        }
        Err(_elapsed) => {
            // Kill and reap: a compile past its time costs nothing more.
            if let Err(error) = child.kill().await {
                tracing::warn!(%error, "cannot kill a compile child past its timeout");
            }
            return Err(LoadError::CompileTimeout {
                limit_ms: limits.timeout.as_millis() as u64,
            });
        }
    };
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    Ok(ChildRun {
        status,
        stdout,
        stderr,
        took: started.elapsed(),
    })
}

/// Threads one compile child uses: half the cores, at least one.
fn compile_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

/// Reads a pipe to its end, keeping only its last `keep` bytes (a chatty
/// child must not grow the server's memory, nor block on a full pipe).
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>, keep: usize) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut tail = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(read) = pipe.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..read]);
        if tail.len() > 2 * keep {
            tail.drain(..tail.len() - keep);
        }
    }
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    String::from_utf8_lossy(&tail).into_owned()
}

/// Why a child's run is not a usable compile.
#[derive(Debug)]
enum Judged {
    /// The upload's fault or its limits'.
    Load(LoadError),
    /// The setup's fault.
    Unavailable(String),
}

/// The engine hash a successful child printed, or why the run failed.
fn judge(run: &ChildRun, memory_bytes: u64) -> Result<String, Judged> {
    if run.status.success() {
        return run
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(HASH_PREFIX))
            .map(|hash| hash.trim().to_owned())
            .ok_or_else(|| {
                Judged::Unavailable(format!(
                    "it printed no engine hash (is it a wasmhook binary?); stdout: {}",
                    excerpt(&run.stdout)
                ))
            });
    }
    let memory = LoadError::CompileMemory {
        limit_bytes: memory_bytes,
    };
    let exit_code = run.status.code();
    if exit_code == Some(i32::from(EXIT_MEMORY)) || is_out_of_memory(&run.stderr) {
        return Err(Judged::Load(memory));
    }
    // The server kills a child only past its timeout (answered before
    // this); a SIGKILL from elsewhere is the kernel's out-of-memory killer.
    if run.status.signal() == Some(SIGKILL) {
        return Err(Judged::Load(memory));
    }
    // A program that does not know the subcommand (another binary, an
    // older wasmhook) is the setup's fault, not the upload's.
    if run.stderr.contains(COMPILE_SUBCOMMAND) && run.stderr.contains("unrecognized") {
        return Err(Judged::Unavailable(format!(
            "it does not know `{COMPILE_SUBCOMMAND}` (it must be the same wasmhook build as \
             the server): {}",
            excerpt(&run.stderr)
        )));
    }
    if exit_code == Some(i32::from(EXIT_INVALID)) {
        return Err(Judged::Load(LoadError::Invalid {
            detail: last_line(&run.stderr),
        }));
    }
    let detail = if run.stderr.trim().is_empty() {
        format!("the compiler process ended with {}", run.status)
    } else {
        format!(
            "the compiler process ended with {}: {}",
            run.status,
            excerpt(&run.stderr)
        )
    };
    Err(Judged::Load(LoadError::CompileFailed { detail }))
}

/// The end of `text`, trimmed, at most [`DETAIL_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    let chars = text.chars().count();
    if chars <= DETAIL_CHARS {
        return text.to_owned();
    }
    let tail: String = text.chars().skip(chars - DETAIL_CHARS).collect();
    format!("…{tail}")
}

/// The last non-empty line of a child's stderr without the `wasmhook: `
/// prefix the CLI prints, at most [`DETAIL_CHARS`] characters.
fn last_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    excerpt(line.strip_prefix("wasmhook: ").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::engine::{EngineSizing, build_engine};

    fn run(raw_status: i32, stdout: &str, stderr: &str) -> ChildRun {
        ChildRun {
            status: ExitStatus::from_raw(raw_status),
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
            took: Duration::ZERO,
        }
    }

    fn exited(code: i32) -> i32 {
        code << 8
    }

    #[test]
    fn the_compile_engine_makes_artifacts_the_server_engine_accepts() {
        for fuel in [false, true] {
            let server = build_engine(EngineSizing {
                max_instances: 4,
                max_memory_bytes: 64 << 20,
                fuel,
            })
            .unwrap();
            let compiler = build_compile_engine(fuel).unwrap();
            assert_eq!(
                engine_compatibility_hex(&server),
                engine_compatibility_hex(&compiler),
                "fuel {fuel}"
            );
            let bytes = wat::parse_str("(component (core module (func)))").unwrap();
            let artifact = compiler.precompile_component(&bytes).unwrap();
            // SAFETY: the artifact was produced just above by wasmtime.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize(&server, &artifact) };
            loaded.unwrap();
        }
    }

    #[test]
    fn a_request_round_trips_through_its_arguments() {
        let request = ChildRequest {
            input: "/tmp/in.wasm".into(),
            output: "/tmp/out.cwasm".into(),
            memory_bytes: 1 << 30,
            fuel: true,
        };
        let args = request.to_args();
        assert_eq!(args[0], COMPILE_SUBCOMMAND);
        assert!(args.contains(&OsString::from("--fuel")));
        assert!(args.contains(&OsString::from("1073741824")));
    }

    #[test]
    fn a_successful_child_reports_its_engine_hash() {
        let hash = judge(&run(0, "engine-hash abc123\n", ""), 1).unwrap();
        assert_eq!(hash, "abc123");
        let error = judge(&run(0, "hello\n", ""), 1).unwrap_err();
        assert!(matches!(error, Judged::Unavailable(ref d) if d.contains("no engine hash")));
    }

    #[test]
    fn running_out_of_memory_is_compile_memory() {
        let sigabrt = 6;
        let sigkill = 9;
        for (raw, stderr) in [
            (sigabrt, "memory allocation of 1048576 bytes failed\n"),
            (exited(i32::from(EXIT_MEMORY)), "wasmhook: whatever\n"),
            (
                exited(101),
                "thread panicked: Cannot allocate memory (os error 12)\n",
            ),
            (sigkill, ""),
        ] {
            match judge(&run(raw, "", stderr), 64 << 20) {
                Err(Judged::Load(error @ LoadError::CompileMemory { .. })) => {
                    assert!(error.to_string().contains("67108864-byte"), "{error}");
                }
                other => panic!("{raw} {stderr:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_invalid_component_and_other_failures_say_what_the_child_said() {
        let stderr = "some log line\nwasmhook: failed to parse WebAssembly module: bad\n";
        match judge(&run(exited(i32::from(EXIT_INVALID)), "", stderr), 1) {
            Err(Judged::Load(LoadError::Invalid { detail })) => {
                assert_eq!(detail, "failed to parse WebAssembly module: bad");
            }
            other => panic!("{other:?}"),
        }
        let segv = 11;
        match judge(&run(segv, "", "it broke\n"), 1) {
            Err(Judged::Load(LoadError::CompileFailed { detail })) => {
                assert!(detail.contains("it broke"), "{detail}");
                assert!(detail.contains("signal"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let usage =
            "error: unrecognized subcommand '__compile-plugin'\n\nUsage: wasmhook <COMMAND>\n";
        match judge(&run(exited(2), "", usage), 1) {
            Err(Judged::Unavailable(detail)) => {
                assert!(detail.contains("same wasmhook build"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let long = "x".repeat(5000);
        assert!(excerpt(&long).chars().count() <= DETAIL_CHARS + 1);
    }
}
