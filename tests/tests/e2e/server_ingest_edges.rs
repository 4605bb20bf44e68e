//! Ingest at its edges, as vendors really call it: a `?token=` beside the
//! vendor's own `Authorization` header, unknown sources that answer exactly
//! like wrong tokens (names cannot be probed), and gzip- or
//! deflate-encoded callbacks, decoded within the size cap and a ratio cap.

use std::io::Write;

use serde_json::json;
use wasmhook_tests::server::{TestServer, json_of};

use crate::harness::fixtures_dir;

fn delivered() -> Vec<u8> {
    std::fs::read(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
        .expect("gupshup fixture")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_token_is_accepted_beside_the_vendors_own_authorization_header() {
    let server = TestServer::start().await;
    let token = server.create_source("gs", "gupshup", json!({})).await;
    for authorization in [
        "Bearer vendor-signing-key-123",
        "Basic dmVuZG9yOnNlY3JldA==",
    ] {
        let response = server
            .client
            .post(server.url(&format!("/ingest/gs?token={token}")))
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .body(delivered())
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 202, "{authorization}: {body}");
    }
    // The token as the bearer still works, and a wrong one everywhere fails.
    let response = server
        .client
        .post(server.url("/ingest/gs"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(delivered())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let response = server
        .client
        .post(server.url("/ingest/gs?token=wrong-token-0123456789"))
        .bearer_auth("also-wrong-0123456789")
        .header("content-type", "application/json")
        .body(delivered())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_source_answers_exactly_like_a_wrong_token() {
    let server = TestServer::start().await;
    server.create_source("known", "gupshup", json!({})).await;
    let answer = |source: &'static str, token: Option<&'static str>| {
        let mut request = server
            .client
            .post(server.url(&format!("/ingest/{source}")))
            .header("content-type", "application/json")
            .body(delivered());
        if let Some(token) = token {
            request = request.header("x-wasmhook-token", token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let wrong_token = Some("not-the-token-0123456789");
    assert_eq!(
        answer("known", wrong_token).await,
        answer("unknown", wrong_token).await
    );
    assert_eq!(answer("known", None).await, answer("unknown", None).await);
    assert_eq!(answer("unknown", wrong_token).await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_callbacks_are_decoded_and_bombs_refused() {
    let server = TestServer::start().await;
    let token = server.create_source("gz", "gupshup", json!({})).await;
    let post = |body: Vec<u8>, encoding: &'static str| {
        server
            .client
            .post(server.url("/ingest/gz"))
            .header("x-wasmhook-token", &token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };

    let (status, body) = json_of(post(gzip(&delivered()), "gzip").await.unwrap()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    let (_, events) = server.get("/v1/events?source=gz").await;
    assert_eq!(
        events["data"][0]["status"]["status"], "delivered",
        "{events}"
    );

    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(&delivered()).unwrap();
    let (status, body) = json_of(post(zlib.finish().unwrap(), "deflate").await.unwrap()).await;
    assert_eq!(status, 202, "{body}");

    // 8 MiB of one byte, compressed to a few KiB: refused, not inflated.
    let bomb = gzip(&vec![b' '; 8 << 20]);
    let (status, body) = json_of(post(bomb, "gzip").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let (status, body) = json_of(post(b"x".to_vec(), "br").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_encoding")),
        "{body}"
    );
    let (status, body) = json_of(post(b"not gzip".to_vec(), "gzip").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_encoding")),
        "{body}"
    );
    server.stop().await;
}
