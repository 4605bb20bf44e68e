//! `wasmhook tenant|key|audit` and `--tenant` as an operator and a
//! customer run them: the operator creates a tenant and a key, acts inside
//! the tenant with `--tenant` (and `WASMHOOK_TENANT`), the customer's key
//! sees its tenant's records only, a disabled tenant's and a revoked key's
//! requests are refused with a line that says so, the audit log shows who
//! did what, and bad input is named by its flag before any request.

use std::process::Output;

use serde_json::Value;
use wasmhook_tests::server::TestServer;

use super::{client, error_line, stdout_json, wasmhook};

/// Runs a client command against `server` with a tenant's key.
async fn with_key(server: &TestServer, key: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--server", &server.base, "--token", key]);
    wasmhook(&all).await
}

/// The names in a list of records.
fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|record| record["name"].as_str().expect("a name"))
        .collect()
}

/// What clap printed for a command line it refused (exit code 2).
fn usage_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lets_a_customer_in_and_out_again() {
    let server = TestServer::start().await;

    // The operator creates the tenant with quotas, and a key for it.
    let acme = stdout_json(
        &client(
            &server,
            &[
                "tenant",
                "create",
                "acme",
                "--display-name",
                "Acme Corp",
                "--max-sources",
                "2",
                "--ingest-per-second",
                "5",
            ],
        )
        .await,
    );
    assert_eq!(acme["name"], "acme");
    assert_eq!(acme["display_name"], "Acme Corp");
    assert_eq!(acme["quotas"]["max_sources"], 2);
    assert_eq!(acme["quotas"]["ingest_per_second"], 5);
    assert_eq!(acme["usage"]["sources"], 0);
    assert_eq!(
        names(&stdout_json(&client(&server, &["tenant", "list"]).await)),
        ["acme", "default"]
    );

    let created = client(
        &server,
        &[
            "key", "create", "--tenant", "acme", "--name", "ci", "--scope", "read", "--scope",
            "write",
        ],
    )
    .await;
    let created_key = stdout_json(&created);
    let key = created_key["key"].as_str().expect("the secret").to_owned();
    let key_id = created_key["id"].as_str().expect("a key id").to_owned();
    assert!(key.starts_with("whk_"), "{created_key}");
    assert_eq!(created_key["scopes"], serde_json::json!(["read", "write"]));
    let notice = String::from_utf8_lossy(&created.stderr);
    assert!(
        notice.contains(&format!("created key `ci` ({key_id}) for tenant `acme`"))
            && notice.contains("store it now; it is not shown again"),
        "{notice}"
    );
    let keys = stdout_json(&client(&server, &["key", "list", "--tenant", "acme"]).await);
    assert_eq!(keys[0]["id"], key_id.as_str());
    assert!(
        keys[0].get("key").is_none() && key.starts_with(keys[0]["hint"].as_str().unwrap()),
        "listed without the secret: {keys}"
    );

    // The customer's key sees its own, empty tenant.
    let sources = stdout_json(&with_key(&server, &key, &["source", "list"]).await);
    assert_eq!(sources, Value::Array(Vec::new()));

    // The operator acts inside the tenant: with --tenant, and with
    // WASMHOOK_TENANT.
    let source = stdout_json(
        &client(
            &server,
            &[
                "source", "create", "--name", "acme-wa", "--mapper", "gupshup", "--tenant", "acme",
            ],
        )
        .await,
    );
    assert_eq!(source["name"], "acme-wa");
    let by_env = tokio::process::Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .args(["source", "list", "--server", &server.base])
        .env("WASMHOOK_TOKEN", wasmhook_tests::server::ADMIN_TOKEN)
        .env("WASMHOOK_TENANT", "acme")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .await
        .expect("wasmhook runs");
    assert_eq!(names(&stdout_json(&by_env)), ["acme-wa"]);
    assert!(
        names(&stdout_json(&client(&server, &["source", "list"]).await)).is_empty(),
        "the default tenant does not see acme's source"
    );

    // The key now sees it, and its own tenant's usage.
    assert_eq!(
        names(&stdout_json(
            &with_key(&server, &key, &["source", "list"]).await
        )),
        ["acme-wa"]
    );
    let own = stdout_json(&with_key(&server, &key, &["tenant", "get"]).await);
    assert_eq!(own["name"], "acme");
    assert_eq!(own["usage"]["sources"], 1);
    let operator_only = error_line(&with_key(&server, &key, &["tenant", "list"]).await);
    assert!(
        operator_only.starts_with("wasmhook: GET /v1/tenants: 403 operator_only: "),
        "{operator_only}"
    );

    // A quota flag changes that quota and keeps the others.
    let updated = stdout_json(
        &client(
            &server,
            &[
                "tenant",
                "update",
                "acme",
                "--max-endpoints",
                "3",
                "--ingest-per-second",
                "unlimited",
                "--allow-private-plugins",
            ],
        )
        .await,
    );
    assert_eq!(updated["quotas"]["max_sources"], 2, "{updated}");
    assert_eq!(updated["quotas"]["max_endpoints"], 3);
    assert_eq!(updated["quotas"]["ingest_per_second"], Value::Null);
    assert_eq!(updated["allow_private_plugins"], true);

    // Disabled, the tenant's key is refused; enabled, it works again.
    let disabled = stdout_json(&client(&server, &["tenant", "disable", "acme"]).await);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(
        error_line(&with_key(&server, &key, &["source", "list"]).await),
        "wasmhook: GET /v1/sources: 403 tenant_disabled: tenant `acme` is disabled; ask the \
         operator"
    );
    let enabled = stdout_json(&client(&server, &["tenant", "enable", "acme"]).await);
    assert_eq!(enabled["disabled"], false);
    stdout_json(&with_key(&server, &key, &["source", "list"]).await);

    // The audit log: the operator's changes and the key's use, as the
    // operator sees it in the tenant and as the key sees it.
    let log = stdout_json(&client(&server, &["audit", "--tenant", "acme"]).await);
    let actions: Vec<&str> = log["data"]
        .as_array()
        .expect("a page of entries")
        .iter()
        .map(|entry| entry["action"].as_str().expect("an action"))
        .collect();
    for action in [
        "tenant.create",
        "key.create",
        "source.create",
        "key.used",
        "tenant.update",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let used = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "key.used")
        .expect("the key's use");
    assert_eq!(used["actor"]["kind"], "key");
    assert_eq!(used["actor"]["name"], "ci");
    let page = stdout_json(&with_key(&server, &key, &["audit", "--limit", "2"]).await);
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2), "{page}");
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let next = stdout_json(&with_key(&server, &key, &["audit", "--cursor", cursor]).await);
    let first_ids: Vec<&Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert!(
        !first_ids.contains(&&next["data"][0]["id"]),
        "the next page starts after the first: {next}"
    );
    let table = String::from_utf8(
        client(&server, &["audit", "--tenant", "acme", "-o", "table"])
            .await
            .stdout,
    )
    .unwrap();
    assert!(
        table.starts_with("AT") && table.contains("tenant.create"),
        "{table}"
    );

    // Revoked, the key is refused with a line that says why.
    let revoked =
        stdout_json(&client(&server, &["key", "revoke", &key_id, "--tenant", "acme"]).await);
    assert!(revoked["revoked_at"].is_u64(), "{revoked}");
    assert_eq!(
        error_line(&with_key(&server, &key, &["source", "list"]).await),
        "wasmhook: GET /v1/sources: 401 unauthorized: the API key is unknown or revoked \
         (check --token or WASMHOOK_TOKEN)"
    );

    // Deleted (soft) and restored.
    let deleted = client(&server, &["tenant", "delete", "acme"]).await;
    assert!(deleted.status.success() && deleted.stdout.is_empty());
    assert!(String::from_utf8_lossy(&deleted.stderr).contains("deleted tenant `acme`"));
    assert_eq!(
        names(&stdout_json(
            &client(&server, &["tenant", "list", "--deleted"]).await
        )),
        ["acme"]
    );
    let restored = stdout_json(&client(&server, &["tenant", "restore", "acme"]).await);
    assert_eq!(restored["deleted_at"], Value::Null);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tenant_input_is_named_by_its_flag() {
    let server = TestServer::start().await;
    stdout_json(&client(&server, &["tenant", "create", "acme"]).await);

    let scope = usage_error(
        &client(
            &server,
            &[
                "key", "create", "--tenant", "acme", "--name", "ci", "--scope", "admin",
            ],
        )
        .await,
    );
    assert!(
        scope.contains("invalid value 'admin' for '--scope <SCOPE>'")
            && scope.contains("read, write, deliveries, blocks"),
        "{scope}"
    );
    let name = usage_error(&client(&server, &["tenant", "create", "Acme Corp"]).await);
    assert!(
        name.contains("invalid value 'Acme Corp' for '<NAME>'")
            && name.contains("is not a valid name"),
        "{name}"
    );
    let tenant = usage_error(&client(&server, &["source", "list", "--tenant", "ACME"]).await);
    assert!(
        tenant.contains("for '--tenant <NAME>'") && tenant.contains("is not a valid name"),
        "{tenant}"
    );
    let limit = usage_error(
        &client(
            &server,
            &["tenant", "update", "acme", "--max-sources", "lots"],
        )
        .await,
    );
    assert!(
        limit.contains("for '--max-sources <N>'") && limit.contains("`unlimited`"),
        "{limit}"
    );

    assert_eq!(
        error_line(&client(&server, &["key", "list"]).await),
        "wasmhook: invalid --tenant: required: the tenant whose keys these are (or set \
         WASMHOOK_TENANT; `--tenant default` for the default tenant)"
    );
    assert_eq!(
        error_line(&client(&server, &["source", "list", "--tenant", "nope"]).await),
        "wasmhook: GET /v1/sources: 404 not_found: x-wasmhook-tenant: no tenant named `nope` \
         (the tenant is --tenant or WASMHOOK_TENANT)"
    );
    let zero = error_line(
        &client(
            &server,
            &["tenant", "update", "acme", "--plugin-share", "0"],
        )
        .await,
    );
    assert!(
        zero.starts_with("wasmhook: PATCH /v1/tenants/acme: 4")
            && zero.contains("quotas.plugin_share"),
        "{zero}"
    );
    let taken = error_line(&client(&server, &["tenant", "create", "acme"]).await);
    assert!(
        taken.starts_with("wasmhook: POST /v1/tenants: 409 "),
        "{taken}"
    );
    let nothing = error_line(&client(&server, &["tenant", "update", "acme"]).await);
    assert!(nothing.contains("nothing to change"), "{nothing}");
    server.stop().await;
}
