//! A `multipart/form-data` callback: no mapper reads it (the SDK gives
//! mappers no multipart parser), so ingest refuses it with a 415 naming the
//! content type, before the body is read, and keeps nothing.

use serde_json::Value;
use wasmhook_tests::server::{TestServer, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_callback_is_refused_with_415_naming_its_content_type() {
    let server = TestServer::start().await;
    let token = server
        .create_source("mp", "gupshup", serde_json::json!({}))
        .await;
    let content_type = "multipart/form-data; boundary=XyZ";
    let body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\ndelivered\r\n--XyZ--\r\n";
    let response = server
        .client
        .post(server.url("/ingest/mp"))
        .header("x-wasmhook-token", &token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("ingest request");
    let (status, answer) = json_of(response).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{answer}"
    );
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains(content_type),
        "names the content type: {detail}"
    );
    assert!(detail.contains("multipart"), "{detail}");

    let (_, rejected) = server.get("/v1/sources/mp/rejected").await;
    assert_eq!(rejected, Value::Array(Vec::new()), "nothing kept");
    let (_, events) = server.get("/v1/events?source=mp").await;
    assert_eq!(events["data"], Value::Array(Vec::new()));
    server.stop().await;
}
