//! `wasmhook plugin invoke`: a dry run of a plugin on a server (`POST
//! /v1/plugins/{name}/invoke`), any of its versions, on an input file
//! shaped as the plugin's world takes it: the result on stdout, the call's
//! time, memory and logs on stderr, nothing stored. A mapper's input file
//! is the callback body (or a GET's query); a renderer's and a block's is
//! their JSON input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::ClientArgs;
use super::api_client::ApiClient;
use crate::cli::CallbackArgs;
use crate::cli::error::CliError;
use crate::cli::input::{callback, json_arg, read};

/// Arguments of `wasmhook plugin invoke`.
#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// The plugin's name on the server.
    pub name: String,
    /// The version to run [default: the active one].
    #[arg(long)]
    pub version: Option<u32>,
    /// Mapper: the callback body. Renderer: `{template, format, data}`;
    /// block: `{event, contact, data}` (JSON).
    #[arg(long, short, required_unless_present = "query")]
    pub input: Option<PathBuf>,
    /// How the callback arrives (mappers).
    #[command(flatten)]
    pub callback: CallbackArgs,
    /// The config the plugin is called with (a source's mapper config, an
    /// endpoint's renderer config): JSON or `@file`.
    #[arg(long)]
    pub config: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs the plugin on the server; exit code 1 when the plugin failed.
pub fn plugin_invoke(args: &InvokeArgs) -> Result<ExitCode, CliError> {
    let server = ApiClient::connect(&args.client)?;
    let plugin = server.get(&["v1", "plugins", &args.name], &[])?;
    let world = plugin["world"]
        .as_str()
        .or_else(|| plugin["plugin"]["world"].as_str())
        .unwrap_or("mapper")
        .to_owned();
    let input = match (&args.input, world.as_str()) {
        (input, "mapper") => {
            let body = match input {
                Some(path) => read(path)?,
                None => Vec::new(),
            };
            let callback = callback(input.as_deref(), &args.callback, body)?;
            json!({
                "method": callback.method,
                "headers": callback.headers,
                "query": callback.query,
                "content_type": callback.content_type,
                "body": String::from_utf8_lossy(&callback.body),
            })
        }
        (Some(path), _) => serde_json::from_slice(&read(path)?).map_err(|error| CliError::Arg {
            arg: "--input",
            detail: format!(
                "{} is not JSON: {error} (a {world}'s input is JSON)",
                path.display()
            ),
        })?,
        (None, _) => {
            return Err(CliError::Arg {
                arg: "--input",
                detail: format!("`{}` is a {world}: it needs --input", args.name),
            });
        }
    };
    let mut body = json!({ "input": input });
    if let Some(version) = args.version {
        body["version"] = json!(version);
    }
    if let Some(config) = &args.config {
        body["config"] = json_arg("--config", config)?;
    }
    let answer = server.post(&["v1", "plugins", &args.name, "invoke"], &body)?;
    report_stats(&args.name, &answer);
    if let Some(error) = answer.get("error").filter(|error| !error.is_null()) {
        eprintln!(
            "wasmhook: `{}` failed: {}: {}",
            args.name,
            error["code"].as_str().unwrap_or("error"),
            error["detail"].as_str().unwrap_or("")
        );
        return Ok(ExitCode::FAILURE);
    }
    let result = answer.get("result").cloned().unwrap_or(Value::Null);
    println!(
        "{}",
        serde_json::to_string_pretty(&result).map_err(std::io::Error::from)?
    );
    Ok(ExitCode::SUCCESS)
}

/// The call's version, time, memory and logs, on stderr.
fn report_stats(name: &str, answer: &Value) {
    let stats = &answer["stats"];
    eprintln!(
        "wasmhook: `{name}` version {} ran in {} µs, peak memory {} bytes",
        answer["version"], stats["duration_us"], stats["memory_peak_bytes"]
    );
    for line in stats["logs"].as_array().into_iter().flatten() {
        eprintln!(
            "  [{}] {}",
            line["level"].as_str().unwrap_or("log"),
            line["message"].as_str().unwrap_or("")
        );
    }
}
