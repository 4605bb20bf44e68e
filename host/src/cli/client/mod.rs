//! The client commands: `wasmhook plugin push|list|get|activate|invoke|replay`,
//! `wasmhook source|endpoint|delivery|event|connector|block|workflow|render
//! |tenant|key|audit ...` talk to a running server's `/v1` API with the
//! admin token or a tenant's API key (the admin token in the tenant
//! `--tenant` names) and print its answer on stdout: a table for a person
//! at a terminal, indented JSON for a pipe (so `| jq` works), or as `-o
//! table|json` says.

mod api_client;
mod blocks;
mod endpoints;
mod invoke;
mod keys;
mod output;
mod replay;
mod tenants;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use self::api_client::{ApiClient, RequestBody};
pub use self::blocks::{
    BlockCommand, ConnectorCommand, RenderArgs, WorkflowCommand, block, connector, render, workflow,
};
pub use self::endpoints::{DeliveryCommand, EndpointCommand, delivery, endpoint};
pub use self::invoke::{InvokeArgs, plugin_invoke};
pub use self::keys::{AuditArgs, KeyCommand, audit, key};
pub use self::output::OutputFormat;
use self::output::{Column, View};
pub use self::replay::{ReplayArgs, plugin_replay};
pub use self::tenants::{TenantCommand, tenant};
use super::error::CliError;
use super::input;
use crate::domain::{Name, Secret};

/// Which server to talk to, with which token, in which tenant.
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
    /// generated one in DATA_DIR/admin_token), or a tenant's API key
    /// (`whk_…`), which acts in its own tenant.
    #[arg(
        long,
        env = "WASMHOOK_TOKEN",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub token: Option<Secret>,
    /// The tenant to act in with the admin token (sent as
    /// `X-Wasmhook-Tenant`) [default: `default`]; the tenant whose keys
    /// `wasmhook key` manages. A tenant key acts in its own tenant only.
    #[arg(long, env = "WASMHOOK_TENANT", value_name = "NAME", value_parser = parse_name)]
    pub tenant: Option<Name>,
    /// How to print the answer [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

fn parse_secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(text))
}

