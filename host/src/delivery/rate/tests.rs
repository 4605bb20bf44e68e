//! The rate gate driven through stalls: a simulated dispatcher that wakes
//! late (up to seconds), renders and receivers that take their time, and
//! requests that are never sent; every 1-second window is checked against
//! the limit, counting each request everywhere it could have reached the
//! receiver (from being let through to its answer).

use proptest::prelude::*;

use super::*;

/// A small deterministic generator, so each proptest case is one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One request: let through at `start`, answered at `end` (both ms).
#[derive(Debug, Clone, Copy)]
struct Sent {
    start: u64,
    end: u64,
}

/// How the simulated endpoint and dispatcher behave.
#[derive(Debug, Clone, Copy)]
struct World {
    /// The most the dispatcher oversleeps at a stall, ms.
    stall_ms: u64,
    /// One wake in this many is a stall.
    stall_every: u64,
    /// The most a request takes from being let through to its answer, ms.
    latency_ms: u64,
}

/// Runs `requests` requests through a gate at `per_second`; returns what
/// was sent, in the order let through.
fn simulate(seed: u64, per_second: u32, requests: usize, world: World) -> Vec<Sent> {
    let mut rng = Rng(seed | 1);
    let mut gate = RateGate::default();
    let mut now = 10_000u64;
    // (answer time, sent?) of the requests in flight.
    let mut in_flight: Vec<(u64, bool, u64)> = Vec::new();
    let mut sent = Vec::new();
    let mut let_through = 0;
    while let_through < requests || !in_flight.is_empty() {
        // Answers due by now, in time order.
        in_flight.sort_by_key(|(at, _, _)| *at);
        while let Some(&(at, was_sent, start)) = in_flight.first() {
            if at > now {
                break;
            }
            in_flight.remove(0);
            if was_sent {
                gate.answered(at);
                sent.push(Sent { start, end: at });
            } else {
                gate.not_sent();
            }
        }
        // The dispatcher lets through all it may.
        let mut next_wake = None;
        while let_through < requests {
            match gate.try_take(now, per_second) {
                Ok(()) => {
                    let_through += 1;
                    let took = rng.below(world.latency_ms + 1);
                    let never_sent = rng.below(10) == 0;
                    in_flight.push((now + took, !never_sent, now));
                }
                Err(Wait::Until(at)) => {
                    assert!(at > now, "a wait until {at} at {now}");
                    next_wake = Some(at);
                    break;
                }
                Err(Wait::ForAnswer) => {
                    assert!(
                        !in_flight.is_empty(),
                        "waiting for an answer none will give"
                    );
                    break;
                }
            }
        }
        // It sleeps until the gate's time or the next answer, and sometimes
        // much longer (a stall).
        let next_answer = in_flight.iter().map(|(at, _, _)| *at).min();
        let wake = match (next_wake, next_answer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now + 1,
        };
        let late = if rng.below(world.stall_every) == 0 {
            rng.below(world.stall_ms + 1)
        } else {
            rng.below(3)
        };
        now = wake.max(now) + late;
    }
    sent.sort_by_key(|s| s.start);
    sent
}

/// The most requests that could have reached the receiver within one
/// window `[x, x + 1 s)`: those let through before its end and answered
/// at or after its start. The maximum over `x` is at some answer time.
fn worst_window(sent: &[Sent]) -> usize {
    sent.iter()
        .map(|window| {
            let x = window.end;
            sent.iter()
                .filter(|s| s.start < x + WINDOW_MS && s.end >= x)
                .count()
        })
        .max()
        .unwrap_or(0)
}

const STALLS: World = World {
    stall_ms: 3_000,
    stall_every: 150,
    latency_ms: 400,
};

#[test]
fn no_window_exceeds_20_or_100_per_second_through_stalls() {
    for per_second in [20, 100] {
        let mut most = 0;
        for seed in 1..=20 {
            let sent = simulate(seed, per_second, 600, STALLS);
            let worst = worst_window(&sent);
            most = most.max(worst);
            assert!(
                worst <= per_second as usize,
                "{per_second}/s, seed {seed}: {worst} requests in one window"
            );
            assert!(
                worst >= per_second as usize * 8 / 10,
                "{per_second}/s, seed {seed}: the limit is used ({worst} at most)"
            );
        }
        eprintln!("{per_second}/s: at most {most} requests in one window");
    }
}

#[test]
fn requests_are_spaced_evenly_and_nothing_is_saved_up_while_idle() {
    let mut gate = RateGate::default();
    let mut sent = Vec::new();
    for now in 10_000..12_000u64 {
        if gate.try_take(now, 5).is_ok() {
            gate.answered(now);
            sent.push(now - 10_000);
        }
    }
    // 200 ms apart; the 6th waits until the 1st is more than a second old.
    assert_eq!(sent, [0, 200, 400, 600, 800, 1001, 1201, 1401, 1601, 1801]);
    // Idle for a minute: the next goes at once, the one after a full
    // spacing later — no burst of the slots not used meanwhile.
    let later = 72_000;
    assert_eq!(gate.try_take(later, 5), Ok(()));
    gate.answered(later);
    assert_eq!(gate.try_take(later + 1, 5), Err(Wait::Until(later + 200)));
}

#[test]
fn requests_in_flight_count_until_answered() {
    let mut gate = RateGate::default();
    let mut now = 0;
    for _ in 0..3 {
        gate.try_take(now, 3).unwrap();
        now += 400;
    }
    assert_eq!(gate.try_take(now, 3), Err(Wait::ForAnswer));
    gate.answered(5_000);
    assert_eq!(gate.try_take(5_000, 3), Err(Wait::Until(6_001)));
    gate.not_sent();
    assert_eq!(
        gate.try_take(5_000, 3),
        Ok(()),
        "one never sent frees its slot"
    );
    gate.answered(5_100);
    gate.answered(5_200);
    assert_eq!(gate.try_take(5_300, 3), Err(Wait::Until(6_001)));
}

proptest! {
    #[test]
    fn no_window_exceeds_the_limit_whatever_the_stalls(
        seed in any::<u64>(),
        per_second in prop::sample::select(vec![1u32, 3, 20, 100, 250]),
        stall_ms in 0u64..5_000,
        stall_every in 1u64..20,
        latency_ms in 0u64..1_500,
    ) {
        let world = World { stall_ms, stall_every, latency_ms };
        let sent = simulate(seed, per_second, 300, world);
        let worst = worst_window(&sent);
        prop_assert!(worst <= per_second as usize, "{worst} in one window at {per_second}/s");
    }
}
