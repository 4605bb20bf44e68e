//! The server's ingest path end to end: every first-party fixture through a
//! source into stored canonical events, resends stored once, tokens
//! enforced, rejected callbacks kept and retried after a fix, and a plugin
//! version swap under concurrent ingest that loses no request.

use std::collections::{BTreeMap, HashSet};

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_sdk::Callback;
use wasmhook_sdk::fixtures::{json_subset, load_cases};
use wasmhook_tests::server::{TestServer, json_of};

use crate::harness::{
    fixture_folders, fixtures_dir, guest_bytes, plugin_bytes, plugin_bytes_tagged,
};

/// Sends a callback to `/ingest/{source}` with the token in a header.
async fn ingest(
    server: &TestServer,
    source: &str,
    token: &str,
    callback: &Callback,
) -> (u16, Value) {
    let mut url = server.url(&format!("/ingest/{source}"));
    if !callback.query.is_empty() {
        url.push('?');
        url.push_str(&callback.query);
    }
    let mut request = server
        .client
        .request(Method::from_bytes(callback.method.as_bytes()).unwrap(), url)
        .header("x-wasmhook-token", token)
        .body(callback.body.clone());
    for (name, value) in &callback.headers {
        if !name.eq_ignore_ascii_case("content-type") {
            request = request.header(name, value);
        }
    }
    if let Some(content_type) = &callback.content_type {
        request = request.header("content-type", content_type);
    }
    json_of(request.send().await.expect("ingest request")).await
}

