//! A progress line on stderr for work that takes seconds (compiling a
//! component, an upload the server compiles): shown only to a person at a
//! terminal, only once the work has taken a moment, and erased when done.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long work runs before the line appears: quick work prints nothing.
const DELAY: Duration = Duration::from_millis(300);

/// The line while its work runs; dropping it erases the line.
pub(super) struct Progress {
    done: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Shows `wasmhook: <message>` on stderr if the work is still running
    /// after a moment and stderr is a terminal.
    pub(super) fn start(message: String) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress {
                done: None,
                thread: None,
            };
        }
        let (done, wait) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if wait.recv_timeout(DELAY) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "wasmhook: {message}");
            let _ = stderr.flush();
            drop(stderr);
            // Until the work ends (its sender dropped or sent).
            let _ = wait.recv();
            // Back to the line's start, then erase it.
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        });
        Progress {
            done: Some(done),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
