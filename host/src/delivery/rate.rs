//! Per-endpoint rate limits: requests per second, paced evenly (a GCRA with
//! a burst of one) on the engine's clock, so a scaled test clock paces too.
//! Excess deliveries wait for their turn; nothing is dropped.

/// The pacing state of one endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateGate {
    /// The earliest time, epoch ms ×1000 (µs precision), the next request
    /// may go.
    next_free_us: u64,
}

impl RateGate {
    /// Takes a slot at `now_ms` under `per_second`, or says when the next
    /// one is free (epoch ms).
    pub fn try_take(&mut self, now_ms: u64, per_second: u32) -> Result<(), u64> {
        let now_us = now_ms.saturating_mul(1000);
        if now_us < self.next_free_us {
            return Err(self.next_free_us.div_ceil(1000));
        }
        let spacing_us = 1_000_000 / u64::from(per_second.max(1));
        // Late by less than one spacing (the loop woke a little after the
        // slot): keep the schedule, so the average rate holds. Idle for
        // longer: start again from now, so no burst of saved-up slots.
        let base = if self.next_free_us == 0 || now_us > self.next_free_us + spacing_us {
            now_us
        } else {
            self.next_free_us
        };
        self.next_free_us = base + spacing_us;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_evenly() {
        let mut gate = RateGate::default();
        let mut sent = Vec::new();
        for now in 0..2_000u64 {
            if gate.try_take(10_000 + now, 5).is_ok() {
                sent.push(now);
            }
        }
        assert_eq!(
            sent,
            vec![0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]
        );
        assert_eq!(gate.try_take(11_900, 5), Err(12_000));
    }
}
