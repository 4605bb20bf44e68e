//! Layering, validation and the places errors name, through the real
//! command-line parser.

use std::path::Path;

use clap::Parser as _;

use super::*;
use crate::runtime::{Compiler, RuntimeConfig};

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// `wasmhook serve` with `given` parsed as its arguments.
fn args(given: &[&str]) -> ServeArgs {
    Cli::try_parse_from(std::iter::once("wasmhook").chain(given.iter().copied()))
        .unwrap()
        .serve
}

fn resolve(given: &[&str]) -> Result<ServeConfig, ConfigError> {
    args(given).resolve()
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The message of resolving `given`, which must fail.
fn failure(given: &[&str]) -> String {
    resolve(given).unwrap_err().to_string()
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wasmhook.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 4096\nplugin_timeout_ms = 50\n",
    )
    .unwrap();
    let config = resolve(&["--config", path(&file), "--listen", "127.0.0.1:9001"]).unwrap();
    assert_eq!(config.listen.port(), 9001);
    assert_eq!(config.max_body_bytes, 4096);
    assert_eq!(config.plugin_limits().timeout_ms, 50);
    assert_eq!(config.max_instances, RuntimeConfig::DEFAULT_MAX_INSTANCES);
}

#[test]
fn unknown_file_keys_and_bad_values_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listn = \"x\"\n").unwrap();
    let error = failure(&["--config", path(&file)]);
    assert!(
        error.contains("bad.toml") && error.contains("`listn` is no setting"),
        "{error}"
    );
    // Set in code only, so no key of the file either.
    std::fs::write(&file, "compile_in_process = true\n").unwrap();
    let error = failure(&["--config", path(&file)]);
    assert!(error.contains("compile_in_process"), "{error}");

    // A value of the wrong type names the file and the key.
    std::fs::write(&file, "max_body_bytes = \"big\"\n").unwrap();
    let error = failure(&["--config", path(&file)]);
    assert!(
        error.starts_with(&format!("config file {}: `max_body_bytes`", file.display())),
        "{error}"
    );

    let error = failure(&["--admin-token", "short"]);
    assert_eq!(
        error,
        "flag --admin-token: `admin_token` must be at least 16 characters"
    );
}

#[test]
fn compile_settings_layer_and_are_checked() {
    let defaults = resolve(&[]).unwrap();
    assert_eq!(defaults.compile_timeout_ms, 60_000);
    assert_eq!(defaults.compile_memory_bytes, 2 << 30);
    assert_eq!(defaults.compile_concurrency, 1);
    assert_eq!(defaults.max_plugin_functions, 100_000);
    assert_eq!(defaults.max_plugin_code_bytes, 16 << 20);
    // By default the server compiles with its own executable.
    let Compiler::Subprocess { program, .. } = defaults.compiler() else {
        panic!("the server compiles in a child process");
    };
    assert_eq!(program, std::env::current_exe().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compile.toml");
    let program = dir.path().join("wasmhook");
    std::fs::write(&program, "").unwrap();
    std::fs::write(
        &file,
        format!(
            "compile_timeout_ms = 5000\ncompile_memory_bytes = 1073741824\n\
             compile_concurrency = 2\nmax_plugin_functions = 500\n\
             max_plugin_code_bytes = 4096\ncompile_program = {:?}\n",
            program.display().to_string()
        ),
    )
    .unwrap();
    let config = resolve(&["--config", path(&file), "--compile-timeout-ms", "7000"]).unwrap();
    assert_eq!(
        config.compiler(),
        Compiler::Subprocess {
            program,
            timeout: std::time::Duration::from_millis(7000),
            memory_bytes: 1 << 30,
            concurrency: 2,
        }
    );
    let runtime = config.runtime_config();
    assert_eq!(runtime.budget.max_functions, 500);
    assert_eq!(runtime.budget.max_code_bytes, 4096);

    for (flag, value, field) in [
        ("--compile-timeout-ms", "0", "compile_timeout_ms"),
        ("--compile-memory-bytes", "1048576", "compile_memory_bytes"),
        ("--compile-concurrency", "0", "compile_concurrency"),
        ("--max-plugin-functions", "0", "max_plugin_functions"),
        (
            "--compile-program",
            "/nonexistent/wasmhook",
            "compile_program",
        ),
    ] {
        let error = failure(&[flag, value]);
        assert!(error.contains(field), "{error}");
    }
}

#[test]
fn the_sample_file_is_every_default() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasmhook.toml");
    let from_file = resolve(&["--config", path(&sample)]).expect("examples/wasmhook.toml resolves");
    let defaults = resolve(&[]).unwrap();
    // Debug output compares every field (the admin token is unset in both).
    assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    assert_eq!(
        format!("{defaults:?}"),
        format!("{:?}", ServeConfig::default())
    );
}

#[test]
fn an_out_of_range_value_names_the_file_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("limits.toml");
    std::fs::write(&file, "max_body_bytes = 10\nlog_json = true\n").unwrap();
    assert_eq!(
        failure(&["--config", path(&file)]),
        format!(
            "config file {}: `max_body_bytes` must be at least 1024",
            file.display()
        )
    );
    assert_eq!(
        failure(&["--config", path(&file), "--max-body-bytes", "20"]),
        "flag --max-body-bytes: `max_body_bytes` must be at least 1024"
    );

    // `log_json` in the file counts, and the bare flag means true.
    std::fs::write(&file, "log_json = true\n").unwrap();
    assert!(resolve(&["--config", path(&file)]).unwrap().log_json);
    assert!(resolve(&["--log-json"]).unwrap().log_json);
    assert!(
        !resolve(&["--config", path(&file), "--log-json=false"])
            .unwrap()
            .log_json
    );
}

