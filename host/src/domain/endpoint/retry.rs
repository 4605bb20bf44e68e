//! An endpoint's retry policy: the delays between attempts (seed 001:
//! 1, 2, 4, 8… minutes up to hourly), how many attempts, and how old a
//! delivery may get before it is given up.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

/// Seed 001's delays in seconds; the last one repeats (hourly).
pub const DEFAULT_SCHEDULE_SECS: [u32; 7] = [60, 120, 240, 480, 960, 1920, 3600];
/// Attempts before a delivery is dead, unless told.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 15;
/// Age after which a delivery is dead, unless told (3 days).
pub const DEFAULT_MAX_AGE_SECS: u64 = 259_200;
/// The longest delay between two attempts (1 day).
pub const MAX_DELAY_SECS: u32 = 86_400;
/// The most attempts a policy may allow.
pub const MAX_ATTEMPTS: u32 = 100;
/// The oldest a delivery may get (30 days).
pub const MAX_AGE_SECS: u64 = 30 * 86_400;

/// When to try a failed delivery again, and when to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryPolicy {
    /// Delay before the 1st, 2nd, … retry in seconds; the last entry
    /// repeats for later retries.
    pub schedule_secs: Vec<u32>,
    /// Attempts in all (the first one included) before the delivery is dead.
    pub max_attempts: u32,
    /// Seconds after the event after which no attempt is made.
    pub max_age_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            schedule_secs: DEFAULT_SCHEDULE_SECS.to_vec(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_age_secs: DEFAULT_MAX_AGE_SECS,
        }
    }
}

/// `retry` in a create or update: each field given replaces that field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// New delays, seconds (each 1–86400; need not increase).
    #[serde(default)]
    pub schedule_secs: Option<Vec<u32>>,
    /// New attempt limit (1–100).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// New age limit, seconds (1–2592000).
    #[serde(default)]
    pub max_age_secs: Option<u64>,
}

impl RetryPolicy {
    /// Changes the fields `input` gives.
    pub fn apply(&mut self, input: RetryInput) {
        if let Some(schedule) = input.schedule_secs {
            self.schedule_secs = schedule;
        }
        if let Some(max_attempts) = input.max_attempts {
            self.max_attempts = max_attempts;
        }
        if let Some(max_age) = input.max_age_secs {
            self.max_age_secs = max_age;
        }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.schedule_secs.is_empty() || self.schedule_secs.len() > MAX_ATTEMPTS as usize {
            return Err(FieldError::new(
                "retry.schedule_secs",
                format!("give 1 to {MAX_ATTEMPTS} delays"),
            ));
        }
        if let Some(at) = self
            .schedule_secs
            .iter()
            .position(|delay| !(1..=MAX_DELAY_SECS).contains(delay))
        {
            return Err(FieldError::new(
                format!("retry.schedule_secs[{at}]"),
                format!("each delay must be 1 to {MAX_DELAY_SECS} seconds"),
            ));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(FieldError::new(
                "retry.max_attempts",
                format!("must be 1 to {MAX_ATTEMPTS}"),
            ));
        }
        if !(1..=MAX_AGE_SECS).contains(&self.max_age_secs) {
            return Err(FieldError::new(
                "retry.max_age_secs",
                format!("must be 1 to {MAX_AGE_SECS} seconds"),
            ));
        }
        Ok(())
    }

    /// The delay in seconds before retry number `retry` (1 = the retry
    /// after the first failed attempt), before any jitter.
    pub fn delay_secs(&self, retry: u32) -> u32 {
        let index = (retry.max(1) - 1) as usize;
        self.schedule_secs
            .get(index)
            .or(self.schedule_secs.last())
            .copied()
            .unwrap_or(MAX_DELAY_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_doubles_from_a_minute_then_goes_hourly() {
        let policy = RetryPolicy::default();
        policy.validate().unwrap();
        let delays: Vec<u32> = (1..=9).map(|retry| policy.delay_secs(retry)).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(policy.max_attempts, 15);
        assert_eq!(policy.max_age_secs, 259_200);
    }

    #[test]
    fn input_changes_only_the_fields_given() {
        let mut policy = RetryPolicy::default();
        policy.apply(RetryInput {
            max_attempts: Some(3),
            ..RetryInput::default()
        });
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.schedule_secs, DEFAULT_SCHEDULE_SECS);
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let cases = [
            (vec![], 15, 100, "retry.schedule_secs"),
            (vec![10, 0], 15, 100, "retry.schedule_secs[1]"),
            (vec![86_401], 15, 100, "retry.schedule_secs[0]"),
            (vec![10], 0, 100, "retry.max_attempts"),
            (vec![10], 101, 100, "retry.max_attempts"),
            (vec![10], 5, 0, "retry.max_age_secs"),
        ];
        for (schedule_secs, max_attempts, max_age_secs, field) in cases {
            let policy = RetryPolicy {
                schedule_secs,
                max_attempts,
                max_age_secs,
            };
            assert_eq!(policy.validate().unwrap_err().field, field);
        }
        let decreasing = RetryPolicy {
            schedule_secs: vec![600, 60],
            ..RetryPolicy::default()
        };
        assert!(decreasing.validate().is_ok(), "increasing is not required");
    }
}
