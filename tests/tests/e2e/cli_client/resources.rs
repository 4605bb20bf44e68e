//! The client commands for every other resource, end to end: endpoints
//! created, changed, tested, rotated, replayed and deleted; deliveries
//! listed, shown and retried; connectors and blocks through their
//! lifecycle; a workflow run and a render; rejected callbacks listed and
//! retried — each with `-o json` parsed and `-o table` read for its
//! columns.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::{TestServer, json_of};

use super::{client, error_line, stdout_json};
use crate::harness::fixtures_dir;

/// What a successful command printed, as text.
fn stdout_text(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 on stdout")
}

/// The first line of a table, its column headers split on the padding.
fn headers(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .expect("a header line")
        .split("  ")
        .map(str::trim)
        .filter(|header| !header.is_empty())
        .collect()
}

/// Sends gupshup's WhatsApp delivery report to `source`; returns the answer.
async fn ingest(server: &TestServer, source: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    json_of(
        server
            .client
            .post(server.url(&format!("/ingest/{source}?token={token}")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("ingest"),
    )
    .await
}

fn delivered_report() -> Vec<u8> {
    std::fs::read(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json")).expect("fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_change_test_rotate_replay_and_their_deliveries() {
    let server = TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    let receiver = TestReceiver::start().await;
    let url = receiver.url("/hooks");

    let created = stdout_json(
        &client(
            &server,
            &[
                "endpoint",
                "create",
                "--url",
                &url,
                "--description",
                "crm feed",
                "-H",
                "X-Team: crm",
                "--rate-limit",
                "50",
                "--json",
                r#"{"retry": {"max_attempts": 3}}"#,
                "-o",
                "json",
            ],
        )
        .await,
    );
    let id = created["id"].as_str().expect("an endpoint id").to_owned();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        created["headers"],
        json!([{"name": "X-Team", "value": "crm"}])
    );
    assert_eq!(created["rate_limit"], 50);
    assert_eq!(created["retry"]["max_attempts"], 3);

    let table = stdout_text(&client(&server, &["endpoint", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&table),
        [
            "ID",
            "URL",
            "ENABLED",
            "RENDERER",
            "ORDERING",
            "DESCRIPTION"
        ]
    );
    assert!(table.lines().nth(1).unwrap().starts_with(&id), "{table}");

    let updated = stdout_json(
        &client(
            &server,
            &[
                "endpoint",
                "update",
                &id,
                "--description",
                "status feed",
                "--disable",
                "--ordering",
                "endpoint",
            ],
        )
        .await,
    );
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["ordering"]["mode"], "endpoint");
    assert_eq!(updated["rate_limit"], 50, "untouched fields stay");
    let enabled = stdout_json(&client(&server, &["endpoint", "update", &id, "--enable"]).await);
    assert_eq!(enabled["enabled"], true);
    let record = stdout_text(&client(&server, &["endpoint", "get", &id, "-o", "table"]).await);
    assert!(
        record
            .lines()
            .any(|line| line.starts_with("description:") && line.ends_with("status feed")),
        "{record}"
    );
    assert!(
        record
            .lines()
            .any(|line| line.starts_with("retry.max_attempts:")),
        "nested fields as dotted keys: {record}"
    );

    let tested = stdout_json(&client(&server, &["endpoint", "test", &id]).await);
    assert_eq!(tested["response"]["status"], 200, "{tested}");
    receiver.wait_for(1, Duration::from_secs(10)).await;

    let token = server
        .create_source("wa-ep-cli", "gupshup", json!({}))
        .await;
    let (status, accepted) = ingest(&server, "wa-ep-cli", &token, delivered_report()).await;
    assert_eq!(status, 202, "{accepted}");
    receiver.wait_for(2, Duration::from_secs(10)).await;

    // The attempt is recorded just after the receiver answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let deliveries = loop {
        let listed = stdout_json(&client(&server, &["delivery", "list", &id]).await);
        if listed[0]["state"] == "succeeded" {
            break listed;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1));
    assert_eq!(deliveries[0]["event"], accepted["events"][0]["id"]);
    let msg_id = deliveries[0]["id"].as_str().unwrap().to_owned();
    let table = stdout_text(
        &client(
            &server,
            &[
                "delivery",
                "list",
                &id,
                "--state",
                "succeeded",
                "-o",
                "table",
            ],
        )
        .await,
    );
    assert_eq!(
        headers(&table),
        [
            "ID",
            "EVENT",
            "STATE",
            "ATTEMPTS",
            "LAST STATUS",
            "NEXT ATTEMPT",
            "LAST ERROR"
        ]
    );
    assert!(table.contains(&msg_id), "{table}");

    let detail = stdout_json(&client(&server, &["delivery", "get", &msg_id]).await);
    assert_eq!(detail["attempts"][0]["status"], 200, "{detail}");
    let record = stdout_text(&client(&server, &["delivery", "get", &msg_id, "-o", "table"]).await);
    let (fields, attempts) = record
        .split_once("\nattempts:\n")
        .expect("an attempts table");
    assert!(fields.contains("state:"), "{record}");
    assert_eq!(
        headers(attempts),
        ["#", "STARTED", "MS", "STATUS", "ERROR", "RESPONSE"]
    );
    assert_eq!(
        error_line(&client(&server, &["delivery", "retry", &msg_id]).await),
        format!(
            "wasmhook: POST /v1/deliveries/{msg_id}/retry: 409 conflict: delivery `{msg_id}` \
             succeeded; replay the endpoint to send it again"
        )
    );

    let replayed =
        stdout_json(&client(&server, &["endpoint", "replay", &id, "--since", "0"]).await);
    assert_eq!(replayed["queued"], 1);
    receiver.wait_for(3, Duration::from_secs(10)).await;

    let old_secret = stdout_json(&client(&server, &["endpoint", "secret", &id]).await);
    assert_eq!(old_secret["secret"], created["secret"]);
    let rotated = stdout_json(
        &client(
            &server,
            &[
                "endpoint",
                "rotate-secret",
                &id,
                "--grace-period-secs",
                "60",
            ],
        )
        .await,
    );
    assert_ne!(rotated["secret"], created["secret"]);
    assert_eq!(rotated["previous"].as_array().map(Vec::len), Some(1));

    let gone = client(&server, &["endpoint", "delete", &id]).await;
    assert!(gone.status.success() && gone.stdout.is_empty());
    assert!(String::from_utf8_lossy(&gone.stderr).contains(&format!("deleted endpoint `{id}`")));
    let missing = error_line(&client(&server, &["endpoint", "get", &id]).await);
    assert!(
        missing.starts_with(&format!(
            "wasmhook: GET /v1/endpoints/{id}: 404 not_found: "
        )),
        "{missing}"
    );
    let refused = error_line(
        &client(
            &server,
            &["endpoint", "create", "--url", "http://10.0.0.1/hooks"],
        )
        .await,
    );
    assert!(
        refused.starts_with("wasmhook: POST /v1/endpoints: 422 target_refused: url: "),
        "{refused}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_blocks_a_workflow_and_a_render() {
    let server = TestServer::start_with(|config| {
        config.allow_plain_http_blocks = true;
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    let resource = TestResource::start().await;
    resource.route(
        "/contacts",
        Answer::json(json!([{"id": 4217, "email": "ann@example.com"}])),
    );
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("crm-token");
    std::fs::write(&token_file, "crm-secret-token\n").unwrap();

    let connector = stdout_json(
        &client(
            &server,
            &[
                "connector",
                "create",
                "--name",
                "crm",
                "--kind",
                "bearer",
                "--secret",
                &format!("@{}", token_file.display()),
            ],
        )
        .await,
    );
    assert_eq!(
        connector["auth"],
        json!({"kind": "bearer", "secret_set": true})
    );
    let spare = stdout_json(
        &client(
            &server,
            &[
                "connector",
                "create",
                "--name",
                "spare",
                "--kind",
                "api-key",
                "--header",
                "X-Api-Key",
                "--secret",
                "k1",
            ],
        )
        .await,
    );
    assert_eq!(spare["auth"]["header"], "X-Api-Key");
    let changed = stdout_json(
        &client(
            &server,
            &["connector", "update", "spare", "--description", "unused"],
        )
        .await,
    );
    assert_eq!(changed["description"], "unused");
    assert_eq!(
        stdout_json(&client(&server, &["connector", "get", "crm"]).await)["id"],
        connector["id"]
    );
    let table = stdout_text(&client(&server, &["connector", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&table),
        ["ID", "NAME", "KIND", "DESCRIPTION", "UPDATED"]
    );
    assert_eq!(table.lines().count(), 3, "{table}");

    let config = json!({"method": "GET", "url": resource.url("/contacts?email=${email}"),
                        "connector": "crm"})
    .to_string();
    let block = stdout_json(
        &client(
            &server,
            &[
                "block",
                "create",
                "lookup",
                "--config",
                &config,
                "--description",
                "find the contact",
            ],
        )
        .await,
    );
    assert_eq!(block["plugin"], "http-block");
    let updated = stdout_json(
        &client(
            &server,
            &["block", "update", "lookup", "--description", "by email"],
        )
        .await,
    );
    assert_eq!(updated["description"], "by email");
    assert_eq!(updated["config"]["connector"], "crm", "the config stays");
    let table = stdout_text(&client(&server, &["block", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&table),
        ["NAME", "PLUGIN", "METHOD", "URL", "DELETED"]
    );
    assert!(
        table.lines().nth(1).unwrap().starts_with("lookup"),
        "{table}"
    );
    assert_eq!(
        stdout_json(&client(&server, &["block", "get", "lookup"]).await)["description"],
        "by email"
    );

    let event = r#"{"email": "ann@example.com"}"#;
    let invoked =
        stdout_json(&client(&server, &["block", "invoke", "lookup", "--event", event]).await);
    assert_eq!(invoked["ok"], true, "{invoked}");
    assert_eq!(invoked["data"]["lookup"][0]["id"], 4217);
    assert_eq!(
        resource.last_on("/contacts").header("authorization"),
        Some("Bearer crm-secret-token")
    );
    let tested =
        stdout_json(&client(&server, &["block", "test", "lookup", "--event", event]).await);
    assert_eq!(tested["response"]["status"], 200, "{tested}");

    let run = stdout_json(
        &client(
            &server,
            &[
                "workflow",
                "run",
                "lookup",
                "--event",
                event,
                "--data",
                r#"{"earlier": "given"}"#,
            ],
        )
        .await,
    );
    assert_eq!(run["ok"], true, "{run}");
    assert_eq!(run["data"]["earlier"], "given");
    assert_eq!(run["data"]["lookup"][0]["id"], 4217);
    let record = stdout_text(
        &client(
            &server,
            &["workflow", "run", "lookup", "--event", event, "-o", "table"],
        )
        .await,
    );
    let (_, steps) = record.split_once("\nsteps:\n").expect("a steps table");
    assert_eq!(headers(steps), ["BLOCK", "OK", "STATUS", "ERROR"]);
    assert!(
        steps.lines().nth(1).unwrap().starts_with("lookup"),
        "{record}"
    );

    let render = |output: &'static str| {
        let data = json!({"lookup": run["data"]["lookup"].clone()}).to_string();
        let server = &server;
        async move {
            client(
                server,
                &[
                    "render",
                    "--template",
                    "Contact {{ data.lookup[0].id }}",
                    "--format",
                    "text",
                    "--data",
                    &data,
                    "-o",
                    output,
                ],
            )
            .await
        }
    };
    let rendered = stdout_json(&render("json").await);
    assert_eq!(rendered["body"], "Contact 4217");
    assert!(
        rendered["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(stdout_text(&render("table").await), "Contact 4217\n");

    let in_use = error_line(&client(&server, &["connector", "delete", "crm"]).await);
    assert!(
        in_use.starts_with("wasmhook: DELETE /v1/connectors/crm: 409 conflict: "),
        "{in_use}"
    );
    assert!(
        client(&server, &["connector", "delete", "spare"])
            .await
            .status
            .success()
    );
    assert!(
        client(&server, &["block", "delete", "lookup"])
            .await
            .status
            .success()
    );
    let deleted = stdout_json(&client(&server, &["block", "list", "--deleted"]).await);
    assert_eq!(deleted[0]["name"], "lookup");
    let gone = error_line(&client(&server, &["block", "invoke", "lookup"]).await);
    assert!(
        gone.starts_with("wasmhook: POST /v1/blocks/lookup/invoke: 409 conflict: "),
        "{gone}"
    );
    let restored = stdout_json(&client(&server, &["block", "restore", "lookup"]).await);
    assert_eq!(restored["deleted_at"], Value::Null);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_callbacks_listed_and_retried_and_tables_by_request() {
    let server = TestServer::start().await;
    let token = server
        .create_source("wa-rej-cli", "gupshup", json!({}))
        .await;
    let broken = br#"{"app": "DemoAPI", "type": "message-event""#.to_vec();
    let (status, rejection) = ingest(&server, "wa-rej-cli", &token, broken).await;
    assert!((400..500).contains(&status), "{status} {rejection}");
    let rej_id = rejection["rejected_id"].as_str().expect("a rejected id");

    let listed = stdout_json(&client(&server, &["source", "rejected", "wa-rej-cli"]).await);
    assert_eq!(listed[0]["id"], rej_id);
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(listed[0]["attempts"], 1);
    let table = stdout_text(
        &client(
            &server,
            &[
                "source",
                "rejected",
                "wa-rej-cli",
                "--state",
                "pending",
                "-o",
                "table",
            ],
        )
        .await,
    );
    assert_eq!(
        headers(&table),
        ["ID", "RECEIVED", "STATE", "ATTEMPTS", "CODE", "DETAIL"]
    );
    assert!(table.lines().nth(1).unwrap().starts_with(rej_id), "{table}");

    // The mapper still fails: the retry is an error line, and counted.
    let retry = error_line(&client(&server, &["source", "retry", "wa-rej-cli", rej_id]).await);
    assert!(
        retry.starts_with(&format!(
            "wasmhook: POST /v1/sources/wa-rej-cli/rejected/{rej_id}/retry: 4"
        )) && retry.contains("retry_failed"),
        "{retry}"
    );
    let listed = stdout_json(&client(&server, &["source", "rejected", "wa-rej-cli"]).await);
    assert_eq!(listed[0]["attempts"], 2);

    // Tables for the commands that were JSON-only before.
    let (status, _) = ingest(&server, "wa-rej-cli", &token, delivered_report()).await;
    assert_eq!(status, 202);
    let events = stdout_text(&client(&server, &["event", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&events),
        ["ID", "SOURCE", "CHANNEL", "TYPE", "STATUS", "RECEIVED"]
    );
    assert!(events.contains("wa-rej-cli"), "{events}");
    let plugins = stdout_text(&client(&server, &["plugin", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&plugins),
        ["NAME", "WORLD", "ACTIVE", "LATEST", "OWNER", "UPDATED"]
    );
    let sources = stdout_text(&client(&server, &["source", "list", "-o", "table"]).await);
    assert_eq!(
        headers(&sources),
        ["NAME", "VENDOR", "MAPPER", "CHANNEL", "INGEST PATH"]
    );
    let plugin = stdout_text(&client(&server, &["plugin", "get", "gupshup", "-o", "table"]).await);
    assert!(plugin.contains("\nversions:\nVERSION"), "{plugin}");

    let gone = client(&server, &["source", "delete", "wa-rej-cli"]).await;
    assert!(gone.status.success(), "{gone:?}");
    assert_eq!(
        error_line(&client(&server, &["source", "get", "wa-rej-cli"]).await),
        "wasmhook: GET /v1/sources/wa-rej-cli: 404 not_found: no source named `wa-rej-cli`"
    );
    server.stop().await;
}
