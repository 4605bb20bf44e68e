//! The retry rules as tables, and their bounds as properties over random
//! policies, failures and jitter.

use proptest::prelude::*;

use super::*;
use crate::delivery::prepare::RenderError;
use crate::delivery::request::BuildError;
use crate::domain::Name;
use crate::ids::EventId;
use crate::outbound::{OutboundClient, OutboundConfig, OutboundRequest, Refusal};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn failed(outcome: AttemptOutcome, attempts_made: u32) -> LastAttempt {
    LastAttempt {
        outcome,
        retry_after: None,
        attempts_made,
        age: Duration::ZERO,
    }
}

fn step(last: LastAttempt) -> NextStep {
    next_step(&RetryPolicy::default(), &last, Jitter::NONE)
}

fn retry_after(secs: u64) -> NextStep {
    NextStep::Retry {
        after: Duration::from_secs(secs),
    }
}

#[test]
fn without_jitter_the_default_follows_seed_001() {
    let delays: Vec<u64> = (1..=9)
        .map(
            |attempts| match step(failed(AttemptOutcome::Status(500), attempts)) {
                NextStep::Retry { after } => after.as_secs() / 60,
                other => panic!("attempt {attempts}: {other:?}"),
            },
        )
        .collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
}

#[test]
fn two_hundreds_are_delivered_whatever_the_count_or_age() {
    for code in [200, 201, 204, 299] {
        let last = LastAttempt {
            age: Duration::from_secs(10 * 86_400),
            ..failed(AttemptOutcome::Status(code), 99)
        };
        assert_eq!(step(last), NextStep::Delivered, "{code}");
    }
}

#[test]
fn other_statuses_and_transport_failures_are_retried() {
    for outcome in [
        AttemptOutcome::Status(100),
        AttemptOutcome::Status(199),
        AttemptOutcome::Status(301),
        AttemptOutcome::Status(400),
        AttemptOutcome::Status(404),
        AttemptOutcome::Status(500),
        AttemptOutcome::Status(502),
        AttemptOutcome::Timeout,
        AttemptOutcome::Connection,
        AttemptOutcome::RenderFailed,
    ] {
        assert_eq!(step(failed(outcome, 1)), retry_after(60), "{outcome:?}");
    }
}

#[test]
fn gone_disables_the_endpoint_even_on_the_last_attempt() {
    assert_eq!(
        step(failed(AttemptOutcome::Status(410), 1)),
        NextStep::DisableEndpoint
    );
    assert_eq!(
        step(failed(AttemptOutcome::Status(410), 15)),
        NextStep::DisableEndpoint
    );
}

#[test]
fn a_refused_target_or_unbuildable_request_is_not_retried() {
    for outcome in [
        AttemptOutcome::TargetRefused,
        AttemptOutcome::InvalidRequest,
    ] {
        assert_eq!(
            step(failed(outcome, 1)),
            NextStep::GiveUp {
                reason: GiveUpReason::NotRetryable
            },
            "{outcome:?}"
        );
    }
}

#[test]
fn outbound_errors_map_to_outcomes() {
    let target = || "example.com:443".to_owned();
    let detail = || "boom".to_owned();
    let cases = [
        (
            OutboundError::RefusedTarget {
                target: "localhost".into(),
                refusal: Refusal {
                    address: std::net::Ipv4Addr::LOCALHOST.into(),
                    reason: "loopback",
                },
            },
            AttemptOutcome::TargetRefused,
        ),
        (
            OutboundError::InvalidRequest { detail: detail() },
            AttemptOutcome::InvalidRequest,
        ),
        (
            OutboundError::Timeout {
                target: target(),
                after: Duration::from_secs(5),
                phase: "connecting",
            },
            AttemptOutcome::Timeout,
        ),
        (
            OutboundError::Dns {
                host: "example.com".into(),
                detail: detail(),
            },
            AttemptOutcome::Connection,
        ),
        (
            OutboundError::Connect {
                target: target(),
                detail: detail(),
            },
            AttemptOutcome::Connection,
        ),
        (
            OutboundError::Tls {
                target: target(),
                detail: detail(),
            },
            AttemptOutcome::Connection,
        ),
        (
            OutboundError::Body {
                target: target(),
                detail: detail(),
            },
            AttemptOutcome::Connection,
        ),
    ];
    for (error, outcome) in cases {
        assert_eq!(AttemptOutcome::from(&error), outcome, "{error}");
    }
}

