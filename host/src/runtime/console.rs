//! Capture of a guest's stdout and stderr. Writes are always accepted (a
//! guest must not fail because it printed too much); bytes past the log cap
//! are discarded and the lines they held counted as dropped.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What the guest printed during one call.
#[derive(Debug, Default)]
pub(crate) struct Console {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) dropped_lines: u64,
    cap: usize,
}

impl Console {
    pub(crate) fn new(cap: usize) -> Self {
        Console {
            cap,
            ..Console::default()
        }
    }

    fn write(&mut self, which: Which, bytes: &[u8]) {
        let room = self
            .cap
            .saturating_sub(self.stdout.len() + self.stderr.len());
        let (kept, discarded) = bytes.split_at(bytes.len().min(room));
        match which {
            Which::Stdout => self.stdout.extend_from_slice(kept),
            Which::Stderr => self.stderr.extend_from_slice(kept),
        }
        if !discarded.is_empty() {
            let newlines = discarded.iter().filter(|&&b| b == b'\n').count() as u64;
            self.dropped_lines += newlines.max(1);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Which {
    Stdout,
    Stderr,
}

/// One of the guest's output streams, writing into the shared [`Console`].
#[derive(Clone)]
pub(crate) struct ConsoleStream {
    console: Arc<Mutex<Console>>,
    which: Which,
}

/// How much the guest may write in one go; writes are never refused, this
/// only sizes the guest's chunks.
const WRITE_BUDGET: usize = 64 * 1024;

impl ConsoleStream {
    pub(crate) fn stdout(console: Arc<Mutex<Console>>) -> Self {
        ConsoleStream {
            console,
            which: Which::Stdout,
        }
    }

    pub(crate) fn stderr(console: Arc<Mutex<Console>>) -> Self {
        ConsoleStream {
            console,
            which: Which::Stderr,
        }
    }

    fn append(&self, bytes: &[u8]) {
        self.console
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .write(self.which, bytes);
    }
}

impl IsTerminal for ConsoleStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ConsoleStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ConsoleStream {
    async fn ready(&mut self) {}
}

impl OutputStream for ConsoleStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for ConsoleStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_discarded_and_counted() {
        let console = Arc::new(Mutex::new(Console::new(8)));
        let mut out = ConsoleStream::stdout(Arc::clone(&console));
        let mut err = ConsoleStream::stderr(Arc::clone(&console));
        out.write(Bytes::from_static(b"hello\n")).unwrap();
        err.write(Bytes::from_static(b"oops\nmore\n")).unwrap();
        let console = console.lock().unwrap();
        assert_eq!(console.stdout, b"hello\n");
        assert_eq!(console.stderr, b"oo");
        assert_eq!(console.dropped_lines, 2);
    }
}