/// A tenant's name, checked before any request so a typo is named as the
/// flag's (or `WASMHOOK_TENANT`'s), not as an HTTP header's.
fn parse_name(text: &str) -> Result<Name, crate::domain::NameError> {
    text.trim().parse()
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
    /// Delete a source; its events stay.
    Delete(ByName),
    /// List a source's rejected callbacks, newest first.
    Rejected(RejectedListArgs),
    /// Map a rejected callback again with the source's active mapper and
    /// store its events.
    Retry(RejectedRetryArgs),
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

/// Arguments of `wasmhook source rejected`.
#[derive(Debug, Clone, Args)]
pub struct RejectedListArgs {
    /// The source's name.
    pub source: String,
    /// Only `pending` or only `resolved` ones.
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many, 1–1000 [server default: 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook source retry`.
#[derive(Debug, Clone, Args)]
pub struct RejectedRetryArgs {
    /// The source's name.
    pub source: String,
    /// The rejected callback's id (`rej_…`).
    pub id: String,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
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

const PLUGINS: &[Column] = &[
    Column("NAME", "name"),
    Column("WORLD", "world"),
    Column("ACTIVE", "active_version"),
    Column("LATEST", "latest_version"),
    // The tenant a private plugin belongs to; `-` for a shared one.
    Column("OWNER", "owner"),
    Column("UPDATED", "updated_at"),
];
const PLUGIN_VERSIONS: &[Column] = &[
    Column("VERSION", "version"),
    Column("WORLD", "world"),
    Column("SIZE", "size_bytes"),
    Column("SHA256", "sha256"),
    Column("CREATED", "created_at"),
];
const SOURCES: &[Column] = &[
    Column("NAME", "name"),
    Column("VENDOR", "vendor"),
    Column("MAPPER", "mapper"),
    Column("CHANNEL", "channel"),
    Column("INGEST PATH", "ingest_path"),
];
const EVENTS: &[Column] = &[
    Column("ID", "id"),
    Column("SOURCE", "source"),
    Column("CHANNEL", "channel"),
    Column("TYPE", "event_type"),
    Column("STATUS", "status.status"),
    Column("RECEIVED", "received_at"),
];
const REJECTED: &[Column] = &[
    Column("ID", "id"),
    Column("RECEIVED", "received_at"),
    Column("STATE", "state"),
    Column("ATTEMPTS", "attempts"),
    Column("CODE", "error.code"),
    Column("DETAIL", "error.detail"),
];

/// `wasmhook plugin push`: uploads the component as a new version and
/// prints the server's answer (the plugin and the new version).
pub(super) fn plugin_push(args: &PushArgs) -> Result<ExitCode, CliError> {
    let bytes = input::read(&args.wasm)?;
    let server = ApiClient::connect(&args.client)?;
    let query = if args.activate {
        vec![("activate", "true".to_owned())]
    } else {
        Vec::new()
    };
    let (status, answer) = {
        // The server validates and compiles before it answers: seconds.
        let _progress = super::progress::Progress::start(format!(
            "uploading {} ({} KiB); the server compiles it …",
            args.wasm.display(),
            bytes.len().div_ceil(1024)
        ));
        server.put(
            &["v1", "plugins", &args.name],
            &query,
            RequestBody::wasm(bytes),
        )?
    };
    // People read the summary; scripts read stdout.
    if let (Some(version), Some(active)) = (
        answer["version"]["version"].as_u64(),
        answer["plugin"]["active_version"].as_u64(),
    ) {
        if status == reqwest::StatusCode::CREATED {
            eprintln!(
                "wasmhook: uploaded `{}` version {version} (active version: {active})",
                args.name
            );
        } else {
            eprintln!(
                "wasmhook: `{}` already has these bytes as version {version}; no version added (active version: {active})",
                args.name
            );
        }
    }
    print(&args.client, &answer, &View::Record(&[]))
}

/// `wasmhook plugin list`.
pub(super) fn plugin_list(args: &ClientArgs) -> Result<ExitCode, CliError> {
    let answer = ApiClient::connect(args)?.get(&["v1", "plugins"], &[])?;
    print(args, &answer, &View::Rows(PLUGINS))
}

/// `wasmhook plugin get`.
pub(super) fn plugin_get(args: &ByName) -> Result<ExitCode, CliError> {
    let answer = ApiClient::connect(&args.client)?.get(&["v1", "plugins", &args.name], &[])?;
    print(
        &args.client,
        &answer,
        &View::Record(&[("versions", PLUGIN_VERSIONS)]),
    )
}

/// `wasmhook plugin activate`.
pub(super) fn plugin_activate(args: &ActivateArgs) -> Result<ExitCode, CliError> {
    let server = ApiClient::connect(&args.client)?;
    let answer = server.post(
        &["v1", "plugins", &args.name, "activate"],
        &json!({ "version": args.version }),
    )?;
    print(&args.client, &answer, &View::Record(&[]))
}

/// `wasmhook source ...`.
pub(super) fn source(command: &SourceCommand) -> Result<ExitCode, CliError> {
    match command {
        SourceCommand::List(client) => {
            let answer = ApiClient::connect(client)?.get(&["v1", "sources"], &[])?;
            print(client, &answer, &View::Rows(SOURCES))
        }
        SourceCommand::Get(args) => {
            let answer =
                ApiClient::connect(&args.client)?.get(&["v1", "sources", &args.name], &[])?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        SourceCommand::Create(args) => {
            let body = source_body(args)?;
            let answer = ApiClient::connect(&args.client)?.post(&["v1", "sources"], &body)?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        SourceCommand::Delete(args) => {
            let server = ApiClient::connect(&args.client)?;
            server.call(Method::DELETE, &["v1", "sources", &args.name], &[], None)?;
            deleted("source", &args.name)
        }
        SourceCommand::Rejected(args) => {
            let query = present([
                ("state", args.state.clone()),
                ("limit", args.limit.map(|n| n.to_string())),
            ]);
            let answer = ApiClient::connect(&args.client)?
                .get(&["v1", "sources", &args.source, "rejected"], &query)?;
            print(&args.client, &answer, &View::Rows(REJECTED))
        }
        SourceCommand::Retry(args) => {
            let answer = ApiClient::connect(&args.client)?.call(
                Method::POST,
                &["v1", "sources", &args.source, "rejected", &args.id, "retry"],
                &[],
                None,
            )?;
            print(&args.client, &answer, &View::Record(&[]))
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

/// `wasmhook event ...`.
pub(super) fn event(command: &EventCommand) -> Result<ExitCode, CliError> {
    match command {
        EventCommand::List(args) => {
            let server = ApiClient::connect(&args.client)?;
            let answer = server.get(&["v1", "events"], &event_query(args))?;
            print(&args.client, &answer, &View::Page(EVENTS))
        }
        EventCommand::Get(args) => {
            let answer = ApiClient::connect(&args.client)?.get(&["v1", "events", &args.id], &[])?;
            print(&args.client, &answer, &View::Record(&[]))
        }
    }
}

/// The `GET /v1/events` query: the filters given, under the server's
/// parameter names; the server checks their values.
fn event_query(args: &EventListArgs) -> Vec<(&'static str, String)> {
    present([
        ("source", args.source.clone()),
        ("channel", args.channel.clone()),
        ("event_type", args.event_type.clone()),
        ("status", args.status.clone()),
        ("since", args.since.map(|ms| ms.to_string())),
        ("until", args.until.map(|ms| ms.to_string())),
        ("limit", args.limit.map(|n| n.to_string())),
        ("cursor", args.cursor.clone()),
    ])
}

/// The query parameters that were given.
fn present<const N: usize>(
    parameters: [(&'static str, Option<String>); N],
) -> Vec<(&'static str, String)> {
    parameters
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect()
}

/// Prints the answer as `-o` asks.
fn print(client: &ClientArgs, answer: &Value, view: &View) -> Result<ExitCode, CliError> {
    output::print(client.output, answer, view)
}

/// A delete answers nothing: say on stderr what went, for people.
fn deleted(what: &str, key: &str) -> Result<ExitCode, CliError> {
    eprintln!("wasmhook: deleted {what} `{key}`");
    Ok(ExitCode::SUCCESS)
}

/// A request body built from `--json` (the whole body, inline or
/// `@file`) with each flag given setting its field over it.
struct BodyBuilder(Map<String, Value>);

impl BodyBuilder {
    /// Starts from `--json`, which must be an object, or from `{}`.
    fn new(json: Option<&str>) -> Result<Self, CliError> {
        match json
            .map(|text| input::json_arg("--json", text))
            .transpose()?
        {
            None => Ok(BodyBuilder(Map::new())),
            Some(Value::Object(fields)) => Ok(BodyBuilder(fields)),
            Some(_) => Err(CliError::Arg {
                arg: "--json",
                detail: "must be a JSON object".to_owned(),
            }),
        }
    }

    /// Starts from a record the server gave.
    fn from_value(value: Value) -> Self {
        match value {
            Value::Object(fields) => BodyBuilder(fields),
            _ => BodyBuilder(Map::new()),
        }
    }

    /// Sets `path` (dotted for a nested field, `renderer.plugin`) when the
    /// flag was given.
    fn set(&mut self, path: &str, value: Option<Value>) -> &mut Self {
        let Some(value) = value else {
            return self;
        };
        let mut fields = &mut self.0;
        let mut keys = path.split('.').peekable();
        while let Some(key) = keys.next() {
            if keys.peek().is_none() {
                fields.insert(key.to_owned(), value);
                break;
            }
            let inner = fields
                .entry(key.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            let Value::Object(inner) = inner else {
                unreachable!("made an object above");
            };
            fields = inner;
        }
        self
    }

    /// Sets `path` to a JSON flag's value (inline or `@file`).
    fn set_json(
        &mut self,
        path: &str,
        arg: &'static str,
        text: Option<&str>,
    ) -> Result<&mut Self, CliError> {
        let value = text.map(|text| input::json_arg(arg, text)).transpose()?;
        Ok(self.set(path, value))
    }

    /// Keeps only `fields`.
    fn retain(&mut self, fields: &[&str]) -> &mut Self {
        self.0.retain(|key, _| fields.contains(&key.as_str()));
        self
    }

    fn build(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

/// A text flag's value, read from a file when it is `@file`.
fn text_arg(text: &str) -> Result<String, CliError> {
    match text.strip_prefix('@') {
        Some(path) => {
            Ok(String::from_utf8_lossy(&input::read(std::path::Path::new(path))?).into_owned())
        }
        None => Ok(text.to_owned()),
    }
}

/// `wasmhook <args>` as clap reads it, or clap's message: for the client
/// commands' unit tests.
#[cfg(test)]
pub(super) fn parse_command(args: &[&str]) -> Result<crate::cli::Command, String> {
    use clap::Parser;
    crate::cli::Cli::try_parse_from(std::iter::once("wasmhook").chain(args.iter().copied()))
        .map(|cli| cli.command)
        .map_err(|error| error.to_string())
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

    #[test]
    fn flags_set_their_fields_over_the_json_body() {
        let mut body = BodyBuilder::new(Some(
            r#"{"url": "https://a.example", "renderer": {"format": "xml"}, "rate_limit": 5}"#,
        ))
        .unwrap();
        body.set("url", Some(json!("https://b.example")))
            .set("renderer.plugin", Some(json!("xml-renderer")))
            .set("description", None);
        assert_eq!(
            body.build(),
            json!({"url": "https://b.example", "rate_limit": 5,
                   "renderer": {"format": "xml", "plugin": "xml-renderer"}})
        );
        assert!(BodyBuilder::new(Some("[1]")).is_err());
    }
}