/// Bug of issue 13: the client's refusal of a header value that is not
/// valid in HTTP was read as a connection failure and retried.
#[tokio::test]
async fn a_header_value_the_client_refuses_is_not_retried() {
    let client = OutboundClient::new(OutboundConfig::default()).unwrap();
    let mut request = OutboundRequest::new(
        reqwest::Method::POST,
        "https://receiver.example/hooks".parse().unwrap(),
    );
    request
        .headers
        .push(("x-status".into(), "read\u{1}ok".into()));
    let error = client.send(request).await.unwrap_err();
    assert_eq!(error.kind(), "invalid_request", "{error}");
    assert_eq!(
        step(failed(AttemptOutcome::from(&error), 1)),
        NextStep::GiveUp {
            reason: GiveUpReason::NotRetryable
        }
    );
}

#[test]
fn prepare_errors_map_to_outcomes() {
    let cases = [
        (
            PrepareError::Build(BuildError::BadValue {
                field: "headers[0]".into(),
                detail: "the filled-in value contains a line break or NUL".into(),
            }),
            AttemptOutcome::InvalidRequest,
        ),
        (
            PrepareError::Render(RenderError::NotAForm {
                plugin: "json-renderer".parse::<Name>().unwrap(),
                content_type: "application/json".into(),
            }),
            AttemptOutcome::RenderFailed,
        ),
        (
            PrepareError::EventMissing(EventId::new(1)),
            AttemptOutcome::RenderFailed,
        ),
    ];
    for (error, outcome) in cases {
        assert_eq!(AttemptOutcome::from(&error), outcome, "{error}");
    }
}

#[test]
fn retry_after_is_honoured_on_429_and_every_5xx_within_bounds() {
    let with = |code: u16, delay: Duration| LastAttempt {
        retry_after: Some(delay),
        ..failed(AttemptOutcome::Status(code), 3)
    };
    // Used as given, without jitter, shorter or longer than the 4 min
    // the schedule has for the third retry.
    assert_eq!(step(with(429, Duration::from_secs(30))), retry_after(30));
    assert_eq!(step(with(503, 2 * HOUR)), retry_after(7200));
    let jittered = next_step(
        &RetryPolicy::default(),
        &with(429, Duration::from_secs(30)),
        Jitter::new(0.0),
    );
    assert_eq!(jittered, retry_after(30));
    // Clamped to 1 s … 1 day.
    assert_eq!(step(with(429, Duration::ZERO)), retry_after(1));
    assert_eq!(step(with(503, Duration::from_millis(200))), retry_after(1));
    assert_eq!(
        step(with(429, Duration::from_secs(30 * 86_400))),
        retry_after(86_400)
    );
    // Any 5xx: the receiver says when it will be back.
    assert_eq!(step(with(500, Duration::from_secs(30))), retry_after(30));
    assert_eq!(step(with(502, Duration::from_secs(5))), retry_after(5));
    // Ignored on other statuses: the schedule's 4 minutes.
    assert_eq!(step(with(404, Duration::from_secs(30))), retry_after(240));
    assert_eq!(step(with(400, Duration::from_secs(30))), retry_after(240));
    // 429 without it follows the schedule.
    assert_eq!(
        step(failed(AttemptOutcome::Status(429), 3)),
        retry_after(240)
    );
}

