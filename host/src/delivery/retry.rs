//! The retry decision: from an endpoint's retry policy and how a delivery's
//! last attempt went, what happens next — delivered, retry after a delay,
//! give up, or disable the endpoint. Pure: age and jitter are inputs, so
//! the rules are tested without a clock or a random source.
//!
//! Rules (DESIGN.md "Delivery semantics", issue 4 item 5):
//! - 2xx is delivered. 410 Gone disables the endpoint. Any other status, a
//!   timeout, a connection failure or a renderer failure is retried; a
//!   refused target or an unbuildable request is given up at once. How a
//!   failure maps to an outcome is written once, here: [`AttemptOutcome`]'s
//!   conversions from the outbound client's [`OutboundError`] and from
//!   [`PrepareError`].
//! - The delay is the policy's scheduled delay spread by ±10 % jitter,
//!   never under 1 s nor over 1 day.
//! - A `Retry-After` on 429 or any 5xx replaces the scheduled delay, without
//!   jitter (the receiver named the time), clamped to 1 s … 1 day. It may be
//!   shorter than the schedule: the receiver knows when it is ready better
//!   than our backoff does, and the attempt limit still bounds the total.
//! - No attempt past the policy's attempt limit, and none scheduled past
//!   its maximum age: the delivery is given up instead.

use std::fmt;
use std::time::Duration;

use super::prepare::PrepareError;
use crate::domain::endpoint::RetryPolicy;
use crate::outbound::OutboundError;

/// The shortest delay before a retry.
pub const MIN_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest delay before a retry; the same bound as a policy's longest
/// scheduled delay.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(86_400);
/// How far jitter moves the scheduled delay either way, as a fraction of it.
pub const JITTER_SPREAD: f64 = 0.10;

/// How an attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this HTTP status (redirects are not
    /// followed, so a 3xx lands here too).
    Status(u16),
    /// No complete answer within the endpoint's timeout.
    Timeout,
    /// The connection failed: DNS, refused, reset, TLS.
    Connection,
    /// The endpoint's renderer plugin failed to build the request body;
    /// retried like a receiver failure, since a fixed plugin or template
    /// should still get the event out.
    RenderFailed,
    /// The target resolved to an address the outbound policy refuses
    /// (private, loopback, link-local… and not allowlisted). Not retried:
    /// only the operator can change that, and the failed delivery is
    /// retryable by hand once they have.
    TargetRefused,
    /// The request could not be built as given (e.g. a header value from a
    /// template variable that is not a valid header). Not retried: the same
    /// event and configuration build the same request again.
    InvalidRequest,
}

impl From<&OutboundError> for AttemptOutcome {
    fn from(error: &OutboundError) -> Self {
        match error {
            OutboundError::RefusedTarget { .. } => AttemptOutcome::TargetRefused,
            OutboundError::InvalidRequest { .. } => AttemptOutcome::InvalidRequest,
            OutboundError::Timeout { .. } => AttemptOutcome::Timeout,
            OutboundError::Dns { .. }
            | OutboundError::Connect { .. }
            | OutboundError::Tls { .. }
            | OutboundError::Body { .. } => AttemptOutcome::Connection,
        }
    }
}

impl From<&PrepareError> for AttemptOutcome {
    fn from(error: &PrepareError) -> Self {
        match error {
            // The same event and configuration build the same request.
            PrepareError::Build(_) => AttemptOutcome::InvalidRequest,
            // A fixed plugin or template, a store that answers again, a
            // restored record: retrying may still get the event out.
            PrepareError::Render(_)
            | PrepareError::Store(_)
            | PrepareError::EventMissing(_)
            | PrepareError::ConnectorMissing(_) => AttemptOutcome::RenderFailed,
        }
    }
}

/// What the decision needs to know about a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAttempt {
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
    /// The response's `Retry-After`, if it had one (honoured on 429 and
    /// any 5xx).
    pub retry_after: Option<Duration>,
    /// Attempts made so far, this one included (1 after the first attempt).
    pub attempts_made: u32,
    /// Time since the delivery was created, now.
    pub age: Duration,
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The receiver accepted it (2xx): done.
    Delivered,
    /// Attempt again after this delay.
    Retry {
        /// Delay from now until the next attempt.
        after: Duration,
    },
    /// No more attempts: the delivery is failed (it stays listed and can be
    /// retried by hand).
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
    /// The receiver answered 410 Gone: disable the endpoint. The delivery
    /// waits with the endpoint's other deliveries until it is re-enabled.
    DisableEndpoint,
}