#[test]
fn block_settings_layer_and_are_checked() {
    let defaults = resolve(&[]).unwrap();
    assert!(!defaults.allow_plain_http_blocks);
    assert_eq!(defaults.block_timeout_ms, 30_000);
    assert_eq!(defaults.block_max_response_bytes, 1 << 20);
    assert_eq!(defaults.plugin_limits().max_http_requests, 50);
    assert_eq!(defaults.plugin_limits().max_events, 5_000);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blocks.toml");
    std::fs::write(
        &file,
        "allow_plain_http_blocks = true\nblock_timeout_ms = 5000\nblock_max_response_bytes = 2048\n\
         block_max_requests = 5\nplugin_max_events = 100\n",
    )
    .unwrap();
    let config = resolve(&[
        "--config",
        path(&file),
        "--block-timeout-ms",
        "7000",
        "--plugin-max-events",
        "200",
    ])
    .unwrap();
    assert!(config.allow_plain_http_blocks);
    assert_eq!(config.block_timeout_ms, 7000);
    assert_eq!(config.block_max_response_bytes, 2048);
    assert_eq!(config.plugin_limits().max_http_requests, 5);
    assert_eq!(config.plugin_limits().max_events, 200);

    // The bare flag means true, and `=false` turns it off again.
    assert!(
        resolve(&["--allow-plain-http-blocks"])
            .unwrap()
            .allow_plain_http_blocks
    );
    assert!(
        !resolve(&["--config", path(&file), "--allow-plain-http-blocks=false"])
            .unwrap()
            .allow_plain_http_blocks
    );

    for (flag, value, field) in [
        ("--block-timeout-ms", "0", "block_timeout_ms"),
        (
            "--block-max-response-bytes",
            "10",
            "block_max_response_bytes",
        ),
        ("--block-max-requests", "0", "block_max_requests"),
        ("--block-max-requests", "1001", "block_max_requests"),
        ("--plugin-max-events", "0", "plugin_max_events"),
    ] {
        let error = failure(&[flag, value]);
        assert!(error.contains(field), "{error}");
    }
}

#[test]
fn connection_and_disk_settings_layer_and_are_checked() {
    let defaults = resolve(&[]).unwrap();
    assert_eq!(defaults.max_connections, 4096);
    assert_eq!(defaults.header_timeout_ms, 10_000);
    assert_eq!(defaults.body_timeout_ms, 60_000);
    assert_eq!(defaults.idle_timeout_ms, 60_000);
    assert_eq!(defaults.min_free_disk_bytes, 64 << 20);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conn.toml");
    std::fs::write(
        &file,
        "max_connections = 100\nheader_timeout_ms = 500\nbody_timeout_ms = 900\n\
         idle_timeout_ms = 700\nmin_free_disk_bytes = 2097152\n",
    )
    .unwrap();
    let config = resolve(&["--config", path(&file), "--idle-timeout-ms", "800"]).unwrap();
    assert_eq!(config.max_connections, 100);
    assert_eq!(config.header_timeout_ms, 500);
    assert_eq!(config.body_timeout_ms, 900);
    assert_eq!(config.idle_timeout_ms, 800);
    assert_eq!(config.min_free_disk_bytes, 2 << 20);

    for (flag, value, field) in [
        ("--max-connections", "0", "max_connections"),
        ("--header-timeout-ms", "0", "header_timeout_ms"),
        ("--body-timeout-ms", "3600001", "body_timeout_ms"),
        ("--idle-timeout-ms", "0", "idle_timeout_ms"),
        ("--min-free-disk-bytes", "1000", "min_free_disk_bytes"),
    ] {
        let error = failure(&[flag, value]);
        assert!(error.contains(field), "{error}");
    }
}

#[test]
fn database_settings_need_a_postgres_url_a_shared_token_and_a_lease_longer_than_an_attempt() {
    let defaults = resolve(&[]).unwrap();
    assert!(defaults.database_url.is_none());
    assert_eq!(defaults.database_pool_size, 16);
    assert_eq!(defaults.delivery_lease_ms, 30_000);

    let token = ["--admin-token", "a-token-of-16-chars-or-more"];
    let url = "postgres://wasmhook@127.0.0.1:5432/wasmhook";
    let config = resolve(&[&["--database-url", url][..], &token].concat()).unwrap();
    assert_eq!(config.database_url.unwrap().expose(), url);

    let error = failure(&[&["--database-url", "mysql://db/x"][..], &token].concat());
    assert!(
        error.contains("database_url") && error.contains("PostgreSQL URL"),
        "{error}"
    );
    let error = failure(&["--database-url", url]);
    assert!(
        error.contains("admin_token") && error.contains("every node"),
        "{error}"
    );
    let error = failure(&["--delivery-timeout-ms", "40000"]);
    assert!(error.contains("delivery_lease_ms"), "{error}");
    let error = failure(&["--database-pool-size", "0"]);
    assert!(error.contains("database_pool_size"), "{error}");
}

#[test]
fn every_setting_is_a_documented_flag_with_its_variable() {
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let mut settings = 0;
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let flag = arg.get_long().expect("every setting is a long flag");
        assert_eq!(flag, id.replace('_', "-"), "{id}");
        let variable = arg.get_env().expect("every setting has a variable");
        assert_eq!(
            variable.to_str(),
            Some(format!("WASMHOOK_{}", id.to_ascii_uppercase()).as_str()),
            "{id}"
        );
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        assert!(help.len() > 10, "--{flag} has no help");
        settings += 1;
    }
    // `--config` and every setting but `compile_in_process`, which is set
    // in code only.
    assert_eq!(settings, 40);
}
