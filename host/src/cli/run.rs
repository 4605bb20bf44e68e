//! `wasmhook plugin run`: load a component, call it once on an input file,
//! print the result on stdout and the call's stats and logs on stderr.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};
use wasmhook_sdk::{BodyFormat, RenderRequest};

use super::error::CliError;
use super::format::{log_line, stats_line};
use super::http::ReqwestHttp;
use super::input::{block_input, callback, json_arg, read};
use super::progress::Progress;
use super::{FormatArg, RunArgs, runtime};
use crate::runtime::{
    CallOutcome, DenyAllHttp, HttpHandler, LimitsOverride, Plugin, PluginId, Runtime, World,
};

/// Runs the plugin once; a plugin failure is reported (with its logs) and
/// turned into a non-zero exit.
pub(super) fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    let runtime = runtime(&args.cache)?;
    let bytes = read(&args.wasm)?;
    let config = json_arg("--config", &args.config)?;
    let plugin_config = json_arg("--plugin-config", &args.plugin_config)?;
    let limits = LimitsOverride {
        timeout_ms: args.timeout_ms,
        memory_bytes: args.memory_bytes,
        ..LimitsOverride::default()
    };
    let plugin = {
        // Compiling takes seconds the first time (later runs hit the cache).
        let _progress = Progress::start(format!("compiling {} …", args.wasm.display()));
        runtime.load(plugin_id(&args.wasm), &bytes, &limits, &plugin_config)
    }
    .map_err(|source| CliError::Load {
        path: args.wasm.clone(),
        source,
    })?;
    let input = match &args.input {
        Some(path) => read(path)?,
        None => Vec::new(),
    };
    // Renderers and blocks have no query string to fall back on.
    let input_path = || {
        args.input.as_deref().ok_or_else(|| CliError::Arg {
            arg: "--input",
            detail: format!("a {} needs --input", plugin.world()),
        })
    };

    let outcome: CallOutcome<Value> = match plugin.world() {
        World::Mapper => {
            let callback = callback(args.input.as_deref(), &args.callback, input)?;
            map_value(plugin.map_outcome(&callback, &config), |mapped| {
                serde_json::to_value(mapped).unwrap_or(Value::Null)
            })
        }
        World::Renderer => {
            let path = input_path()?;
            let data = serde_json::from_slice(&input).map_err(|error| CliError::Arg {
                arg: "--input",
                detail: format!("{} is not JSON: {error}", path.display()),
            })?;
            let template = match &args.template {
                Some(path) => Some(String::from_utf8_lossy(&read(path)?).into_owned()),
                None => None,
            };
            let request = RenderRequest {
                template,
                format: body_format(args.format),
                data,
                config,
            };
            map_value(plugin.render_outcome(&request), |rendered| {
                json!({
                    "content_type": rendered.content_type,
                    "body": String::from_utf8_lossy(&rendered.body),
                })
            })
        }
        World::Block => {
            let input = block_input(input_path()?, &input)?;
            let http: Arc<dyn HttpHandler> = if args.allow_http {
                Arc::new(ReqwestHttp::new())
            } else {
                Arc::new(DenyAllHttp)
            };
            plugin.run_block_outcome(&input, &config, http)
        }
    };

    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{}", stats_line(&outcome.stats))?;
    for (level, message) in &outcome.stats.logs {
        writeln!(stderr, "{}", log_line(*level, message))?;
    }
    let value = outcome.result.map_err(|source| CliError::Call {
        path: args.wasm.clone(),
        source,
    })?;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &value).map_err(std::io::Error::from)?;
    writeln!(stdout)?;
    Ok(ExitCode::SUCCESS)
}

fn map_value<T>(outcome: CallOutcome<T>, to_json: impl FnOnce(T) -> Value) -> CallOutcome<Value> {
    CallOutcome {
        result: outcome.result.map(to_json),
        stats: outcome.stats,
    }
}

/// Reads and compiles the component at `wasm` with the default limits and
/// no plugin config (what `plugin test` and `plugin replay` run), showing
/// progress while it compiles.
pub(super) fn load_local(runtime: &Runtime, wasm: &Path) -> Result<Plugin, CliError> {
    let bytes = read(wasm)?;
    let _progress = Progress::start(format!("compiling {} …", wasm.display()));
    runtime
        .load(
            plugin_id(wasm),
            &bytes,
            &LimitsOverride::default(),
            &Value::Object(Default::default()),
        )
        .map_err(|source| CliError::Load {
            path: wasm.to_owned(),
            source,
        })
}

/// A local file has no registry name: use the file stem, version `local`.
pub(super) fn plugin_id(path: &Path) -> PluginId {
    let name = path
        .file_stem()
        .map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned());
    PluginId::new(name, "local")
}

fn body_format(format: FormatArg) -> BodyFormat {
    match format {
        FormatArg::Json => BodyFormat::Json,
        FormatArg::Xml => BodyFormat::Xml,
        FormatArg::Text => BodyFormat::Text,
        FormatArg::Form => BodyFormat::Form,
    }
}