/// Why a delivery was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// The policy's `max_attempts` were made.
    AttemptsExhausted,
    /// The next attempt would come after the policy's `max_age_secs`.
    TooOld,
    /// The failure is one retrying cannot fix.
    NotRetryable,
}

impl GiveUpReason {
    /// The reason as it is stored and shown (`attempts_exhausted`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::AttemptsExhausted => "attempts_exhausted",
            GiveUpReason::TooOld => "too_old",
            GiveUpReason::NotRetryable => "not_retryable",
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the jitter range a delay falls: 0 is the earliest (−10 %), 1 the
/// latest (+10 %), [`Jitter::NONE`] the scheduled delay itself. Injected so
/// the decision stays a pure function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter(f64);

impl Jitter {
    #[cfg(test)]
    /// No jitter: exactly the scheduled delay.
    pub const NONE: Jitter = Jitter(0.5);

    #[cfg(test)]
    /// A position in the range; values outside [0, 1] are clamped and NaN
    /// counts as [`Jitter::NONE`].
    pub fn new(unit: f64) -> Self {
        if unit.is_nan() {
            Jitter::NONE
        } else {
            Jitter(unit.clamp(0.0, 1.0))
        }
    }

    /// A uniformly random position, for the delivery workers.
    pub fn random() -> Self {
        Jitter(rand::random::<f64>())
    }

    /// The factor the scheduled delay is multiplied by.
    fn factor(self) -> f64 {
        1.0 - JITTER_SPREAD + 2.0 * JITTER_SPREAD * self.0
    }
}

/// The delay before retry number `retry` (1 = the retry after the first
/// attempt): the policy's scheduled delay moved by `jitter`, to the
/// millisecond, within [`MIN_RETRY_DELAY`] … [`MAX_RETRY_DELAY`].
pub fn retry_delay(policy: &RetryPolicy, retry: u32, jitter: Jitter) -> Duration {
    let scheduled_ms = f64::from(policy.delay_secs(retry)) * 1000.0;
    // Non-negative and far below u64::MAX, so the cast is exact.
    let jittered_ms = (scheduled_ms * jitter.factor()).round() as u64;
    Duration::from_millis(jittered_ms).clamp(MIN_RETRY_DELAY, MAX_RETRY_DELAY)
}

/// Decides what happens to a delivery after the attempt `last` describes.
pub fn next_step(policy: &RetryPolicy, last: &LastAttempt, jitter: Jitter) -> NextStep {
    let status = match last.outcome {
        // A success counts whatever the attempt count or age.
        AttemptOutcome::Status(code) if (200..300).contains(&code) => {
            return NextStep::Delivered;
        }
        // Gone is about the endpoint, not this delivery: disable it even
        // when this delivery had no attempts left.
        AttemptOutcome::Status(410) => return NextStep::DisableEndpoint,
        AttemptOutcome::TargetRefused | AttemptOutcome::InvalidRequest => {
            return NextStep::GiveUp {
                reason: GiveUpReason::NotRetryable,
            };
        }
        AttemptOutcome::Status(code) => Some(code),
        AttemptOutcome::Timeout | AttemptOutcome::Connection | AttemptOutcome::RenderFailed => None,
    };
    if last.attempts_made >= policy.max_attempts {
        return NextStep::GiveUp {
            reason: GiveUpReason::AttemptsExhausted,
        };
    }
    let after = status
        .and_then(|code| honoured_retry_after(code, last.retry_after))
        .unwrap_or_else(|| retry_delay(policy, last.attempts_made, jitter));
    if last.age.saturating_add(after) > Duration::from_secs(policy.max_age_secs) {
        return NextStep::GiveUp {
            reason: GiveUpReason::TooOld,
        };
    }
    NextStep::Retry { after }
}

/// The receiver's `Retry-After`, clamped, where its status means "later".
fn honoured_retry_after(status: u16, retry_after: Option<Duration>) -> Option<Duration> {
    match status {
        429 | 500..=599 => retry_after.map(|delay| delay.clamp(MIN_RETRY_DELAY, MAX_RETRY_DELAY)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
