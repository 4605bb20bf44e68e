//! A block's life: create, read, replace, soft delete (it leaves the list
//! and can no longer run, but is listed with `?deleted=true`), restore; and
//! the plugin and connector a block names cannot be deleted under it.

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::TestServer;

use super::errors::put;
use super::{block_server, create_block, invoke_ok};

async fn delete(server: &TestServer, path: &str) -> (u16, Value) {
    wasmhook_tests::server::json_of(
        server
            .admin(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE"),
    )
    .await
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|block| block["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_delete_lists_deleted_blocks_and_restore_brings_one_back() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource
        .route("/promo", Answer::json(json!({"promocode": "P1"})))
        .route("/v2/promo", Answer::json(json!({"promocode": "P2"})));
    let created = create_block(
        &server,
        json!({"name": "WH5", "description": "promo code", "config": {"url": resource.url("/promo")}}),
    )
    .await;
    assert_eq!(created["plugin"], "http-block");
    assert_eq!(created["description"], "promo code");
    assert_eq!(created["deleted_at"], Value::Null);
    assert_eq!(created["created_at"], created["updated_at"]);
    create_block(
        &server,
        json!({"name": "Other_1", "config": {"url": resource.url("/promo")}}),
    )
    .await;
    let (_, got) = server.get("/v1/blocks/WH5").await;
    assert_eq!(got, created);
    let (_, list) = server.get("/v1/blocks").await;
    assert_eq!(names(&list), ["Other_1", "WH5"]);

    let (status, replaced) = put(
        &server,
        "/v1/blocks/WH5",
        &json!({"name": "WH5", "config": {"url": resource.url("/v2/promo")}}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["description"], Value::Null);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        invoke_ok(&server, "WH5", json!({})).await["promocode"],
        "P2"
    );

    let (status, _) = delete(&server, "/v1/blocks/WH5").await;
    assert_eq!(status, 204);
    let (_, list) = server.get("/v1/blocks").await;
    assert_eq!(names(&list), ["Other_1"]);
    let (status, deleted) = server.get("/v1/blocks?deleted=true").await;
    assert_eq!(status, 200);
    assert_eq!(names(&deleted), ["WH5"]);
    assert!(deleted[0]["deleted_at"].is_u64(), "{deleted}");
    let (status, got) = server.get("/v1/blocks/WH5").await;
    assert_eq!(status, 200);
    assert!(got["deleted_at"].is_u64(), "{got}");

    // A deleted block does not run, cannot be edited or deleted again, and
    // keeps its name.
    for path in ["/v1/blocks/WH5/invoke", "/v1/blocks/WH5/test"] {
        let (status, error) = server.post(path, &json!({})).await;
        assert_eq!(status, 409, "{path}: {error}");
        assert!(
            error["detail"].as_str().unwrap().contains("restore"),
            "{error}"
        );
    }
    let (status, error) = server
        .post("/v1/workflows/run", &json!({"blocks": ["Other_1", "WH5"]}))
        .await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["detail"].as_str().unwrap().starts_with("blocks[1]"),
        "{error}"
    );
    let (status, _) = put(
        &server,
        "/v1/blocks/WH5",
        &json!({"config": {"url": resource.url("/promo")}}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = delete(&server, "/v1/blocks/WH5").await;
    assert_eq!(status, 409);
    let (status, error) = server
        .post(
            "/v1/blocks",
            &json!({"name": "WH5", "config": {"url": resource.url("/promo")}}),
        )
        .await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("restore"),
        "{error}"
    );

    let (status, restored) = server.post("/v1/blocks/WH5/restore", &json!({})).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["deleted_at"], Value::Null);
    assert_eq!(restored["config"], replaced["config"]);
    let (_, list) = server.get("/v1/blocks").await;
    assert_eq!(names(&list), ["Other_1", "WH5"]);
    let (_, deleted) = server.get("/v1/blocks?deleted=true").await;
    assert_eq!(names(&deleted), Vec::<&str>::new());
    assert_eq!(
        invoke_ok(&server, "WH5", json!({})).await["promocode"],
        "P2"
    );
    let (status, _) = server.post("/v1/blocks/WH5/restore", &json!({})).await;
    assert_eq!(status, 409);
    let (status, _) = server.post("/v1/blocks/nope/restore", &json!({})).await;
    assert_eq!(status, 404);
    let (status, error) = server.get("/v1/blocks?deleted=maybe").await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_and_connector_of_a_block_cannot_be_deleted_under_it() {
    let server = block_server().await;
    let (status, _) = server
        .post(
            "/v1/connectors",
            &json!({"name": "crm", "auth": {"kind": "api_key", "header": "X-Api-Key", "value": "k-123"}}),
        )
        .await;
    assert_eq!(status, 201);
    create_block(
        &server,
        json!({"name": "WH5", "config": {"url": "https://crm.example/x", "connector": "crm"}}),
    )
    .await;
    let (status, _) = delete(&server, "/v1/blocks/WH5").await;
    assert_eq!(status, 204);

    // Even deleted, the block may be restored, so it still counts.
    let (status, error) = delete(&server, "/v1/connectors/crm").await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("block `WH5` (deleted)"),
        "{error}"
    );
    let (status, error) = delete(&server, "/v1/plugins/http-block").await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("block `WH5`"),
        "{error}"
    );
    // Blocks name their connector, so renaming it is refused the same way.
    let (status, error) = wasmhook_tests::server::json_of(
        server
            .admin(Method::PATCH, "/v1/connectors/crm")
            .json(&json!({"name": "crm-renamed"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("`WH5`"),
        "{error}"
    );

    // Once the block no longer names the connector, it can go.
    let (status, _) = server.post("/v1/blocks/WH5/restore", &json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = put(
        &server,
        "/v1/blocks/WH5",
        &json!({"config": {"url": "https://crm.example/x"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, error) = delete(&server, "/v1/connectors/crm").await;
    assert_eq!(status, 204, "{error}");
}
