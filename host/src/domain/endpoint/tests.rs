//! Endpoint configuration: parsing of URLs and header names, defaults,
//! partial updates, range checks, and `matches` honouring `enabled`.

use serde_json::{Value, json};
use wasmhook_sdk::{Channel, EventType, Reference, Status, StatusInfo};

use super::*;
use crate::domain::event::EVENT_VERSION;
use crate::ids::EventId;

/// An endpoint with the defaults, for tests of its methods.
pub(crate) fn endpoint() -> Endpoint {
    let url = "https://example.com/hook".parse().unwrap();
    Endpoint::new(
        crate::domain::tenant::default_tenant(),
        EndpointConfig::new(url),
        SigningSecret::generate(),
        1,
    )
}

fn create(body: Value) -> Result<EndpointConfig, String> {
    let create: CreateEndpoint = serde_json::from_value(body).map_err(|e| e.to_string())?;
    let (config, _) = create.into_config();
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn a_url_alone_gets_the_defaults() {
    let config = create(json!({"url": "https://example.com/hook"})).unwrap();
    assert!(config.enabled);
    assert_eq!(config.method, HttpMethod::Post);
    assert_eq!(config.renderer.plugin.as_str(), "json-renderer");
    assert_eq!(config.renderer.format, BodyFormat::Json);
    assert_eq!(config.ordering, DeliveryOrdering::default());
    assert_eq!(config.retry, RetryPolicy::default());
    assert_eq!(config.filters, EndpointFilters::default());
    let shown = serde_json::to_value(&config).unwrap();
    assert_eq!(
        shown["ordering"],
        json!({"mode": "none", "key": "channel_value", "after_final_failure": "hold"})
    );
    assert_eq!(shown["method"], "POST");
}

#[test]
fn urls_must_be_plain_http_or_https() {
    for good in [
        "http://127.0.0.1:9000/x?a=1",
        "https://hooks.example.com/path",
    ] {
        assert!(good.parse::<EndpointUrl>().is_ok(), "{good} refused");
    }
    let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
    for bad in [
        "ftp://example.com/x",
        "example.com/x",
        "https://user:pw@example.com/",
        "https://token@example.com/",
        "https://example.com/#frag",
        "mailto:ops@example.com",
        "file:///etc/passwd",
        "",
        long.as_str(),
    ] {
        assert!(bad.parse::<EndpointUrl>().is_err(), "{bad} accepted");
    }
    let error = create(json!({"url": "ftp://example.com/"})).unwrap_err();
    assert!(error.contains("http or https"), "{error}");
}

#[test]
fn header_names_must_be_valid_and_not_the_hosts() {
    assert!("X-Api-Key".parse::<CustomHeaderName>().is_ok());
    assert!("Authorization".parse::<CustomHeaderName>().is_ok());
    for bad in [
        "",
        "bad header",
        "x:y",
        "Host",
        "content-length",
        "Transfer-Encoding",
        "connection",
        "webhook-id",
        "Webhook-Timestamp",
        "webhook-signature",
    ] {
        assert!(bad.parse::<CustomHeaderName>().is_err(), "{bad} accepted");
    }
}

#[test]
fn headers_and_query_keep_template_variables_as_given() {
    let config = create(json!({
        "url": "https://example.com/hook",
        "method": "get",
        "headers": [{"name": "X-Contact", "value": "{{ event.channel_value }}"}],
        "query": [{"name": "email", "value": "${email}"}, {"name": "v", "value": "1"}],
    }))
    .unwrap();
    assert_eq!(config.method, HttpMethod::Get);
    assert_eq!(config.headers[0].value, "{{ event.channel_value }}");
    assert_eq!(config.query[0].value, "${email}");
}

#[test]
fn values_that_would_split_a_request_are_refused() {
    let error = create(json!({
        "url": "https://example.com/hook",
        "headers": [{"name": "X-A", "value": "ok"}, {"name": "X-B", "value": "a\r\nHost: evil"}],
    }))
    .unwrap_err();
    assert!(error.starts_with("headers[1].value"), "{error}");
    let error = create(json!({
        "url": "https://example.com/hook",
        "query": [{"name": "", "value": "x"}],
    }))
    .unwrap_err();
    assert!(error.starts_with("query[0].name"), "{error}");
}

#[test]
fn ranges_are_checked_with_the_field_named() {
    let base = || json!({"url": "https://example.com/hook"});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        create(body).unwrap_err()
    };
    assert!(with("rate_limit", json!(0)).starts_with("rate_limit"));
    assert!(with("rate_limit", json!(10_001)).starts_with("rate_limit"));
    assert!(with("retry", json!({"max_attempts": 0})).starts_with("retry.max_attempts"));
    assert!(with("description", json!("x".repeat(1025))).starts_with("description"));
    assert!(with("method", json!("PATCH")).contains("unknown variant"));
    assert!(with("ordering", json!("fifo")).contains("unknown variant"));
    assert!(with("ordering", json!({"mode": "key", "key": "nope"})).contains("not a field"));
    assert!(with("nope", json!(1)).contains("unknown field"));
    assert!(
        with("renderer", json!({"format": "yaml"})).contains("unknown variant"),
        "format"
    );
    assert!(with("secret", json!("whsec_short")).contains("whsec_"));
}