#[test]
fn a_retry_after_past_the_maximum_age_gives_up() {
    let last = LastAttempt {
        retry_after: Some(HOUR),
        age: Duration::from_secs(259_200) - MINUTE,
        ..failed(AttemptOutcome::Status(503), 2)
    };
    assert_eq!(
        step(last),
        NextStep::GiveUp {
            reason: GiveUpReason::TooOld
        }
    );
}

#[test]
fn the_attempt_limit_and_age_limit_end_the_retries() {
    assert!(matches!(
        step(failed(AttemptOutcome::Timeout, 14)),
        NextStep::Retry { .. }
    ));
    assert_eq!(
        step(failed(AttemptOutcome::Timeout, 15)),
        NextStep::GiveUp {
            reason: GiveUpReason::AttemptsExhausted
        }
    );
    let policy = RetryPolicy {
        max_age_secs: 600,
        ..RetryPolicy::default()
    };
    // 5 min old, next retry in 8 min: would be 13 min old.
    let last = LastAttempt {
        age: 5 * MINUTE,
        ..failed(AttemptOutcome::Connection, 4)
    };
    assert_eq!(
        next_step(&policy, &last, Jitter::NONE),
        NextStep::GiveUp {
            reason: GiveUpReason::TooOld
        }
    );
    // Exactly at the limit is still allowed.
    let last = LastAttempt {
        age: 2 * MINUTE,
        ..last
    };
    assert_eq!(next_step(&policy, &last, Jitter::NONE), retry_after(480));
}

#[test]
fn jitter_spreads_ten_percent_either_way_and_never_below_a_second() {
    let policy = RetryPolicy::default();
    assert_eq!(retry_delay(&policy, 1, Jitter::new(0.0)), 54 * MINUTE / 60);
    assert_eq!(retry_delay(&policy, 1, Jitter::new(1.0)), 66 * MINUTE / 60);
    assert_eq!(retry_delay(&policy, 1, Jitter::new(0.25)), 57 * MINUTE / 60);
    let one_second = RetryPolicy {
        schedule_secs: vec![1],
        ..RetryPolicy::default()
    };
    assert_eq!(
        retry_delay(&one_second, 1, Jitter::new(0.0)),
        MIN_RETRY_DELAY
    );
    assert_eq!(
        retry_delay(&one_second, 1, Jitter::new(1.0)),
        Duration::from_millis(1100)
    );
    let one_day = RetryPolicy {
        schedule_secs: vec![86_400],
        ..RetryPolicy::default()
    };
    assert_eq!(retry_delay(&one_day, 1, Jitter::new(1.0)), MAX_RETRY_DELAY);
}

#[test]
fn jitter_outside_the_unit_range_is_clamped() {
    assert_eq!(Jitter::new(-3.0), Jitter::new(0.0));
    assert_eq!(Jitter::new(7.0), Jitter::new(1.0));
    assert_eq!(Jitter::new(f64::NAN), Jitter::NONE);
    for _ in 0..100 {
        let Jitter(unit) = Jitter::random();
        assert!((0.0..1.0).contains(&unit));
    }
}

#[test]
fn the_delay_bounds_match_the_policy_limits() {
    // MAX_RETRY_DELAY is the longest delay a policy accepts.
    let longest = |secs: u32| RetryPolicy {
        schedule_secs: vec![secs],
        ..RetryPolicy::default()
    };
    let max_secs = u32::try_from(MAX_RETRY_DELAY.as_secs()).unwrap();
    assert!(longest(max_secs).validate().is_ok());
    assert!(longest(max_secs + 1).validate().is_err());
    assert_eq!(GiveUpReason::TooOld.to_string(), "too_old");
    assert_eq!(
        serde_json::to_value(GiveUpReason::AttemptsExhausted).unwrap(),
        "attempts_exhausted"
    );
}

