//! Workflow webhook blocks end to end (issue 5, seed 001): the real server
//! runs the first-party `http-block` against a real local customer
//! resource — GET with params in the query or headers, POST bodies in
//! JSON/XML/text, responses parsed into data, chains through
//! `/v1/workflows/run`, and "Send test" with a stored event. Failures,
//! lifecycle and secrets are in the submodules.

mod errors;
mod lifecycle;
mod secrets;

use serde_json::{Value, json};
use wasmhook_tests::resource::{Answer, Parsed, TestResource};
use wasmhook_tests::server::TestServer;

/// A server whose blocks may call the loopback resources of the tests:
/// plain http allowed and 127.0.0.1 allowlisted.
pub(crate) async fn block_server() -> TestServer {
    TestServer::start_with(|config| {
        config.allow_plain_http_blocks = true;
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await
}

/// Creates a block; panics unless the server answers 201.
pub(crate) async fn create_block(server: &TestServer, body: Value) -> Value {
    let (status, created) = server.post("/v1/blocks", &body).await;
    assert_eq!(status, 201, "creating block {body}: {created}");
    created
}

/// Invokes a block; panics unless the server answers 200.
pub(crate) async fn invoke(server: &TestServer, name: &str, input: Value) -> Value {
    let (status, result) = server
        .post(&format!("/v1/blocks/{name}/invoke"), &input)
        .await;
    assert_eq!(status, 200, "invoking {name}: {result}");
    result
}

/// Invokes a block that must succeed and returns its data.
pub(crate) async fn invoke_ok(server: &TestServer, name: &str, input: Value) -> Value {
    let result = invoke(server, name, input).await;
    assert_eq!(result["ok"], true, "{name} failed: {result}");
    assert_eq!(result["error"], Value::Null, "{result}");
    result["data"][name].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_sends_params_in_the_query_or_in_headers() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource.route(
        "/contacts",
        Answer::json(json!([{"id": 42, "email": "ann+vip@example.com"}])),
    );
    let params = json!([
        {"name": "city", "value": "{{ contact.TOWN }}"},
        {"name": "source", "value": "wasmhook & co", "type": "text"},
        {"name": "phone", "value": "contact.phone", "type": "variable"}
    ]);
    create_block(
        &server,
        json!({"name": "contacts_get_by_email", "description": "find the contact",
               "config": {"method": "GET", "url": resource.url("/contacts?email=${email}"), "params": params}}),
    )
    .await;
    create_block(
        &server,
        json!({"name": "contacts_by_headers",
               "config": {"url": resource.url("/contacts?email=${email}"), "params": params,
                          "params_in_headers": true}}),
    )
    .await;
    let input = json!({
        "event": {"email": "ann+vip@example.com"},
        "contact": {"TOWN": "Kyiv", "phone": "+380501234567"}
    });

    let data = invoke_ok(&server, "contacts_get_by_email", input.clone()).await;
    assert_eq!(data[0]["id"], 42);
    let hit = resource.last_on("/contacts");
    assert_eq!(hit.method, "GET");
    assert_eq!(
        hit.query_pairs(),
        [
            ("email", "ann+vip@example.com"),
            ("city", "Kyiv"),
            ("source", "wasmhook & co"),
            ("phone", "+380501234567")
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(hit.header("city"), None);

    let data = invoke_ok(&server, "contacts_by_headers", input).await;
    assert_eq!(data[0]["email"], "ann+vip@example.com");
    let hit = resource.last_on("/contacts");
    assert_eq!(
        hit.query_param("email").as_deref(),
        Some("ann+vip@example.com")
    );
    assert_eq!(hit.query_param("city"), None, "{}", hit.query);
    assert_eq!(hit.header("city"), Some("Kyiv"));
    assert_eq!(hit.header("source"), Some("wasmhook & co"));
    assert_eq!(hit.header("phone"), Some("+380501234567"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_in_json_xml_and_text_reach_the_resource_parsed() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource.route("/promo", Answer::json(json!({"promocode": "SPRING-1"})));
    // Values that need escaping in each format.
    let town = r#"Kyiv & "Lviv" <north>"#;
    let bodies = [
        (
            "WH_json",
            json!({"format": "json", "template": r#"{"city": "{{ contact.TOWN }}", "email": "${email}", "n": {{ event.n }}}"#}),
        ),
        (
            "WH_xml",
            json!({"format": "xml", "template": "<request><city>{{ contact.TOWN }}</city><email>${email}</email></request>"}),
        ),
        (
            "WH_text",
            json!({"format": "text", "template": "city={{ contact.TOWN }}; email=${email}"}),
        ),
    ];
    for (name, body) in &bodies {
        create_block(
            &server,
            json!({"name": name, "config": {"method": "POST", "url": resource.url("/promo"), "body": body}}),
        )
        .await;
    }
    let input = json!({"event": {"email": "ann@example.com", "n": 7}, "contact": {"TOWN": town}});

    let data = invoke_ok(&server, "WH_json", input.clone()).await;
    assert_eq!(data["promocode"], "SPRING-1");
    let hit = resource.last_on("/promo");
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.header("content-type"), Some("application/json"));
    assert_eq!(
        hit.parsed,
        Parsed::Json(json!({"city": town, "email": "ann@example.com", "n": 7}))
    );

    invoke_ok(&server, "WH_xml", input.clone()).await;
    let hit = resource.last_on("/promo");
    assert_eq!(hit.header("content-type"), Some("application/xml"));
    let Parsed::Xml(xml) = &hit.parsed else {
        panic!("not parsed as XML: {:?}", hit.parsed);
    };
    assert_eq!(xml["request"]["city"], town, "{xml}");
    assert_eq!(xml["request"]["email"], "ann@example.com", "{xml}");

    invoke_ok(&server, "WH_text", input).await;
    let hit = resource.last_on("/promo");
    assert_eq!(
        hit.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        hit.parsed,
        Parsed::Text(format!("city={town}; email=ann@example.com"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_xml_and_text_responses_become_data() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource
        .route(
            "/json",
            Answer::json(json!({"promocode": "SPRING", "items": [{"id": 1}]})),
        )
        .route(
            "/xml",
            Answer::xml("<promo><code>XML-7</code><valid>true</valid></promo>"),
        )
        .route("/text", Answer::text("TOKEN-abc"))
        .route("/empty", Answer::typed("application/json", Vec::new()));
    for path in ["json", "xml", "text", "empty"] {
        create_block(
            &server,
            json!({"name": format!("r_{path}"), "config": {"url": resource.url(&format!("/{path}"))}}),
        )
        .await;
    }
    create_block(
        &server,
        json!({"name": "r_forced_text", "config": {"url": resource.url("/json"), "response_format": "text"}}),
    )
    .await;

    let json_data = invoke_ok(&server, "r_json", json!({})).await;
    assert_eq!(
        json_data,
        json!({"promocode": "SPRING", "items": [{"id": 1}]})
    );
    let xml_data = invoke_ok(&server, "r_xml", json!({})).await;
    assert_eq!(xml_data["promo"]["code"], "XML-7", "{xml_data}");
    assert_eq!(invoke_ok(&server, "r_text", json!({})).await, "TOKEN-abc");
    assert_eq!(invoke_ok(&server, "r_empty", json!({})).await, Value::Null);
    let forced = invoke_ok(&server, "r_forced_text", json!({})).await;
    assert_eq!(
        serde_json::from_str::<Value>(forced.as_str().expect("text")).expect("the raw JSON text"),
        json_data
    );

    // The summary of the call: request as sent, response status and time.
    let result = invoke(&server, "r_json", json!({})).await;
    assert_eq!(result["block"], "r_json");
    assert_eq!(result["request"]["method"], "GET");
    assert_eq!(result["request"]["url"], resource.url("/json"));
    assert_eq!(result["request"]["body"], Value::Null);
    assert_eq!(result["response"]["status"], 200);
    assert!(result["response"]["duration_ms"].is_u64(), "{result}");
    assert_eq!(result["requests"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_blocks_see_the_data_of_the_blocks_before_them() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource
        .route("/contacts", Answer::json(json!([{"id": 4242}])))
        .route(
            "/contacts/4242/promo",
            Answer::json(json!({"promocode": "WELCOME-4242"})),
        )
        .route("/broken", Answer::text("maintenance").with_status(503));
    create_block(
        &server,
        json!({"name": "contacts_get_by_email",
               "config": {"url": resource.url("/contacts?email=${email}")}}),
    )
    .await;
    create_block(
        &server,
        json!({"name": "WH5", "config": {"method": "POST",
               "url": resource.url("/contacts/{{ data.contacts_get_by_email[0].id }}/promo"),
               "body": {"format": "json", "template": r#"{"city": "${TOWN}", "seen": "{{ data.earlier }}"}"#}}}),
    )
    .await;
    create_block(
        &server,
        json!({"name": "broken", "config": {"url": resource.url("/broken")}}),
    )
    .await;
    let input = json!({"event": {"email": "ann@example.com"}, "contact": {"TOWN": "Odesa"},
                       "data": {"earlier": "given"}});

    let mut run = input.clone();
    run["blocks"] = json!(["contacts_get_by_email", "WH5"]);
    let (status, result) = server.post("/v1/workflows/run", &run).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["failed_block"], Value::Null);
    assert_eq!(result["data"]["earlier"], "given");
    assert_eq!(result["data"]["contacts_get_by_email"][0]["id"], 4242);
    assert_eq!(result["data"]["WH5"]["promocode"], "WELCOME-4242");
    let steps = result["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["block"], "WH5");
    assert_eq!(
        steps[1]["request"]["url"],
        resource.url("/contacts/4242/promo")
    );
    let hit = resource.last_on("/contacts/4242/promo");
    assert_eq!(
        hit.parsed,
        Parsed::Json(json!({"city": "Odesa", "seen": "given"}))
    );

    // A failure stops the chain and is named; the data so far is kept.
    let mut run = input;
    run["blocks"] = json!(["contacts_get_by_email", "broken", "WH5"]);
    let before = resource.hits_on("/contacts/4242/promo").len();
    let (status, result) = server.post("/v1/workflows/run", &run).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["ok"], false);
    assert_eq!(result["failed_block"], "broken");
    assert_eq!(result["steps"].as_array().map(Vec::len), Some(2));
    assert_eq!(result["steps"][1]["error"]["code"], "upstream_status");
    assert_eq!(result["steps"][1]["error"]["status"], 503);
    assert_eq!(result["data"]["contacts_get_by_email"][0]["id"], 4242);
    assert!(result["data"].get("broken").is_none(), "{result}");
    assert_eq!(resource.hits_on("/contacts/4242/promo").len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_with_a_stored_event_shows_the_exact_request_and_the_raw_response() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    let raw = "{\"promocode\":  \"TEST-1\",\n \"note\": \"raw spacing kept\"}";
    resource.route(
        "/promo",
        Answer::typed("application/json", raw.as_bytes().to_vec()),
    );
    let (status, connector) = server
        .post(
            "/v1/connectors",
            &json!({"name": "crm-token", "auth": {"kind": "bearer", "token": "tok-SEND-TEST-secret"}}),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    create_block(
        &server,
        json!({"name": "WH5", "config": {"method": "POST", "url": resource.url("/promo?to=${channel_value}"),
               "connector": "crm-token", "headers": {"X-Event": "{{ event.id }}"},
               "body": {"format": "json", "template": r#"{"to": "{{ event.channel_value }}", "status": "{{ status.status }}"}"#}}}),
    )
    .await;
    let (status, published) = server
        .post(
            "/v1/events",
            &json!({"event_type": "status", "channel": "sms", "channel_value": "+15555550100",
                    "status": {"status": "delivered", "timestamp": 1_672_310_923_000_i64}}),
        )
        .await;
    assert_eq!(status, 202, "{published}");
    let event_id = published["events"][0]["id"].as_str().expect("event id");

    let (status, test) = server
        .post("/v1/blocks/WH5/test", &json!({"event_id": event_id}))
        .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["data"]["WH5"]["promocode"], "TEST-1");
    assert_eq!(test["response"]["status"], 200);
    assert_eq!(test["response"]["body"], raw);
    let content_type = test["response"]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .find(|pair| pair[0] == "content-type")
        .map(|pair| pair[1].clone());
    assert_eq!(content_type, Some(json!("application/json")));

    // The request shown is the one the resource got, the secret masked.
    let hit = resource.last_on("/promo");
    let request = &test["request"];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], resource.url("/promo?to=%2B15555550100"));
    assert_eq!(
        request["body"].as_str().expect("body"),
        std::str::from_utf8(&hit.body).expect("utf-8")
    );
    assert_eq!(
        hit.parsed,
        Parsed::Json(json!({"to": "+15555550100", "status": "delivered"}))
    );
    let headers = request["headers"].as_array().expect("headers");
    assert!(
        headers.contains(&json!(["authorization", "***"])),
        "{headers:?}"
    );
    assert!(
        headers.contains(&json!(["X-Event", event_id])),
        "{headers:?}"
    );
    assert_eq!(hit.header("x-event"), Some(event_id));
    assert_eq!(
        hit.header("authorization"),
        Some("Bearer tok-SEND-TEST-secret")
    );
    assert!(!test.to_string().contains("tok-SEND-TEST-secret"), "{test}");

    // An event typed by hand works the same way.
    let (status, test) = server
        .post(
            "/v1/blocks/WH5/test",
            &json!({"event": {"id": "typed", "channel_value": "+1999", "status": {"status": "read"}}}),
        )
        .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(
        resource.last_on("/promo").parsed,
        Parsed::Json(json!({"to": "+1999", "status": "read"}))
    );
}