#[test]
fn an_update_changes_only_the_fields_given() {
    let mut config = create(json!({
        "url": "https://example.com/hook",
        "description": "orders",
        "rate_limit": 5,
        "renderer": {"template": "{{ event.id }}", "format": "text"},
        "filters": {"statuses": ["failed"], "match": {"source": "a"}},
        "retry": {"max_attempts": 4},
        "ordering": {"mode": "key", "key": "distinct_id"},
    }))
    .unwrap();
    let update: UpdateEndpoint = serde_json::from_value(json!({
        "enabled": false,
        "ordering": {"after_final_failure": "skip"},
        "rate_limit": null,
        "renderer": {"format": "json"},
        "filters": {"statuses": []},
        "retry": {"schedule_secs": [5]},
    }))
    .unwrap();
    config.apply(update);
    config.validate().unwrap();
    assert!(!config.enabled);
    assert_eq!(config.description.as_deref(), Some("orders"));
    assert_eq!(config.rate_limit, None, "null clears");
    assert_eq!(config.renderer.template.as_deref(), Some("{{ event.id }}"));
    assert_eq!(config.renderer.format, BodyFormat::Json);
    assert!(config.filters.statuses.is_empty());
    assert_eq!(config.filters.match_fields.len(), 1, "match kept");
    assert_eq!(config.ordering.mode, OrderingMode::Key, "mode kept");
    assert_eq!(config.ordering.key.as_str(), "distinct_id", "key kept");
    assert_eq!(config.ordering.after_final_failure, AfterFinalFailure::Skip);
    let strict: UpdateEndpoint = serde_json::from_value(json!({"ordering": "strict"})).unwrap();
    config.apply(strict);
    assert_eq!(
        config.ordering.mode,
        OrderingMode::Endpoint,
        "the older form"
    );
    assert_eq!(config.ordering.after_final_failure, AfterFinalFailure::Skip);
    assert_eq!(config.retry.max_attempts, 4);
    assert_eq!(config.retry.schedule_secs, [5]);
}

#[test]
fn stored_endpoints_round_trip_with_their_secrets() {
    let mut stored = endpoint();
    stored.rotate_secret(SigningSecret::generate(), 60, 10);
    let text = serde_json::to_string(&stored).unwrap();
    let back: Endpoint = serde_json::from_str(&text).unwrap();
    assert_eq!(back, stored);
    let shown = serde_json::to_string(&EndpointView::from(&stored)).unwrap();
    assert!(!shown.contains("whsec_"), "{shown}");
}

/// A status event with `message_id` as its vendor message id, for tests of
/// what endpoints read from events.
pub(crate) fn event(id: EventId, message_id: &str) -> crate::domain::event::CanonicalEvent {
    crate::domain::event::CanonicalEvent {
        id,
        version: EVENT_VERSION.into(),
        event_type: EventType::Status,
        channel: Channel::Sms,
        channel_value: Some("+15555550100".into()),
        distinct_id: None,
        status: Some(StatusInfo::new(Status::Delivered)),
        inbound_message: None,
        reference: Reference {
            vendor_message_id: Some(message_id.into()),
            idempotency_key: None,
        },
        vendor_name: "api".into(),
        source: "api".into(),
        received_at: 5,
        vendor_response: Value::Null,
    }
}

#[test]
fn a_disabled_endpoint_still_matches_so_its_deliveries_wait() {
    let event = event(EventId::new(5), "m-5");
    let mut endpoint = endpoint();
    assert!(endpoint.matches(&event));
    endpoint.config.enabled = false;
    assert!(endpoint.matches(&event));
}
