//! Endpoint and connector configuration over the real API: CRUD, every kind
//! of bad input answered 4xx naming the field, signing secrets shown only
//! where they should be and rotated, connector secrets never shown, and
//! "in use" refusals for renderer plugins and connectors.

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::server::{TestServer, json_of};

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = server.admin(method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    json_of(request.send().await.expect("request")).await
}

/// Creates an endpoint; panics unless it was created.
async fn create_endpoint(server: &TestServer, body: Value) -> Value {
    let (status, created) = server.post("/v1/endpoints", &body).await;
    assert_eq!(status, 201, "creating endpoint {body}: {created}");
    created
}

/// Asserts a 4xx `{code, detail}` answer whose detail names `field`.
#[track_caller]
fn assert_refused(what: &str, (status, body): (u16, Value), want_status: u16, field: &str) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert!(body["code"].is_string(), "{what}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(field),
        "{what}: detail does not name `{field}`: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_created_read_listed_patched_and_deleted() {
    let server = TestServer::start().await;
    let created = create_endpoint(
        &server,
        json!({
            "url": "https://hooks.example.com/wasmhook",
            "description": "orders team",
            "filters": {
                "channels": {"whatsapp": ["status", "inbound_message"], "sms": ["status"]},
                "statuses": ["delivered", "failed"],
                "match": {"source": "gupshup-wa", "status.error_code": "1001"}
            },
            "method": "PUT",
            "headers": [{"name": "X-Contact", "value": "{{ event.channel_value }}"}],
            "query": [{"name": "email", "value": "${email}"}],
            "renderer": {"plugin": "json-renderer", "template": "{\"id\": \"{{ event.id }}\"}", "format": "json"},
            "rate_limit": 20,
            "ordering": "strict",
            "retry": {"max_attempts": 5}
        }),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("ep_"), "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["method"], "PUT");
    // The older `"strict"` reads as the whole endpoint in order, holding
    // after a final failure.
    assert_eq!(
        created["ordering"],
        json!({"mode": "endpoint", "key": "channel_value", "after_final_failure": "hold"})
    );
    assert_eq!(created["retry"]["max_attempts"], 5);
    assert_eq!(
        created["retry"]["schedule_secs"],
        json!([60, 120, 240, 480, 960, 1920, 3600])
    );
    assert_eq!(created["retry"]["max_age_secs"], 259_200);
    assert_eq!(created["headers"][0]["value"], "{{ event.channel_value }}");
    assert_eq!(created["query"][0]["value"], "${email}");
    assert_eq!(created["filters"]["channels"]["sms"], json!(["status"]));

    // GET and list show the configuration but never the secret.
    let (status, fetched) = server.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["url"], "https://hooks.example.com/wasmhook");
    assert_eq!(fetched["description"], "orders team");
    let (status, list) = server.get("/v1/endpoints").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    for shown in [&fetched, &list] {
        let text = shown.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("whsec_"),
            "secret shown: {text}"
        );
    }
    let (status, shown_secret) = server.get(&format!("/v1/endpoints/{id}/secret")).await;
    assert_eq!(status, 200, "{shown_secret}");
    assert_eq!(shown_secret["secret"], secret.as_str());

    // PATCH changes only the fields given; null clears.
    let (status, patched) = send(
        &server,
        Method::PATCH,
        &format!("/v1/endpoints/{id}"),
        Some(
            &json!({"enabled": false, "rate_limit": null, "filters": {"statuses": []},
                     "ordering": {"mode": "key", "key": "vendor_response.crm.contact_id"}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["ordering"],
        json!({"mode": "key", "key": "vendor_response.crm.contact_id", "after_final_failure": "hold"}),
        "mode and key changed, the rest kept"
    );
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["rate_limit"], Value::Null);
    assert_eq!(patched["filters"]["statuses"], json!([]));
    assert_eq!(
        patched["filters"]["match"]["source"], "gupshup-wa",
        "match kept"
    );
    assert_eq!(patched["method"], "PUT");
    assert_eq!(patched["description"], "orders team");
    assert_eq!(patched["retry"]["max_attempts"], 5);

    // DELETE, then it is gone.
    let path = format!("/v1/endpoints/{id}");
    assert_eq!(send(&server, Method::DELETE, &path, None).await.0, 204);
    assert_eq!(server.get(&path).await.0, 404);
    assert_eq!(send(&server, Method::DELETE, &path, None).await.0, 404);
    assert_eq!(server.get("/v1/endpoints/ep_nope").await.0, 404);

    // The routes are in the OpenAPI document.
    let (status, doc) = json_of(
        server
            .client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    for (method, route) in [
        ("get", "/v1/endpoints"),
        ("post", "/v1/endpoints"),
        ("get", "/v1/endpoints/{id}"),
        ("patch", "/v1/endpoints/{id}"),
        ("delete", "/v1/endpoints/{id}"),
        ("get", "/v1/endpoints/{id}/secret"),
        ("post", "/v1/endpoints/{id}/rotate-secret"),
        ("post", "/v1/deliveries/{id}/release"),
        ("get", "/v1/connectors"),
        ("post", "/v1/connectors"),
        ("get", "/v1/connectors/{id}"),
        ("patch", "/v1/connectors/{id}"),
        ("delete", "/v1/connectors/{id}"),
    ] {
        assert!(
            doc["paths"][route][method].is_object(),
            "{method} {route} missing from /openapi.json"
        );
    }
    for schema in [
        "EndpointView",
        "CreateEndpoint",
        "DeliveryOrdering",
        "OrderingFields",
        "ConnectorView",
        "ConnectorAuth",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoint_input_answers_4xx_naming_the_field() {
    let server = TestServer::start().await;
    let url = "https://example.com/hook";
    let long_url = format!("https://example.com/{}", "a".repeat(2048));
    let cases = [
        ("ftp url", json!({"url": "ftp://example.com/x"}), "url"),
        ("relative url", json!({"url": "/hook"}), "url"),
        (
            "url with userinfo",
            json!({"url": "https://user:pw@example.com/"}),
            "url",
        ),
        ("url too long", json!({"url": long_url}), "url"),
        ("missing url", json!({"description": "x"}), "url"),
        (
            "bad method",
            json!({"url": url, "method": "PATCH"}),
            "method",
        ),
        (
            "unknown channel",
            json!({"url": url, "filters": {"channels": {"fax": ["status"]}}}),
            "filters.channels",
        ),
        (
            "unknown event type",
            json!({"url": url, "filters": {"channels": {"sms": ["opened"]}}}),
            "filters.channels",
        ),
        (
            "unknown status",
            json!({"url": url, "filters": {"statuses": ["lost"]}}),
            "filters.statuses",
        ),
        (
            "match outside the event",
            json!({"url": url, "filters": {"match": {"nope.x": "1"}}}),
            "filters.match",
        ),
        (
            "host-owned header",
            json!({"url": url, "headers": [{"name": "Host", "value": "x"}]}),
            "headers[0].name",
        ),
        (
            "signature header",
            json!({"url": url, "headers": [{"name": "webhook-signature", "value": "x"}]}),
            "headers[0].name",
        ),
        (
            "invalid header name",
            json!({"url": url, "headers": [{"name": "bad header", "value": "x"}]}),
            "headers[0].name",
        ),
        (
            "header value with line break",
            json!({"url": url, "headers": [{"name": "X-A", "value": "a\r\nb"}]}),
            "headers[0].value",
        ),
        (
            "unknown field",
            json!({"url": url, "colour": "red"}),
            "colour",
        ),
        (
            "unknown nested field",
            json!({"url": url, "retry": {"attempts": 3}}),
            "attempts",
        ),
        (
            "unknown connector",
            json!({"url": url, "connector": "conn_01JD8Z6Q3V6J4W8K2C9X7T5R1M"}),
            "connector",
        ),
        (
            "malformed connector",
            json!({"url": url, "connector": "crm"}),
            "connector",
        ),
        (
            "missing renderer",
            json!({"url": url, "renderer": {"plugin": "nope"}}),
            "renderer.plugin",
        ),
        (
            "mapper as renderer",
            json!({"url": url, "renderer": {"plugin": "gupshup"}}),
            "renderer.plugin",
        ),
        (
            "bad format",
            json!({"url": url, "renderer": {"format": "yaml"}}),
            "renderer.format",
        ),
        (
            "zero rate limit",
            json!({"url": url, "rate_limit": 0}),
            "rate_limit",
        ),
        (
            "bad ordering",
            json!({"url": url, "ordering": "fifo"}),
            "ordering",
        ),
        (
            "bad ordering mode",
            json!({"url": url, "ordering": {"mode": "fifo"}}),
            "ordering.mode",
        ),
        (
            "ordering key outside the event",
            json!({"url": url, "ordering": {"mode": "key", "key": "contact.email"}}),
            "ordering.key",
        ),
        (
            "bad after_final_failure",
            json!({"url": url, "ordering": {"after_final_failure": "drop"}}),
            "ordering.after_final_failure",
        ),
        (
            "empty schedule",
            json!({"url": url, "retry": {"schedule_secs": []}}),
            "retry.schedule_secs",
        ),
        (
            "too many attempts",
            json!({"url": url, "retry": {"max_attempts": 101}}),
            "retry.max_attempts",
        ),
        (
            "bad secret",
            json!({"url": url, "secret": "whsec_dG9vIHNob3J0"}),
            "secret",
        ),
    ];
    for (what, body, field) in cases {
        assert_refused(what, server.post("/v1/endpoints", &body).await, 422, field);
    }
    let (status, list) = server.get("/v1/endpoints").await;
    assert_eq!((status, list), (200, json!([])), "nothing was stored");

    // PATCH is checked the same way, and a refused PATCH changes nothing.
    let created = create_endpoint(&server, json!({"url": url})).await;
    let path = format!("/v1/endpoints/{}", created["id"].as_str().unwrap());
    for (what, body, field) in [
        ("patch url", json!({"url": "gopher://x"}), "url"),
        (
            "patch unknown field",
            json!({"secret": "whsec_x"}),
            "secret",
        ),
        (
            "patch retry",
            json!({"retry": {"schedule_secs": [0]}}),
            "retry.schedule_secs[0]",
        ),
        (
            "patch header",
            json!({"headers": [{"name": "Content-Length", "value": "1"}]}),
            "headers[0].name",
        ),
        (
            "patch ordering key",
            json!({"ordering": {"key": "a..b"}}),
            "ordering.key",
        ),
    ] {
        assert_refused(
            what,
            send(&server, Method::PATCH, &path, Some(&body)).await,
            422,
            field,
        );
    }
    assert_eq!(server.get(&path).await.1["url"], url);

    // Broken JSON and a missing content type.
    let (status, body) = json_of(
        server
            .admin(Method::POST, "/v1/endpoints")
            .header("content-type", "application/json")
            .body("{\"url\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_json")));
    let (status, _) = json_of(
        server
            .admin(Method::POST, "/v1/endpoints")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_secret_returns_a_new_one_and_keeps_the_old_valid_for_the_grace() {
    let server = TestServer::start().await;
    let given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";
    let created = create_endpoint(
        &server,
        json!({"url": "https://example.com/hook", "secret": given}),
    )
    .await;
    assert_eq!(created["secret"], given);
    let id = created["id"].as_str().unwrap();

    let rotate = format!("/v1/endpoints/{id}/rotate-secret");
    let (status, rotated) = server
        .post(&rotate, &json!({"grace_period_secs": 3600}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let next = rotated["secret"].as_str().unwrap().to_owned();
    assert!(next.starts_with("whsec_") && next != given, "{rotated}");
    assert_eq!(
        rotated["previous"].as_array().map(Vec::len),
        Some(1),
        "{rotated}"
    );
    let expires_at = rotated["previous"][0]["expires_at"].as_u64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        expires_at > now_ms + 3_500_000 && expires_at <= now_ms + 3_600_000,
        "{rotated}"
    );
    let (_, shown) = server.get(&format!("/v1/endpoints/{id}/secret")).await;
    assert_eq!(shown["secret"], next.as_str());

    // No body: the default grace (1 day) and a generated secret.
    let (status, again) = json_of(server.admin(Method::POST, &rotate).send().await.unwrap()).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["secret"], next.as_str());
    assert_eq!(
        again["previous"].as_array().map(Vec::len),
        Some(2),
        "{again}"
    );

    assert_refused(
        "grace over 7 days",
        server
            .post(&rotate, &json!({"grace_period_secs": 604_801}))
            .await,
        422,
        "grace_period_secs",
    );
    assert_refused(
        "bad new secret",
        server.post(&rotate, &json!({"secret": "nope"})).await,
        422,
        "secret",
    );
    let (status, _) = server
        .post(
            "/v1/endpoints/ep_01JD8Z6Q3V6J4W8K2C9X7T5R1M/rotate-secret",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_secrets_are_write_only_and_a_used_connector_is_not_deleted() {
    let server = TestServer::start().await;
    let secrets = [
        "basic-pass-4f1c9e",
        "bearer-token-7d2a0b",
        "api-key-value-93be11",
        "new-pass-5e6f7a",
    ];
    let mut responses: Vec<String> = Vec::new();
    let mut ids = Vec::new();
    for body in [
        json!({"name": "crm", "auth": {"kind": "basic", "username": "ops", "password": secrets[0]}}),
        json!({"name": "billing", "auth": {"kind": "bearer", "token": secrets[1]}}),
        json!({"name": "esputnik", "description": "seed 001", "auth": {"kind": "api_key", "header": "X-Api-Key", "value": secrets[2]}}),
    ] {
        let (status, created) = server.post("/v1/connectors", &body).await;
        assert_eq!(status, 201, "{created}");
        assert!(
            created["id"].as_str().unwrap().starts_with("conn_"),
            "{created}"
        );
        assert_eq!(created["auth"]["kind"], body["auth"]["kind"]);
        assert_eq!(created["auth"]["secret_set"], true, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
        responses.push(created.to_string());
    }
    let (_, basic) = server.get(&format!("/v1/connectors/{}", ids[0])).await;
    assert_eq!(basic["auth"]["username"], "ops");
    let (_, by_name) = server.get("/v1/connectors/esputnik").await;
    assert_eq!(by_name["auth"]["header"], "X-Api-Key");
    assert_eq!(by_name["id"], ids[2].as_str());
    responses.extend([basic.to_string(), by_name.to_string()]);
    let (status, list) = server.get("/v1/connectors").await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (200, Some(3)),
        "{list}"
    );
    responses.push(list.to_string());

    // PATCH replaces the credentials whole; the new secret is not shown either.
    let (status, patched) = send(
        &server,
        Method::PATCH,
        &format!("/v1/connectors/{}", ids[0]),
        Some(&json!({"auth": {"kind": "basic", "username": "ops2", "password": secrets[3]}})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["auth"]["username"], "ops2");
    assert_eq!(patched["name"], "crm");
    responses.push(patched.to_string());
    for response in &responses {
        for secret in secrets {
            assert!(
                !response.contains(secret),
                "secret `{secret}` shown in {response}"
            );
        }
    }

    // Bad input.
    let conflict = server
        .post(
            "/v1/connectors",
            &json!({"name": "crm", "auth": {"kind": "bearer", "token": "t"}}),
        )
        .await;
    assert_refused("duplicate name", conflict, 409, "crm");
    let rename = send(
        &server,
        Method::PATCH,
        &format!("/v1/connectors/{}", ids[1]),
        Some(&json!({"name": "crm"})),
    )
    .await;
    assert_refused("rename onto a taken name", rename, 409, "crm");
    for (what, body, field) in [
        (
            "bad header",
            json!({"name": "k", "auth": {"kind": "api_key", "header": "bad header", "value": "v"}}),
            "auth.header",
        ),
        (
            "host-owned header",
            json!({"name": "k", "auth": {"kind": "api_key", "header": "webhook-id", "value": "v"}}),
            "auth.header",
        ),
        (
            "unknown kind",
            json!({"name": "k", "auth": {"kind": "oauth", "token": "t"}}),
            "auth",
        ),
        (
            "bad name",
            json!({"name": "Not A Slug", "auth": {"kind": "bearer", "token": "t"}}),
            "name",
        ),
        (
            "unknown field",
            json!({"name": "k", "auth": {"kind": "bearer", "token": "t"}, "scope": "x"}),
            "scope",
        ),
        (
            "empty password",
            json!({"name": "k", "auth": {"kind": "basic", "username": "u", "password": ""}}),
            "auth.password",
        ),
    ] {
        assert_refused(what, server.post("/v1/connectors", &body).await, 422, field);
    }

    // An endpoint using a connector keeps it from being deleted.
    let endpoint = create_endpoint(
        &server,
        json!({"url": "https://example.com/hook", "connector": ids[1]}),
    )
    .await;
    assert_eq!(endpoint["connector"], ids[1].as_str());
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let path = format!("/v1/connectors/{}", ids[1]);
    assert_refused(
        "delete in use",
        send(&server, Method::DELETE, &path, None).await,
        409,
        endpoint_id,
    );
    let (status, _) = send(
        &server,
        Method::PATCH,
        &format!("/v1/endpoints/{endpoint_id}"),
        Some(&json!({"connector": null})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(send(&server, Method::DELETE, &path, None).await.0, 204);
    assert_eq!(server.get(&path).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renderer_plugin_used_by_an_endpoint_is_not_deleted() {
    let server = TestServer::start().await;
    let endpoint = create_endpoint(&server, json!({"url": "https://example.com/hook"})).await;
    assert_eq!(
        endpoint["renderer"]["plugin"], "json-renderer",
        "the default renderer"
    );
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let refused = send(&server, Method::DELETE, "/v1/plugins/json-renderer", None).await;
    assert_refused("delete json-renderer in use", refused, 409, endpoint_id);

    // Once the endpoint uses another renderer, the plugin can go.
    let (status, patched) = send(
        &server,
        Method::PATCH,
        &format!("/v1/endpoints/{endpoint_id}"),
        Some(&json!({"renderer": {"plugin": "xml-renderer", "format": "xml"}})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        send(&server, Method::DELETE, "/v1/plugins/json-renderer", None)
            .await
            .0,
        204
    );
    let refused = send(&server, Method::DELETE, "/v1/plugins/xml-renderer", None).await;
    assert_refused("delete xml-renderer in use", refused, 409, endpoint_id);
}
