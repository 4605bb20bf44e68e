//! The threads plugin calls run on: a tokio runtime of their own, one
//! worker per core, apart from the server's. A call is an async wasmtime
//! call that yields at every epoch tick, so the workers time-slice between
//! running calls, a call waiting in a host function (a sleep, a block's
//! HTTP request) holds no thread, and the server's own threads (accepting
//! connections, answering 503s) never run guest code.

use std::future::Future;
use std::num::NonZeroUsize;

use tokio::runtime::{Builder, Handle, Runtime};

use super::error::RuntimeError;

/// The plugin runtime; shut down in the background when dropped (it may be
/// dropped inside another runtime, where a blocking shutdown would panic).
pub(crate) struct Executor {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Executor {
    pub(crate) fn start() -> Result<Self, RuntimeError> {
        let workers = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        let runtime = Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("wasmhook-plugin")
            // A call newly admitted from the server's threads lands in the
            // shared queue; checking it every other poll (instead of every
            // 61st) keeps it from waiting behind dozens of time slices of
            // spinning guests.
            .global_queue_interval(2)
            // Time for deadlines and guest sleeps, I/O for the requests blocks
            // send from these threads.
            .enable_all()
            .build()
            .map_err(RuntimeError::Executor)?;
        let handle = runtime.handle().clone();
        Ok(Executor {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Runs `call` on the plugin threads; its result comes back through the
    /// returned future (a panic in the call is the error).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        call: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        self.handle.spawn(call).await
    }

    /// Runs `call` on the plugin threads and blocks the current thread
    /// until it ends: for synchronous callers (the CLI, tests). Works inside
    /// another runtime's blocking section too, unlike `Runtime::block_on`.
    pub(crate) fn run_blocking<T: Send + 'static>(
        &self,
        call: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = sender.send(call.await);
        });
        receiver.recv().ok()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // The last handle may go away on one of the runtime's own
            // threads (a call's task held it); shutting down from there is
            // not allowed, so another thread does it.
            let _ = std::thread::Builder::new()
                .name("wasmhook-plugin-stop".into())
                .spawn(move || runtime.shutdown_background());
        }
    }
}