/// Valid policies: 1–10 delays of 1 s – 1 day, 1–100 attempts, up to
/// 30 days of age.
fn policies() -> impl Strategy<Value = RetryPolicy> {
    (
        prop::collection::vec(1u32..=86_400, 1..=10),
        1u32..=100,
        1u64..=30 * 86_400,
    )
        .prop_map(|(schedule_secs, max_attempts, max_age_secs)| RetryPolicy {
            schedule_secs,
            max_attempts,
            max_age_secs,
        })
}

fn retried_failures() -> impl Strategy<Value = AttemptOutcome> {
    prop_oneof![
        (300u16..=599)
            .prop_filter("410 disables", |code| *code != 410)
            .prop_map(AttemptOutcome::Status),
        Just(AttemptOutcome::Timeout),
        Just(AttemptOutcome::Connection),
        Just(AttemptOutcome::RenderFailed),
    ]
}

proptest! {
    #[test]
    fn delays_stay_within_the_jitter_bounds_of_the_schedule(
        policy in policies(),
        retry in 1u32..=120,
        unit in 0.0f64..1.0,
    ) {
        let delay = retry_delay(&policy, retry, Jitter::new(unit));
        let scheduled_ms = u64::from(policy.delay_secs(retry)) * 1000;
        let lowest = (scheduled_ms * 9 / 10).max(1000);
        let highest = (scheduled_ms * 11).div_ceil(10).min(86_400_000);
        let delay_ms = u64::try_from(delay.as_millis()).unwrap();
        prop_assert!(
            (lowest..=highest).contains(&delay_ms),
            "{delay_ms} ms outside {lowest}..={highest}"
        );
    }

    #[test]
    fn the_default_schedule_never_shortens_with_equal_jitter(
        retry in 1u32..=100,
        unit in 0.0f64..1.0,
    ) {
        let policy = RetryPolicy::default();
        let jitter = Jitter::new(unit);
        prop_assert!(retry_delay(&policy, retry, jitter) <= retry_delay(&policy, retry + 1, jitter));
    }

    #[test]
    fn every_retry_is_within_bounds_age_and_attempt_limits(
        policy in policies(),
        outcome in retried_failures(),
        retry_after_secs in proptest::option::of(0u64..=10 * 86_400),
        attempts_made in 0u32..=120,
        age_secs in 0u64..=31 * 86_400,
        unit in 0.0f64..1.0,
    ) {
        let last = LastAttempt {
            outcome,
            retry_after: retry_after_secs.map(Duration::from_secs),
            attempts_made,
            age: Duration::from_secs(age_secs),
        };
        match next_step(&policy, &last, Jitter::new(unit)) {
            NextStep::Retry { after } => {
                prop_assert!((MIN_RETRY_DELAY..=MAX_RETRY_DELAY).contains(&after));
                prop_assert!(attempts_made < policy.max_attempts);
                prop_assert!(last.age + after <= Duration::from_secs(policy.max_age_secs));
            }
            NextStep::GiveUp { reason: GiveUpReason::AttemptsExhausted } => {
                prop_assert!(attempts_made >= policy.max_attempts);
            }
            NextStep::GiveUp { reason: GiveUpReason::TooOld } => {
                prop_assert!(attempts_made < policy.max_attempts);
            }
            other => prop_assert!(false, "{outcome:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_failing_receiver_gets_at_most_max_attempts_within_max_age(
        policy in policies(),
        failures in prop::collection::vec((retried_failures(), 0.0f64..1.0), 100),
    ) {
        let mut age = Duration::ZERO;
        let mut attempts_made = 0;
        for (outcome, unit) in failures {
            attempts_made += 1;
            let last = LastAttempt { outcome, retry_after: None, attempts_made, age };
            match next_step(&policy, &last, Jitter::new(unit)) {
                NextStep::Retry { after } => age += after,
                NextStep::GiveUp { .. } => break,
                other => prop_assert!(false, "{outcome:?} gave {other:?}"),
            }
        }
        prop_assert!(attempts_made <= policy.max_attempts);
        prop_assert!(age <= Duration::from_secs(policy.max_age_secs));
    }
}