/// A POST callback with `content_type` and `body`.
fn post(content_type: &str, body: Vec<u8>) -> Callback {
    Callback {
        method: "POST".into(),
        content_type: Some(content_type.into()),
        body,
        ..Callback::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_of_every_vendor_is_ingested_into_canonical_events() {
    let server = TestServer::start().await;
    // One source per mapper and distinct config: the config is the source's.
    let mut sources: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut stored_per_source: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for (folder, mapper) in fixture_folders() {
        for case in load_cases(fixtures_dir(&folder)) {
            let key = (mapper.clone(), case.config.to_string());
            if !sources.contains_key(&key) {
                let name = format!("{}-{}", mapper, sources.len());
                let token = server
                    .create_source(&name, &mapper, case.config.clone())
                    .await;
                sources.insert(key.clone(), (name, token));
            }
            let (source, token) = sources[&key].clone();
            let (status, body) = ingest(&server, &source, &token, &case.callback).await;
            checked += 1;
            let outcome = check_outcome(&server, &case.expect, status, &body).await;
            match outcome {
                Ok(ids) => stored_per_source.entry(source).or_default().extend(ids),
                Err(why) => failures.push(format!("{} via {source}: {why}", case.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 100, "only {checked} fixture cases ran");
    // The listing of each source holds exactly the events its callbacks stored.
    for (source, ids) in stored_per_source {
        let (status, page) = server
            .get(&format!("/v1/events?source={source}&limit=1000"))
            .await;
        assert_eq!(status, 200, "{page}");
        let listed: HashSet<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, ids, "events listed for source {source}");
    }
    server.stop().await;
}

/// Checks one ingest answer against a fixture's expectation; the stored
/// event ids on success.
async fn check_outcome(
    server: &TestServer,
    expect: &wasmhook_sdk::fixtures::Expectation,
    status: u16,
    body: &Value,
) -> Result<Vec<String>, String> {
    if let Some(reply_status) = expect.reply_status {
        return if status == reply_status {
            Ok(Vec::new())
        } else {
            Err(format!(
                "expected reply status {reply_status}, got {status}: {body}"
            ))
        };
    }
    if let Some(kind) = &expect.error {
        if !(400..500).contains(&status) || body["rejected_id"].as_str().is_none() {
            return Err(format!(
                "expected a 4xx rejection ({kind:?}), got {status}: {body}"
            ));
        }
        return Ok(Vec::new());
    }
    if status != 202 {
        return Err(format!("expected 202, got {status}: {body}"));
    }
    let expected = expect.events.clone().unwrap_or_default();
    let ids: Vec<String> = body["events"]
        .as_array()
        .ok_or("no events array")?
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    if ids.len() != expected.len() {
        return Err(format!(
            "expected {} events, got {}: {body}",
            expected.len(),
            ids.len()
        ));
    }
    for (id, expected) in ids.iter().zip(&expected) {
        let (status, event) = server.get(&format!("/v1/events/{id}")).await;
        if status != 200 {
            return Err(format!("GET /v1/events/{id}: {status} {event}"));
        }
        // The host files the mapper's raw payload under the vendor's name.
        let mut as_mapped = event.clone();
        let vendor = event["vendor_name"].as_str().unwrap_or_default();
        as_mapped["vendor_response"] = event["vendor_response"][vendor].clone();
        json_subset(expected, &as_mapped).map_err(|why| format!("event {id}: {why}"))?;
        for field in ["id", "version", "source", "received_at"] {
            if event.get(field).is_none_or(Value::is_null) {
                return Err(format!("event {id} lacks host field `{field}`"));
            }
        }
    }
    Ok(ids)
}

fn gupshup_delivered(message_id: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
            .unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["payload"]["gsId"] = json!(message_id);
    serde_json::to_vec(&value).unwrap()
}

async fn post_gupshup(
    server: &TestServer,
    source: &str,
    token: &str,
    message_id: &str,
) -> (u16, Value) {
    ingest(
        server,
        source,
        token,
        &post("application/json", gupshup_delivered(message_id)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_callback_is_stored_once_and_tokens_are_enforced() {
    let server = TestServer::start().await;
    let token = server.create_source("gs", "gupshup", json!({})).await;

    let (status, first) = post_gupshup(&server, "gs", &token, "m-1").await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["accepted"], 1);
    let (status, again) = post_gupshup(&server, "gs", &token, "m-1").await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["duplicates"], 1);
    assert_eq!(again["events"][0]["duplicate"], true);
    assert_eq!(again["events"][0]["id"], first["events"][0]["id"]);
    let (_, page) = server.get("/v1/events?source=gs").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);

    // Wrong token, no token: 401, nothing stored. Token in the query works.
    let (status, body) = post_gupshup(&server, "gs", "wrong-token-0123456789", "m-2").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let response = server
        .client
        .post(server.url("/ingest/gs"))
        .header("content-type", "application/json")
        .body(gupshup_delivered("m-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = server
        .client
        .post(server.url(&format!("/ingest/gs?token={token}")))
        .header("content-type", "application/json")
        .body(gupshup_delivered("m-4"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let (_, page) = server.get("/v1/events?source=gs").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);

    // Unknown source, unreadable content type, oversized body.
    let (status, _) = post_gupshup(&server, "nope", &token, "m-5").await;
    assert_eq!(
        status, 401,
        "an unknown source is answered like a wrong token"
    );
    let (status, body) = ingest(&server, "gs", &token, &post("image/png", vec![1, 2, 3])).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{body}"
    );
    let huge = vec![b' '; wasmhook::config::ServeConfig::DEFAULT_MAX_INGEST_BYTES + 1];
    let (status, body) = ingest(&server, "gs", &token, &post("application/json", huge)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_callbacks_are_kept_and_succeed_after_a_fixed_version_is_activated() {
    let server = TestServer::start().await;
    // `flaky` v1 is the hostile guest told to panic; v2 is the real mapper.
    let response = server
        .admin(Method::PUT, "/v1/plugins/flaky")
        .body(guest_bytes("hostile"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let token = server
        .create_source("flaky-src", "flaky", json!({"attack": "panic"}))
        .await;

    let (status, rejected) = post_gupshup(&server, "flaky-src", &token, "r-1").await;
    // A plugin bug is the server's side: 500, and the callback is kept.
    assert_eq!(status, 500, "{rejected}");
    assert_eq!(rejected["code"], "plugin_trapped");
    assert!(
        rejected["detail"]
            .as_str()
            .unwrap()
            .contains("panics on purpose"),
        "{rejected}"
    );
    let rejected_id = rejected["rejected_id"].as_str().unwrap().to_owned();

    // A malformed body through a real mapper: 400 and kept too.
    let gs_token = server.create_source("gs", "gupshup", json!({})).await;
    let (status, malformed) = ingest(
        &server,
        "gs",
        &gs_token,
        &post("application/json", b"{not json".to_vec()),
    )
    .await;
    assert_eq!(status, 400, "{malformed}");
    let (_, kept) = server.get("/v1/sources/gs/rejected").await;
    assert_eq!(kept[0]["id"], malformed["rejected_id"]);
    assert_eq!(kept[0]["callback"]["content_type"], "application/json");

    let (status, list) = server
        .get("/v1/sources/flaky-src/rejected?state=pending")
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&token),
        "the ingest token is not kept"
    );

    // Retrying with the broken version fails again and counts the attempt.
    let retry_path = format!("/v1/sources/flaky-src/rejected/{rejected_id}/retry");
    let (status, body) = server.post(&retry_path, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("retry_failed")),
        "{body}"
    );

    // Upload the fix as v2, activate it, retry: the events are stored.
    let response = server
        .admin(Method::PUT, "/v1/plugins/flaky")
        .body(plugin_bytes("gupshup"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let (status, body) = server
        .post("/v1/plugins/flaky/activate", &json!({"version": 2}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, retried) = server.post(&retry_path, &json!({})).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["rejected"]["state"], "resolved");
    assert_eq!(retried["rejected"]["attempts"], 3);
    let event_id = retried["events"][0]["id"].as_str().unwrap();
    let (status, event) = server.get(&format!("/v1/events/{event_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(event["reference"]["vendor_message_id"], "r-1");
    assert_eq!(event["source"], "flaky-src");

    // Resolved once is resolved: a second retry is a conflict.
    let (status, _) = server.post(&retry_path, &json!({})).await;
    assert_eq!(status, 409);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_swap_under_concurrent_ingest_loses_no_request() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let token = server.create_source("gs", "gupshup", json!({})).await;
    // v2 of gupshup: the same component in other bytes.
    let response = server
        .admin(Method::PUT, "/v1/plugins/gupshup")
        .body(plugin_bytes_tagged("gupshup", "v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let server = std::sync::Arc::clone(&server);
            let token = token.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for i in 0..100 {
                    let (status, _) =
                        post_gupshup(&server, "gs", &token, &format!("swap-{writer}-{i}")).await;
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    for round in 0..20 {
        let version = 1 + (round % 2);
        let (status, body) = server
            .post("/v1/plugins/gupshup/activate", &json!({"version": version}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for writer in writers {
        let statuses = writer.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    }
    let (_, page) = server.get("/v1/events?source=gs&limit=1000").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 400);
}
