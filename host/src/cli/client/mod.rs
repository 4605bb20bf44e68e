//! The client commands: `wasmhook plugin push|list|get|activate`,
//! `wasmhook source|endpoint|event ...` talk to a running server's `/v1` API
//! with the admin token and print its JSON answer, pretty, on stdout (so
//! `| jq` works).

mod server;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use self::server::{Body, Server};
use super::error::CliError;
use super::input;
use crate::domain::Secret;

/// Which server to talk to, and the admin token for it.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server's base URL.
    #[arg(
        long,
        env = "WASMHOOK_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,
    /// The server's admin token (a server started without one keeps a
    /// generated one in DATA_DIR/admin_token).
    #[arg(
        long,
        env = "WASMHOOK_TOKEN",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub token: Option<Secret>,
}

fn parse_secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(text))
}

/// A command that names one thing by its name.
#[derive(Debug, Clone, Args)]
pub struct ByName {
    /// The name.
    pub name: String,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A command that names one thing by its id.
#[derive(Debug, Clone, Args)]
pub struct ById {
    /// The id.
    pub id: String,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook plugin push`.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The component (.wasm) to upload.
    pub wasm: PathBuf,
    /// The plugin's name on the server (a slug: `a-z0-9_-`).
    #[arg(long)]
    pub name: String,
    /// Make the new version active at once (a plugin's first version always is).
    #[arg(long)]
    pub activate: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook plugin activate`.
#[derive(Debug, Clone, Args)]
pub struct ActivateArgs {
    /// The plugin's name.
    pub name: String,
    /// The version to make active (also a rollback).
    pub version: u32,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook source ...`: where vendor callbacks come in.
#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// List the sources.
    List(ClientArgs),
    /// Show one source.
    Get(ByName),
    /// Connect a vendor: create a source with its mapper plugin.
    Create(Box<SourceCreateArgs>),
}

/// Arguments of `wasmhook source create`.
#[derive(Debug, Clone, Args)]
pub struct SourceCreateArgs {
    /// The source's name (a slug); callbacks arrive at `/ingest/NAME`.
    #[arg(long)]
    pub name: String,
    /// The mapper plugin that turns its callbacks into events.
    #[arg(long)]
    pub mapper: String,
    /// The mapper's configuration: a JSON object, or `@file` to read it from a file.
    #[arg(long)]
    pub config: Option<String>,
    /// Default channel for events the mapper leaves as `other`.
    #[arg(long)]
    pub channel: Option<String>,
    /// The vendor [default: the mapper's name].
    #[arg(long)]
    pub vendor: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// The token vendors must present [default: generated, shown in the answer].
    /// (`--token` is the admin token.)
    #[arg(long, value_parser = parse_secret)]
    pub ingest_token: Option<Secret>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook endpoint ...`: where events are delivered.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// List the endpoints.
    List(ClientArgs),
    /// Show one endpoint.
    Get(ById),
}

/// `wasmhook event ...`: the canonical events the server stored.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events, newest first; pass the answer's `next_cursor` as
    /// `--cursor` for the next page.
    List(Box<EventListArgs>),
    /// Show one event.
    Get(ById),
}

/// Arguments of `wasmhook event list`: filters that must all hold.
#[derive(Debug, Clone, Args)]
pub struct EventListArgs {
    /// Only events from this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only this channel (`whatsapp`, `sms`, `email`, …).
    #[arg(long)]
    pub channel: Option<String>,
    /// Only this event type.
    #[arg(long, value_parser = ["status", "inbound_message"])]
    pub event_type: Option<String>,
    /// Only this delivery status (`delivered`, `failed`, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Received at or after, epoch milliseconds.
    #[arg(long, value_name = "MS")]
    pub since: Option<u64>,
    /// Received before, epoch milliseconds.
    #[arg(long, value_name = "MS")]
    pub until: Option<u64>,
    /// Page size, 1–1000 [server default: 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    #[arg(long)]
    pub cursor: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook plugin push`: uploads the component as a new version and
/// prints the server's answer (the plugin and the new version).
pub(super) fn plugin_push(args: &PushArgs) -> Result<ExitCode, CliError> {
    let bytes = input::read(&args.wasm)?;
    let server = Server::connect(&args.client)?;
    let query = if args.activate {
        vec![("activate", "true".to_owned())]
    } else {
        Vec::new()
    };
    let answer = server.put(&["v1", "plugins", &args.name], &query, Body::wasm(bytes))?;
    // People read the summary; scripts read stdout.
    if let (Some(version), Some(active)) = (
        answer["version"]["version"].as_u64(),
        answer["plugin"]["active_version"].as_u64(),
    ) {
        eprintln!(
            "wasmhook: uploaded `{}` version {version} (active version: {active})",
            args.name
        );
    }
    print(&answer)
}

/// `wasmhook plugin list`.
pub(super) fn plugin_list(args: &ClientArgs) -> Result<ExitCode, CliError> {
    print(&Server::connect(args)?.get(&["v1", "plugins"], &[])?)
}

/// `wasmhook plugin get`.
pub(super) fn plugin_get(args: &ByName) -> Result<ExitCode, CliError> {
    print(&Server::connect(&args.client)?.get(&["v1", "plugins", &args.name], &[])?)
}

/// `wasmhook plugin activate`.
pub(super) fn plugin_activate(args: &ActivateArgs) -> Result<ExitCode, CliError> {
    let server = Server::connect(&args.client)?;
    print(&server.post(
        &["v1", "plugins", &args.name, "activate"],
        &json!({ "version": args.version }),
    )?)
}

/// `wasmhook source ...`.
pub(super) fn source(command: &SourceCommand) -> Result<ExitCode, CliError> {
    match command {
        SourceCommand::List(client) => {
            print(&Server::connect(client)?.get(&["v1", "sources"], &[])?)
        }
        SourceCommand::Get(args) => {
            print(&Server::connect(&args.client)?.get(&["v1", "sources", &args.name], &[])?)
        }
        SourceCommand::Create(args) => {
            let body = source_body(args)?;
            print(&Server::connect(&args.client)?.post(&["v1", "sources"], &body)?)
        }
    }
}

/// The `POST /v1/sources` body: only the fields given, so the server's
/// defaults apply to the rest.
fn source_body(args: &SourceCreateArgs) -> Result<Value, CliError> {
    let mut body = Map::new();
    body.insert("name".into(), json!(args.name));
    body.insert("mapper".into(), json!(args.mapper));
    if let Some(config) = &args.config {
        body.insert("config".into(), input::json_arg("--config", config)?);
    }
    let optional = [
        ("channel", args.channel.as_deref()),
        ("vendor", args.vendor.as_deref()),
        ("description", args.description.as_deref()),
        (
            "ingest_token",
            args.ingest_token.as_ref().map(Secret::expose),
        ),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            body.insert(field.into(), json!(value));
        }
    }
    Ok(Value::Object(body))
}

/// `wasmhook endpoint ...`.
pub(super) fn endpoint(command: &EndpointCommand) -> Result<ExitCode, CliError> {
    match command {
        EndpointCommand::List(client) => {
            print(&Server::connect(client)?.get(&["v1", "endpoints"], &[])?)
        }
        EndpointCommand::Get(args) => {
            print(&Server::connect(&args.client)?.get(&["v1", "endpoints", &args.id], &[])?)
        }
    }
}

/// `wasmhook event ...`.
pub(super) fn event(command: &EventCommand) -> Result<ExitCode, CliError> {
    match command {
        EventCommand::List(args) => {
            let server = Server::connect(&args.client)?;
            print(&server.get(&["v1", "events"], &event_query(args))?)
        }
        EventCommand::Get(args) => {
            print(&Server::connect(&args.client)?.get(&["v1", "events", &args.id], &[])?)
        }
    }
}

/// The `GET /v1/events` query: the filters given, under the server's
/// parameter names; the server checks their values.
fn event_query(args: &EventListArgs) -> Vec<(&'static str, String)> {
    [
        ("source", args.source.clone()),
        ("channel", args.channel.clone()),
        ("event_type", args.event_type.clone()),
        ("status", args.status.clone()),
        ("since", args.since.map(|ms| ms.to_string())),
        ("until", args.until.map(|ms| ms.to_string())),
        ("limit", args.limit.map(|n| n.to_string())),
        ("cursor", args.cursor.clone()),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|value| (name, value)))
    .collect()
}

/// Prints the server's answer as indented JSON (nothing for an empty one).
/// A reader that stops early (`| head`) is not a failure: the request
/// succeeded.
fn print(answer: &Value) -> Result<ExitCode, CliError> {
    if answer.is_null() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut stdout, answer)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn a_source_body_carries_only_the_fields_given() {
        let cli = Cli::try_parse_from([
            "wasmhook",
            "source",
            "create",
            "--name",
            "wa",
            "--mapper",
            "gupshup",
            "--config",
            r#"{"app": "x"}"#,
            "--ingest-token",
            "whk_0123456789abcdef",
        ])
        .unwrap();
        let Command::Source(SourceCommand::Create(args)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            source_body(&args).unwrap(),
            json!({"name": "wa", "mapper": "gupshup", "config": {"app": "x"},
                   "ingest_token": "whk_0123456789abcdef"})
        );
        assert!(!format!("{args:?}").contains("whk_0123456789abcdef"));
    }

    #[test]
    fn event_filters_use_the_servers_parameter_names() {
        let cli = Cli::try_parse_from([
            "wasmhook",
            "event",
            "list",
            "--event-type",
            "status",
            "--since",
            "5",
            "--limit",
            "2",
        ])
        .unwrap();
        let Command::Event(EventCommand::List(args)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            event_query(&args),
            [
                ("event_type", "status".to_owned()),
                ("since", "5".to_owned()),
                ("limit", "2".to_owned())
            ]
        );
    }
}
