//! The management API's contract: plugin upload/versions/activation/delete,
//! dry runs, event publishing and listing, and every route's bad input
//! answered 4xx with `{code, detail}` — never 500.

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::server::{TestServer, json_of};

use crate::harness::{plugin_bytes, plugin_bytes_tagged};

/// Sends a request and returns status and JSON body.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    json_of(request.send().await.expect("request")).await
}

/// Asserts a 4xx `{code, detail}` answer with `status` and `code`.
#[track_caller]
fn assert_error(what: &str, (status, body): (u16, Value), want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["code"], want_code, "{what}: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no detail in {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_versioned_activated_dry_run_and_deleted_only_when_unused() {
    let server = TestServer::start_with(|config| config.max_plugin_bytes = 4 << 20).await;

    // The first-party plugins are installed and active.
    let (status, list) = server.get("/v1/plugins").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "gupshup",
        "sendgrid",
        "json-renderer",
        "http-block",
        "fieldmap",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not installed: {names:?}"
        );
    }

    // Upload: v1 active at once, v2 waits for activation unless asked.
    let put = |path: &str, bytes: Vec<u8>| {
        server
            .admin(Method::PUT, path)
            .header("content-type", "application/wasm")
            .body(bytes)
    };
    let (status, v1) = send(put("/v1/plugins/my-mapper", plugin_bytes("twilio"))).await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(v1["version"]["version"], 1);
    assert_eq!(v1["version"]["world"], "mapper");
    assert_eq!(v1["version"]["sha256"].as_str().unwrap().len(), 64);
    let (status, v2) = send(put("/v1/plugins/my-mapper", plugin_bytes("gupshup"))).await;
    assert_eq!(status, 201);
    assert_eq!(v2["plugin"]["active_version"], 1);
    let (status, v3) = send(put(
        "/v1/plugins/my-mapper?activate=true",
        plugin_bytes_tagged("gupshup", "v3"),
    ))
    .await;
    assert_eq!(status, 201);
    assert_eq!(v3["plugin"]["active_version"], 3);
    // The same bytes again add no version: 200 with the version they are.
    let (status, again) = send(put("/v1/plugins/my-mapper", plugin_bytes("gupshup"))).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (
            &again["version"]["version"],
            &again["plugin"]["latest_version"]
        ),
        (&json!(2), &json!(3))
    );
    assert_eq!(
        again["plugin"]["active_version"], 3,
        "not activated unasked"
    );
    let (_, detail) = server.get("/v1/plugins/my-mapper").await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 3);
    assert_eq!(detail["active_version"], 3);
    let (status, rolled_back) = server
        .post("/v1/plugins/my-mapper/activate", &json!({"version": 1}))
        .await;
    assert_eq!(
        (status, rolled_back["active_version"].as_i64()),
        (200, Some(1))
    );

    // A renderer cannot become a version of a mapper.
    assert_error(
        "renderer as mapper version",
        send(put("/v1/plugins/my-mapper", plugin_bytes("json-renderer"))).await,
        409,
        "conflict",
    );
    // Refusals name the reason.
    assert_error(
        "not wasm",
        send(put("/v1/plugins/junk", b"hello".to_vec())).await,
        422,
        "not_wasm",
    );
    let core_module = wat::parse_str("(module)").unwrap();
    assert_error(
        "core module",
        send(put("/v1/plugins/core", core_module)).await,
        422,
        "core_module",
    );
    assert_error(
        "too large",
        send(put("/v1/plugins/big", vec![0u8; 5 << 20])).await,
        413,
        "too_large",
    );
    assert_error(
        "bad name",
        send(put("/v1/plugins/Bad%20Name", plugin_bytes("twilio"))).await,
        400,
        "invalid_name",
    );

    // Dry runs: mapper, renderer, block; the call's error is a value.
    let (status, mapped) = server
        .post(
            "/v1/plugins/gupshup/invoke",
            &json!({"callback": {"content_type": "application/json",
                "body": std::fs::read_to_string(crate::harness::fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json")).unwrap()}}),
        )
        .await;
    assert_eq!(status, 200, "{mapped}");
    assert_eq!(
        mapped["result"]["events"][0]["status"]["status"],
        "delivered"
    );
    assert!(mapped["stats"]["duration_us"].as_u64().is_some());
    let (status, rendered) = server
        .post(
            "/v1/plugins/json-renderer/invoke",
            &json!({"template": "{\"to\": \"{{ event.channel_value }}\"}", "data": {"event": {"channel_value": "+1555"}}}),
        )
        .await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(rendered["result"]["content_type"], "application/json");
    assert!(
        rendered["result"]["body"]
            .as_str()
            .unwrap()
            .contains("+1555"),
        "{rendered}"
    );
    let (status, failed) = server
        .post(
            "/v1/plugins/gupshup/invoke",
            &json!({"callback": {"body": "{nope"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(failed["error"]["code"], "plugin_error", "{failed}");
    assert_error(
        "mapper without callback",
        server.post("/v1/plugins/gupshup/invoke", &json!({})).await,
        422,
        "invalid_field",
    );
    assert_error(
        "unknown version",
        server
            .post(
                "/v1/plugins/gupshup/invoke",
                &json!({"version": 42, "callback": {}}),
            )
            .await,
        404,
        "not_found",
    );

    // Delete: refused while a source uses it, then allowed.
    server
        .create_source("uses-my-mapper", "my-mapper", json!({}))
        .await;
    let delete = || send(server.admin(Method::DELETE, "/v1/plugins/my-mapper"));
    let (status, body) = delete().await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("uses-my-mapper"),
        "{body}"
    );
    let (status, _) = send(server.admin(Method::DELETE, "/v1/sources/uses-my-mapper")).await;
    assert_eq!(status, 204);
    assert_eq!(delete().await.0, 204);
    assert_error(
        "deleted",
        server.get("/v1/plugins/my-mapper").await,
        404,
        "not_found",
    );
    assert_error("delete again", delete().await, 404, "not_found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_validated_and_listed_with_filters() {
    let server = TestServer::start().await;
    let status_event = |id: &str, channel: &str, status: &str| {
        json!({
            "event_type": "status", "channel": channel, "channel_value": "+15555550100",
            "status": {"status": status, "vendor_status": status.to_uppercase(), "timestamp": 1_672_310_923_000_i64},
            "reference": {"vendor_message_id": id}, "source": "crm"
        })
    };
    for (i, (channel, status)) in [
        ("sms", "delivered"),
        ("whatsapp", "read"),
        ("sms", "failed"),
    ]
    .iter()
    .enumerate()
    {
        let (code, body) = server
            .post(
                "/v1/events",
                &status_event(&format!("m{i}"), channel, status),
            )
            .await;
        assert_eq!(code, 202, "{body}");
        assert_eq!(body["accepted"], 1);
    }
    let (code, body) = server
        .post("/v1/events", &status_event("m0", "sms", "delivered"))
        .await;
    assert_eq!(
        (code, body["duplicates"].as_i64()),
        (202, Some(1)),
        "{body}"
    );

    let (_, sms) = server.get("/v1/events?channel=sms").await;
    assert_eq!(sms["data"].as_array().unwrap().len(), 2);
    let (_, read) = server
        .get("/v1/events?status=read&source=crm&event_type=status")
        .await;
    assert_eq!(read["data"][0]["channel"], "whatsapp");
    let (_, page) = server.get("/v1/events?limit=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, rest) = server
        .get(&format!("/v1/events?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let id = rest["data"][0]["id"].as_str().unwrap();
    let (code, event) = server.get(&format!("/v1/events/{id}")).await;
    assert_eq!((code, event["version"].as_str()), (200, Some("1.0")));

    // Validation names the field.
    let mut missing = status_event("x", "sms", "sent");
    missing.as_object_mut().unwrap().remove("channel");
    let (code, body) = server.post("/v1/events", &missing).await;
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("channel"),
        "{body}"
    );
    let mut bad_status = status_event("x", "sms", "sent");
    bad_status["status"]["status"] = json!("teleported");
    let (code, body) = server.post("/v1/events", &bad_status).await;
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("status.status"),
        "{body}"
    );
    let (code, body) = server
        .post(
            "/v1/events",
            &json!({"event_type": "status", "channel": "sms"}),
        )
        .await;
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().starts_with("status"),
        "{body}"
    );
    let mut extra = status_event("x", "sms", "sent");
    extra["colour"] = json!("blue");
    let (code, body) = server.post("/v1/events", &extra).await;
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_with_4xx_code_and_detail() {
    let server = TestServer::start().await;
    server.create_source("gs", "gupshup", json!({})).await;
    let url = |path: &str| server.url(path);
    let c = &server.client;
    let json_post = |path: &str, body: &str| {
        server
            .admin(Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };

    // Authentication.
    assert_error(
        "no token",
        send(c.get(url("/v1/plugins"))).await,
        401,
        "unauthorized",
    );
    assert_error(
        "wrong token",
        send(c.get(url("/v1/sources")).bearer_auth("nope-nope-nope-nope")).await,
        401,
        "unauthorized",
    );
    assert_error(
        "no token on events",
        send(c.post(url("/v1/events"))).await,
        401,
        "unauthorized",
    );
    // Bodies: broken JSON 400, wrong media type 415, unknown field / wrong
    // type / bad name 422, body limit 413.
    assert_error(
        "broken json",
        send(json_post("/v1/sources", "{")).await,
        400,
        "invalid_json",
    );
    assert_error(
        "not json",
        send(
            server
                .admin(Method::POST, "/v1/sources")
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    assert_error(
        "unknown field",
        send(json_post(
            "/v1/sources",
            r#"{"name":"a","mapper":"gupshup","colour":1}"#,
        ))
        .await,
        422,
        "invalid_field",
    );
    assert_error(
        "bad name",
        send(json_post(
            "/v1/sources",
            r#"{"name":"A B","mapper":"gupshup"}"#,
        ))
        .await,
        422,
        "invalid_field",
    );
    assert_error(
        "missing mapper",
        send(json_post("/v1/sources", r#"{"name":"a"}"#)).await,
        422,
        "invalid_field",
    );
    assert_error(
        "no such mapper",
        send(json_post("/v1/sources", r#"{"name":"a","mapper":"nope"}"#)).await,
        422,
        "invalid_field",
    );
    assert_error(
        "renderer as mapper",
        send(json_post(
            "/v1/sources",
            r#"{"name":"a","mapper":"json-renderer"}"#,
        ))
        .await,
        422,
        "invalid_field",
    );
    assert_error(
        "config not object",
        send(json_post(
            "/v1/sources",
            r#"{"name":"a","mapper":"gupshup","config":[1]}"#,
        ))
        .await,
        422,
        "invalid_field",
    );
    assert_error(
        "short token",
        send(json_post(
            "/v1/sources",
            r#"{"name":"a","mapper":"gupshup","ingest_token":"abc"}"#,
        ))
        .await,
        422,
        "invalid_field",
    );
    assert_error(
        "duplicate source",
        send(json_post(
            "/v1/sources",
            r#"{"name":"gs","mapper":"gupshup"}"#,
        ))
        .await,
        409,
        "conflict",
    );
    let huge = format!(
        r#"{{"name":"a","mapper":"gupshup","description":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    assert_error(
        "too large",
        send(json_post("/v1/sources", &huge)).await,
        413,
        "too_large",
    );
    // Not found, per resource.
    assert_error(
        "source",
        server.get("/v1/sources/nope").await,
        404,
        "not_found",
    );
    assert_error(
        "patch source",
        send(
            server
                .admin(Method::PATCH, "/v1/sources/nope")
                .json(&json!({})),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        "delete source",
        send(server.admin(Method::DELETE, "/v1/sources/nope")).await,
        404,
        "not_found",
    );
    assert_error(
        "rejected of",
        server.get("/v1/sources/nope/rejected").await,
        404,
        "not_found",
    );
    assert_error(
        "retry bad id",
        server
            .post("/v1/sources/gs/rejected/rej_nope/retry", &json!({}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        "plugin",
        server.get("/v1/plugins/nope").await,
        404,
        "not_found",
    );
    assert_error(
        "activate missing version",
        server
            .post("/v1/plugins/gupshup/activate", &json!({"version": 99}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        "activate bad version",
        server
            .post("/v1/plugins/gupshup/activate", &json!({"version": "x"}))
            .await,
        422,
        "invalid_field",
    );
    assert_error(
        "event",
        server.get("/v1/events/evt_nope").await,
        404,
        "not_found",
    );
    assert_error(
        "event of other kind",
        server.get("/v1/events/ep_01JD8Z6Q3V6J4W8K2C9X7T5R1M").await,
        404,
        "not_found",
    );
    // Query strings name the parameter.
    assert_error(
        "limit 0",
        server.get("/v1/events?limit=0").await,
        400,
        "invalid_query",
    );
    assert_error(
        "bad channel",
        server.get("/v1/events?channel=pigeon").await,
        400,
        "invalid_query",
    );
    assert_error(
        "unknown param",
        server.get("/v1/events?colour=blue").await,
        400,
        "invalid_query",
    );
    assert_error(
        "bad cursor",
        server.get("/v1/events?cursor=nope").await,
        400,
        "invalid_query",
    );
    assert_error(
        "since after until",
        server.get("/v1/events?since=10&until=5").await,
        400,
        "invalid_query",
    );
    assert_error(
        "bad rejected state",
        server.get("/v1/sources/gs/rejected?state=odd").await,
        400,
        "invalid_query",
    );
    assert_error(
        "bad activate param",
        send(
            server
                .admin(Method::PUT, "/v1/plugins/x?activate=maybe")
                .body("x"),
        )
        .await,
        400,
        "invalid_query",
    );
    // Routing.
    assert_error(
        "unknown route",
        send(c.get(url("/v2/nothing"))).await,
        404,
        "not_found",
    );
    assert_error(
        "wrong method",
        send(server.admin(Method::DELETE, "/v1/events")).await,
        405,
        "method_not_allowed",
    );
    // Ingest.
    assert_error(
        "ingest unknown source",
        send(c.post(url("/ingest/nope?token=x"))).await,
        401,
        "unauthorized",
    );
    assert_error(
        "ingest no token",
        send(c.post(url("/ingest/gs"))).await,
        401,
        "unauthorized",
    );
    server.stop().await;
}
