//! The threads mapper and renderer calls run on: one per core, fed from
//! one queue.
//!
//! A mapper or renderer call is pure CPU (their worlds import nothing that
//! waits) and the runtime stops it at its deadline, so a thread per core is
//! all it can use. Under load these threads take call after call from the queue
//! without sleeping; tokio's blocking pool, by contrast, grows a thread per
//! concurrent call and wakes one for each, which cost more CPU than the
//! calls themselves at high concurrency. Like tokio's blocking pool, the
//! pool is shared by the process and started on first use.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// No pool thread is running (none could be started), or the call panicked.
#[derive(Debug, thiserror::Error)]
#[error("the plugin call did not complete: {0}")]
pub(crate) struct PoolError(&'static str);

static POOL: LazyLock<Sender<Job>> = LazyLock::new(start);

/// Runs `call` on a pool thread and returns its result.
pub(crate) async fn run<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PoolError> {
    let (result, returned) = oneshot::channel();
    let job: Job = Box::new(move || {
        // The requester may be gone; nothing else to do with the result.
        let _ = result.send(call());
    });
    POOL.send(job)
        .map_err(|_| PoolError("no plugin thread is running"))?;
    returned.await.map_err(|_| PoolError("the call panicked"))
}

fn start() -> Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let threads = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
    for index in 0..threads {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("plugin-{index}"))
            .spawn(move || work(&queue));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start a plugin thread");
        }
    }
    // Only the threads hold the queue now: with none running, `send` fails
    // instead of queueing calls nobody will make.
    jobs
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held while waiting, so one idle thread waits on the
        // queue and the others on the lock.
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        // A panicking call loses its own result (its requester sees the
        // error), not this thread.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_run_off_the_runtime_and_return_their_results() {
        let caller = std::thread::current().id();
        let calls: Vec<_> = (0..64u64)
            .map(|n| tokio::spawn(run(move || (n * 2, std::thread::current().id()))))
            .collect();
        for (n, call) in calls.into_iter().enumerate() {
            let (doubled, thread) = call.await.unwrap().unwrap();
            assert_eq!(doubled, n as u64 * 2);
            assert_ne!(thread, caller);
        }
    }

    #[tokio::test]
    async fn a_panicking_call_fails_alone_and_the_pool_keeps_working() {
        let panicked = run(|| -> u32 { panic!("mapper host bug") }).await;
        assert!(panicked.is_err());
        // More calls than threads: every thread survived the panic.
        for n in 0..8u32 {
            assert_eq!(run(move || n + 1).await.unwrap(), n + 1);
        }
    }
}
