use std::time::Duration;

use wasmhook_sdk::PluginError;

use super::*;
use crate::blocks::http::ReceivedResponse;

fn exchange(response: Option<u16>, failure: Option<FailureKind>) -> Exchange {
    Exchange {
        request: ShownRequest {
            method: "GET".into(),
            url: "https://crm.example/contacts?email=a%40b.c".into(),
            headers: vec![("authorization".into(), "***".into())],
            body: None,
        },
        target: "GET https://crm.example/contacts".into(),
        response: response.map(|status| ReceivedResponse {
            status,
            headers: Vec::new(),
            body: b"  service\n unavailable ".to_vec(),
        }),
        failure: failure.map(|kind| Failure {
            kind,
            detail: "what the host saw".into(),
        }),
        duration: Duration::from_millis(12),
    }
}

/// What a run that made `exchanges` (all admitted) keeps.
fn recorded(exchanges: Vec<Exchange>) -> Recorded {
    let recorder = crate::blocks::http::record::Recorder::new(50);
    for exchange in exchanges {
        recorder.admit().unwrap();
        recorder.record(exchange);
    }
    recorder.snapshot()
}

fn plugin_error() -> CallError {
    CallError::Plugin {
        plugin: "http-block".into(),
        version: "1".into(),
        error: PluginError::upstream("HTTP 503 from https://crm.example/contacts"),
    }
}

#[test]
fn a_plugin_error_after_a_failed_request_takes_the_request_s_code() {
    let cases = [
        (FailureKind::Refused, ErrorCode::TargetRefused),
        (FailureKind::Timeout, ErrorCode::UpstreamTimeout),
        (FailureKind::Connection, ErrorCode::ConnectionFailed),
        (FailureKind::TooLarge, ErrorCode::ResponseTooLarge),
        (FailureKind::InvalidRequest, ErrorCode::PluginError),
    ];
    for (kind, code) in cases {
        let error = classify(&plugin_error(), Some(&exchange(None, Some(kind))));
        assert_eq!(error.code, code, "{kind:?}");
        assert!(!error.detail.contains("email"), "{}", error.detail);
    }
}

#[test]
fn a_non_2xx_answer_is_upstream_status_with_the_status_and_an_excerpt() {
    let error = classify(&plugin_error(), Some(&exchange(Some(503), None)));
    assert_eq!(error.code, ErrorCode::UpstreamStatus);
    assert_eq!(error.status, Some(503));
    assert_eq!(
        error.detail,
        "GET https://crm.example/contacts answered HTTP 503: service unavailable"
    );
}

#[test]
fn a_plugin_error_after_a_good_answer_or_none_is_the_plugin_s() {
    for last in [Some(exchange(Some(200), None)), None] {
        let error = classify(&plugin_error(), last.as_ref());
        assert_eq!(error.code, ErrorCode::PluginError);
        assert!(
            error.detail.contains("upstream: HTTP 503"),
            "{}",
            error.detail
        );
        assert_eq!(error.status, None);
    }
}

#[test]
fn traps_and_timeouts_have_their_own_codes() {
    let trap = CallError::Trap {
        plugin: "b".into(),
        version: "1".into(),
        message: "unreachable".into(),
    };
    assert_eq!(classify(&trap, None).code, ErrorCode::PluginTrap);
    let timeout = CallError::Timeout {
        plugin: "b".into(),
        version: "1".into(),
        limit_ms: 30_000,
        during: CallPhase::Guest,
    };
    assert_eq!(classify(&timeout, None).code, ErrorCode::PluginTimeout);
    let waited = exchange(None, Some(FailureKind::Timeout));
    assert_eq!(
        classify(&timeout, Some(&waited)).code,
        ErrorCode::UpstreamTimeout
    );
    let answered = exchange(Some(200), None);
    assert_eq!(
        classify(&timeout, Some(&answered)).code,
        ErrorCode::PluginTimeout
    );
}

#[test]
fn results_file_data_under_the_block_name_and_mask_nothing_new() {
    let run = BlockRun {
        block: "WH5".parse().unwrap(),
        outcome: Ok(serde_json::json!({"promocode": "SPRING"})),
        requests: recorded(vec![exchange(Some(200), None)]),
    };
    let invoke = serde_json::to_value(run.invoke_result()).unwrap();
    assert_eq!(invoke["ok"], true);
    assert_eq!(invoke["data"]["WH5"]["promocode"], "SPRING");
    assert_eq!(invoke["response"]["status"], 200);
    assert_eq!(invoke["response"]["duration_ms"], 12);
    assert_eq!(invoke["request"]["headers"][0][1], "***");
    assert_eq!(invoke["error"], Value::Null);
    assert_eq!(
        invoke["request_counts"],
        serde_json::json!({"made": 1, "refused": 0, "over_cap": 0, "not_shown": 0, "cap": 50})
    );
    let test = serde_json::to_value(run.test_result()).unwrap();
    assert_eq!(test["response"]["body"], "  service\n unavailable ");

    let failed = BlockRun {
        outcome: Err(classify(&plugin_error(), run.requests.last.as_ref())),
        ..run
    };
    let invoke = serde_json::to_value(failed.invoke_result()).unwrap();
    assert_eq!(invoke["ok"], false);
    assert!(invoke.get("data").is_none(), "{invoke}");
    assert_eq!(invoke["error"]["code"], "plugin_error");
}

#[test]
fn a_deadline_reached_while_a_request_is_unanswered_is_an_upstream_timeout() {
    let timeout = CallError::Timeout {
        plugin: "b".into(),
        version: "1".into(),
        limit_ms: 30_000,
        during: CallPhase::HttpSend {
            target: "GET https://api.example.com/contacts".into(),
        },
    };
    let error = classify(&timeout, None);
    assert_eq!(error.code, ErrorCode::UpstreamTimeout);
    assert!(
        error
            .detail
            .contains("GET https://api.example.com/contacts"),
        "{}",
        error.detail
    );
}
