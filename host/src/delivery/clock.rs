//! The delivery engine's clock, injected so tests can run minutes of
//! retries in seconds: [`SystemClock`] in production, [`ScaledClock`] (time
//! runs N times faster) in tests.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Time as the delivery engine sees it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, epoch milliseconds.
    fn now_ms(&self) -> u64;

    /// Milliseconds since an arbitrary start, never going back (what rate
    /// limits measure with: a wall-clock jump must neither stall nor free
    /// an endpoint).
    fn monotonic_ms(&self) -> u64;

    /// Waits until `duration` of this clock's time has passed.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::ids::now_ms()
    }

    fn monotonic_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that starts at the wall-clock time and runs `scale` times
/// faster: a retry scheduled a minute out comes `60 / scale` seconds later.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    start: Instant,
    start_ms: u64,
    scale: f64,
}

impl ScaledClock {
    /// A clock running `scale` (≥ 1) times faster than real time.
    pub fn new(scale: f64) -> Self {
        ScaledClock {
            start: Instant::now(),
            start_ms: crate::ids::now_ms(),
            scale: scale.max(1.0),
        }
    }
}

impl Clock for ScaledClock {
    fn now_ms(&self) -> u64 {
        self.start_ms + self.monotonic_ms()
    }

    fn monotonic_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * self.scale * 1000.0) as u64
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.scale)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scaled_clock_runs_faster() {
        let clock = ScaledClock::new(1000.0);
        let before = clock.now_ms();
        clock.sleep(Duration::from_secs(10)).await;
        let passed = clock.now_ms() - before;
        assert!((10_000..20_000).contains(&passed), "{passed} ms passed");
    }
}
