//! The per-call store data: a WASI context with nothing granted beyond
//! clocks and randomness, the memory limiter, the capped log of the call and
//! the capture of the guest's stdout/stderr (where a Rust panic message goes).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmhook_sdk::LogLevel;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::activity::CallActivity;
use super::console::{Console, ConsoleStream};
use super::http_impl::HttpHandler;
use super::limits::{Limits, MemoryLimiter};
use super::wasi_io::TrackedIo;

/// Everything one call's store holds.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) logs: LogSink,
    pub(crate) console: Arc<Mutex<Console>>,
    /// The plugin-wide configuration (JSON text) returned by `plugin-config`.
    pub(crate) plugin_config: Arc<str>,
    /// Where a block's `http.send` goes; `None` for mappers and renderers.
    pub(crate) http: Option<Arc<dyn HttpHandler>>,
    /// When the call's wall-clock deadline passes.
    pub(crate) deadline: Instant,
    /// The most bytes the guest may pass the host in one value.
    pub(crate) max_input_bytes: usize,
    /// Where the call is, readable from outside the store.
    pub(crate) activity: Arc<CallActivity>,
}

impl CallState {
    pub(crate) fn new(
        limits: &Limits,
        plugin_config: Arc<str>,
        http: Option<Arc<dyn HttpHandler>>,
        deadline: Instant,
        activity: Arc<CallActivity>,
    ) -> Self {
        let log_cap = usize::try_from(limits.log_bytes).unwrap_or(usize::MAX);
        let console = Arc::new(Mutex::new(Console::new(log_cap)));
        // No preopens, env, args, stdin or network: the builder grants none of
        // them unless asked, and `wasi:sockets` is not even linked.
        let wasi = WasiCtxBuilder::new()
            .stdout(ConsoleStream::stdout(Arc::clone(&console)))
            .stderr(ConsoleStream::stderr(Arc::clone(&console)))
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            logs: LogSink::new(log_cap),
            console,
            plugin_config,
            http,
            deadline,
            max_input_bytes: usize::try_from(limits.output_bytes).unwrap_or(usize::MAX),
            activity,
        }
    }

    /// The resource table with the call's activity, for `wasi:io/poll`.
    pub(crate) fn tracked_io(&mut self) -> TrackedIo<'_> {
        TrackedIo {
            table: &mut self.table,
            activity: &self.activity,
        }
    }

    /// Moves what the guest printed into the log (stdout as `info`, stderr as
    /// `warn`) and returns the stderr text, which holds a panic message if the
    /// guest panicked.
    pub(crate) fn drain_console(&mut self) -> String {
        let console = std::mem::take(
            &mut *self
                .console
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let stdout = String::from_utf8_lossy(&console.stdout);
        let stderr = String::from_utf8_lossy(&console.stderr).into_owned();
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            self.logs.push(LogLevel::Info, line.to_owned());
        }
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            self.logs.push(LogLevel::Warn, line.to_owned());
        }
        self.logs.dropped += console.dropped_lines;
        stderr
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The log lines of one call, capped in bytes. A line that does not fit is
/// dropped whole and counted.
#[derive(Debug, Default)]
pub(crate) struct LogSink {
    pub(crate) lines: Vec<(LogLevel, String)>,
    pub(crate) dropped: u64,
    used: usize,
    cap: usize,
}

impl LogSink {
    pub(crate) fn new(cap: usize) -> Self {
        LogSink {
            cap,
            ..LogSink::default()
        }
    }

    pub(crate) fn push(&mut self, level: LogLevel, message: String) {
        if message.len() > self.cap.saturating_sub(self.used) {
            self.dropped += 1;
            return;
        }
        self.used += message.len();
        self.lines.push((level, message));
    }
}

/// The panic message in what a Rust guest wrote to stderr, if any:
/// `panicked at src/lib.rs:3:5:\nboom` becomes `panicked at src/lib.rs:3:5: boom`.
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let message = stderr[start..]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE"))
        .collect::<Vec<_>>()
        .join(" ");
    const MAX_CHARS: usize = 1000;
    Some(match message.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_past_the_cap_are_dropped_and_counted() {
        let mut sink = LogSink::new(10);
        sink.push(LogLevel::Info, "12345".into());
        sink.push(LogLevel::Info, "123456".into());
        sink.push(LogLevel::Warn, "12345".into());
        sink.push(LogLevel::Warn, "x".into());
        assert_eq!(
            sink.lines,
            vec![
                (LogLevel::Info, "12345".to_owned()),
                (LogLevel::Warn, "12345".to_owned())
            ]
        );
        assert_eq!(sink.dropped, 2);
    }

    #[test]
    fn panic_message_is_extracted_from_stderr() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("panicked at src/lib.rs:3:5: boom")
        );
        assert_eq!(panic_message("just a warning"), None);
    }
}
