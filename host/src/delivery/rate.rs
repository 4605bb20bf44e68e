//! Per-endpoint rate limits: at most N requests in any 1-second window, as
//! the receiver sees them, whatever stalls came before. Excess deliveries
//! wait for their turn; nothing is dropped.
//!
//! A request counts from the moment it is let through (before it is
//! rendered and sent) until 1 s after its answer (or its error): the
//! receiver saw it somewhere in between, so if fewer than N requests are
//! in flight or answered within the last second, one more cannot make any
//! window at the receiver hold more than N — however late the render, the
//! network or the receiver was. Nothing is saved up while the endpoint is
//! idle or stalled, so there is no catch-up burst; on top of that, requests
//! are spaced at least 1/N s apart. The price: with answers taking `t`, an
//! endpoint at its limit gets about N × 1 s / (1 s + t) requests a second.
//!
//! Times are the engine clock's monotonic milliseconds, so a scaled test
//! clock paces too and a wall-clock jump neither stalls nor frees an
//! endpoint.

use std::collections::VecDeque;

/// The window no more than the limit may fall in.
pub const WINDOW_MS: u64 = 1000;

/// Why a request may not go yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Not before this time (monotonic ms).
    Until(u64),
    /// Not before one of the requests in flight is answered.
    ForAnswer,
}

/// The pacing state of one endpoint.
#[derive(Debug, Clone, Default)]
pub struct RateGate {
    /// Requests let through and not yet answered.
    in_flight: u32,
    /// When recent requests were answered (monotonic ms), oldest first;
    /// only those that still count (within the last window) are kept.
    answered: VecDeque<u64>,
    /// The earliest next start, µs (even spacing).
    next_start_us: u64,
}

impl RateGate {
    /// Lets one request through at `now` under `per_second`, or says how
    /// long it must wait. A request let through must be followed by
    /// [`RateGate::answered`] or [`RateGate::not_sent`].
    pub fn try_take(&mut self, now: u64, per_second: u32) -> Result<(), Wait> {
        let limit = per_second.max(1);
        // An answer at `at` counts while `at + WINDOW_MS >= now`: strictly
        // more than a window apart in whole milliseconds is more than a
        // window apart in any finer time too.
        while self.answered.front().is_some_and(|at| at + WINDOW_MS < now) {
            self.answered.pop_front();
        }
        let counted = self.in_flight as usize + self.answered.len();
        let mut wait_until = None;
        if now.saturating_mul(1000) < self.next_start_us {
            wait_until = Some(self.next_start_us.div_ceil(1000));
        }
        if counted >= limit as usize {
            // The answers that must age out before one more may go.
            let to_age_out = counted + 1 - limit as usize;
            match self.answered.get(to_age_out - 1) {
                Some(at) => {
                    let free_at = at + WINDOW_MS + 1;
                    wait_until = Some(wait_until.map_or(free_at, |w: u64| w.max(free_at)));
                }
                None => return Err(Wait::ForAnswer),
            }
        }
        if let Some(at) = wait_until {
            return Err(Wait::Until(at));
        }
        self.in_flight += 1;
        // From now, not from the last slot: nothing saved up while idle.
        self.next_start_us = now.saturating_mul(1000) + 1_000_000 / u64::from(limit);
        Ok(())
    }

    /// A request let through was answered (or failed) at `now`.
    pub fn answered(&mut self, now: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let at = self.answered.back().map_or(now, |last| now.max(*last));
        self.answered.push_back(at);
    }

    /// A request let through was never sent (the delivery changed, or its
    /// body could not be rendered).
    pub fn not_sent(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests;
