//! `wasmhook endpoint ...` and `wasmhook delivery ...`: where events are
//! delivered, their signing secrets, and the deliveries with their attempts.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::output::{Column, View};
use super::{BodyBuilder, ById, ClientArgs, deleted, present, print, text_arg};
use crate::cli::FormatArg;
use crate::cli::error::CliError;

/// `wasmhook endpoint ...`: where events are delivered.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// List the endpoints.
    List(ClientArgs),
    /// Show one endpoint.
    Get(ById),
    /// Add an endpoint; the answer carries its signing secret.
    Create(Box<EndpointCreateArgs>),
    /// Change an endpoint; only the fields given change.
    Update(Box<EndpointUpdateArgs>),
    /// Delete an endpoint; its pending deliveries fail.
    Delete(ById),
    /// Send a sample event to the endpoint now and show the request and the
    /// response (nothing is stored).
    Test(ById),
    /// Show the endpoint's signing secret, and until when earlier ones stay
    /// valid.
    Secret(ById),
    /// Make a new signing secret current; the old one keeps signing too
    /// until its grace period ends.
    RotateSecret(RotateArgs),
    /// Send the endpoint's deliveries of events since a time again; they
    /// keep their `webhook-id`s.
    Replay(ReplayArgs),
}

/// The endpoint settings `create` and `update` take as flags; `--json`
/// takes any of them, and every other field, as the API's JSON.
#[derive(Debug, Clone, Args)]
pub struct EndpointFields {
    /// Where deliveries go (http or https).
    #[arg(long)]
    pub url: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// The HTTP method (`POST`, `PUT`, `PATCH`, `GET`).
    #[arg(long)]
    pub method: Option<String>,
    /// A custom header, `Name: value`; the value may be a template
    /// (repeatable; replaces the list).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A query parameter added to the URL, `name=value` (repeatable;
    /// replaces the list).
    #[arg(long = "query-param", value_name = "NAME=VALUE")]
    pub query: Vec<String>,
    /// Which events it gets: `{"channels": {...}, "statuses": [...],
    /// "match": {...}}` as JSON, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub filters: Option<String>,
    /// A connector's id (`conn_…`) whose credentials every request carries.
    #[arg(long)]
    pub connector: Option<String>,
    /// The renderer plugin that builds the body [server default: `json-renderer`].
    #[arg(long)]
    pub renderer: Option<String>,
    /// The renderer's template: text, or `@file` to read it from a file.
    #[arg(long)]
    pub template: Option<String>,
    /// The body format.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// At most this many requests per second, 1–10000.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// `endpoint` delivers one event at a time in order (`strict` is the old
    /// name); `key` in order per contact; `none` in parallel.
    #[arg(long, value_enum)]
    pub ordering: Option<Ordering>,
    /// The whole body as the API takes it (JSON, or `@file`); the flags
    /// given set their fields over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// Refuse the change unless a GET to the URL answers 2xx first.
    #[arg(long)]
    pub verify: bool,
}

/// Delivery ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ordering {
    /// One at a time, in order (the whole endpoint).
    #[value(alias = "strict")]
    Endpoint,
    /// In order per contact (`channel_value`), in parallel across contacts;
    /// other keys and `after_final_failure`: `--json '{"ordering": {…}}'`.
    Key,
    /// In parallel.
    None,
}

/// Arguments of `wasmhook endpoint create`.
#[derive(Debug, Clone, Args)]
pub struct EndpointCreateArgs {
    /// The settings.
    #[command(flatten)]
    pub fields: EndpointFields,
    /// The signing secret (`whsec_…`) [default: generated, shown in the answer].
    #[arg(long)]
    pub secret: Option<String>,
    /// Create it disabled: its deliveries wait until it is enabled.
    #[arg(long)]
    pub disabled: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook endpoint update`.
#[derive(Debug, Clone, Args)]
pub struct EndpointUpdateArgs {
    /// The endpoint's id (`ep_…`).
    pub id: String,
    /// The settings to change.
    #[command(flatten)]
    pub fields: EndpointFields,
    /// Enable it: deliveries that waited go now.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable it: its deliveries wait (none is lost).
    #[arg(long)]
    pub disable: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook endpoint rotate-secret`.
#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    /// The endpoint's id (`ep_…`).
    pub id: String,
    /// How long the current secret stays valid, seconds, at most 604800
    /// [server default: 86400]; 0 ends it at once.
    #[arg(long, value_name = "SECS")]
    pub grace_period_secs: Option<u64>,
    /// The new secret (`whsec_…`) [default: generated].
    #[arg(long)]
    pub secret: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook endpoint replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The endpoint's id (`ep_…`).
    pub id: String,
    /// Deliveries of events received at or after this time, epoch milliseconds.
    #[arg(long, value_name = "MS")]
    pub since: u64,
    /// Only deliveries in this state (`succeeded`, `failed`).
    #[arg(long)]
    pub state: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook delivery ...`: deliveries of events to endpoints.
#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// List an endpoint's deliveries, newest first.
    List(DeliveryListArgs),
    /// Show one delivery with every attempt.
    Get(ById),
    /// Retry a failed or waiting delivery now; it keeps its `webhook-id`.
    Retry(ById),
}

/// Arguments of `wasmhook delivery list`.
#[derive(Debug, Clone, Args)]
pub struct DeliveryListArgs {
    /// The endpoint's id (`ep_…`).
    pub endpoint: String,
    /// Only `pending`, `succeeded` or `failed` ones.
    #[arg(long)]
    pub state: Option<String>,
    /// Page size, 1–1000 [server default: 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The last id of the previous page.
    #[arg(long, value_name = "ID")]
    pub before: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

const ENDPOINTS: &[Column] = &[
    Column("ID", "id"),
    Column("URL", "url"),
    Column("ENABLED", "enabled"),
    Column("RENDERER", "renderer.plugin"),
    Column("ORDERING", "ordering.mode"),
    Column("DESCRIPTION", "description"),
];
const DELIVERIES: &[Column] = &[
    Column("ID", "id"),
    Column("EVENT", "event"),
    Column("STATE", "state"),
    Column("ATTEMPTS", "attempt_count"),
    Column("LAST STATUS", "last_status"),
    Column("NEXT ATTEMPT", "next_attempt_at"),
    Column("LAST ERROR", "last_error"),
];
const ATTEMPTS: &[Column] = &[
    Column("#", "number"),
    Column("STARTED", "started_at"),
    Column("MS", "duration_ms"),
    Column("STATUS", "status"),
    Column("ERROR", "error_kind"),
    Column("RESPONSE", "response_excerpt"),
];
const PREVIOUS_SECRETS: &[Column] = &[Column("EXPIRES", "expires_at")];

/// `wasmhook endpoint ...`.
pub fn endpoint(command: &EndpointCommand) -> Result<ExitCode, CliError> {
    match command {
        EndpointCommand::List(client) => {
            let answer = ApiClient::connect(client)?.get(&["v1", "endpoints"], &[])?;
            print(client, &answer, &View::Rows(ENDPOINTS))
        }
        EndpointCommand::Get(args) => one(args, &[], Method::GET),
        EndpointCommand::Create(args) => {
            let mut body = endpoint_body(&args.fields)?;
            body.set("secret", args.secret.clone().map(Value::from))
                .set("enabled", args.disabled.then_some(json!(false)));
            let answer = ApiClient::connect(&args.client)?.call(
                Method::POST,
                &["v1", "endpoints"],
                &verify(&args.fields),
                Some(&body.build()),
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        EndpointCommand::Update(args) => {
            let mut body = endpoint_body(&args.fields)?;
            let enabled = match (args.enable, args.disable) {
                (true, _) => Some(json!(true)),
                (_, true) => Some(json!(false)),
                _ => None,
            };
            body.set("enabled", enabled);
            let answer = ApiClient::connect(&args.client)?.call(
                Method::PATCH,
                &["v1", "endpoints", &args.id],
                &verify(&args.fields),
                Some(&body.build()),
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        EndpointCommand::Delete(args) => {
            ApiClient::connect(&args.client)?.call(
                Method::DELETE,
                &["v1", "endpoints", &args.id],
                &[],
                None,
            )?;
            deleted("endpoint", &args.id)
        }
        EndpointCommand::Test(args) => one(args, &["test"], Method::POST),
        EndpointCommand::Secret(args) => one(args, &["secret"], Method::GET),
        EndpointCommand::RotateSecret(args) => {
            let mut body = BodyBuilder::from_value(json!({}));
            body.set("grace_period_secs", args.grace_period_secs.map(Value::from))
                .set("secret", args.secret.clone().map(Value::from));
            let answer = ApiClient::connect(&args.client)?.post(
                &["v1", "endpoints", &args.id, "rotate-secret"],
                &body.build(),
            )?;
            print(
                &args.client,
                &answer,
                &View::Record(&[("previous", PREVIOUS_SECRETS)]),
            )
        }
        EndpointCommand::Replay(args) => {
            let mut body = BodyBuilder::from_value(json!({ "since": args.since }));
            body.set("state", args.state.clone().map(Value::from));
            let answer = ApiClient::connect(&args.client)?
                .post(&["v1", "endpoints", &args.id, "replay"], &body.build())?;
            print(&args.client, &answer, &View::Record(&[]))
        }
    }
}

/// A request about one endpoint, `/v1/endpoints/{id}/{rest}`, printed as a
/// record.
fn one(args: &ById, rest: &[&str], method: Method) -> Result<ExitCode, CliError> {
    let mut path = vec!["v1", "endpoints", args.id.as_str()];
    path.extend_from_slice(rest);
    let answer = ApiClient::connect(&args.client)?.call(method, &path, &[], None)?;
    print(&args.client, &answer, &View::Record(&[]))
}

fn verify(fields: &EndpointFields) -> Vec<(&'static str, String)> {
    present([("verify", fields.verify.then(|| "true".to_owned()))])
}

/// The create or update body: `--json`, then each flag given over it.
fn endpoint_body(fields: &EndpointFields) -> Result<BodyBuilder, CliError> {
    let mut body = BodyBuilder::new(fields.json.as_deref())?;
    let headers = (!fields.headers.is_empty())
        .then(|| pairs("--header", &fields.headers, ':'))
        .transpose()?;
    let query = (!fields.query.is_empty())
        .then(|| pairs("--query-param", &fields.query, '='))
        .transpose()?;
    let template = fields.template.as_deref().map(text_arg).transpose()?;
    body.set("url", fields.url.clone().map(Value::from))
        .set("description", fields.description.clone().map(Value::from))
        .set(
            "method",
            fields
                .method
                .as_ref()
                .map(|method| json!(method.to_ascii_uppercase())),
        )
        .set("headers", headers)
        .set("query", query)
        .set("connector", fields.connector.clone().map(Value::from))
        .set("renderer.plugin", fields.renderer.clone().map(Value::from))
        .set("renderer.template", template.map(Value::from))
        .set(
            "renderer.format",
            fields.format.map(|format| json!(format_name(format))),
        )
        .set("rate_limit", fields.rate_limit.map(Value::from))
        .set(
            "ordering",
            fields.ordering.map(|ordering| match ordering {
                Ordering::Endpoint => json!({"mode": "endpoint"}),
                Ordering::Key => json!({"mode": "key"}),
                Ordering::None => json!({"mode": "none"}),
            }),
        )
        .set_json("filters", "--filters", fields.filters.as_deref())?;
    Ok(body)
}

/// The API's name of a body format.
pub(super) fn format_name(format: FormatArg) -> &'static str {
    match format {
        FormatArg::Json => "json",
        FormatArg::Xml => "xml",
        FormatArg::Text => "text",
        FormatArg::Form => "form",
    }
}

/// `Name: value` or `name=value` flags as `[{"name", "value"}]`.
fn pairs(arg: &'static str, items: &[String], separator: char) -> Result<Value, CliError> {
    items
        .iter()
        .map(|item| match item.split_once(separator) {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok(json!({"name": name.trim(), "value": value.trim()}))
            }
            _ => Err(CliError::Arg {
                arg,
                detail: format!("`{item}` is not `name{separator}value`"),
            }),
        })
        .collect()
}

/// `wasmhook delivery ...`.
pub fn delivery(command: &DeliveryCommand) -> Result<ExitCode, CliError> {
    match command {
        DeliveryCommand::List(args) => {
            let query = present([
                ("state", args.state.clone()),
                ("limit", args.limit.map(|n| n.to_string())),
                ("before", args.before.clone()),
            ]);
            let answer = ApiClient::connect(&args.client)?
                .get(&["v1", "endpoints", &args.endpoint, "deliveries"], &query)?;
            print(&args.client, &answer, &View::Rows(DELIVERIES))
        }
        DeliveryCommand::Get(args) => {
            let answer =
                ApiClient::connect(&args.client)?.get(&["v1", "deliveries", &args.id], &[])?;
            print(
                &args.client,
                &answer,
                &View::Record(&[("attempts", ATTEMPTS)]),
            )
        }
        DeliveryCommand::Retry(args) => {
            let answer = ApiClient::connect(&args.client)?.call(
                Method::POST,
                &["v1", "deliveries", &args.id, "retry"],
                &[],
                None,
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn endpoint_flags_become_the_apis_fields() {
        let cli = Cli::try_parse_from([
            "wasmhook",
            "endpoint",
            "create",
            "--url",
            "https://crm.example.com/hooks",
            "-H",
            "X-Team: crm",
            "--query-param",
            "a=1",
            "--format",
            "xml",
            "--ordering",
            "strict",
            "--filters",
            r#"{"statuses": ["failed"]}"#,
            "--json",
            r#"{"retry": {"max_attempts": 3}, "url": "https://old.example"}"#,
            "--disabled",
        ])
        .unwrap();
        let Command::Endpoint(EndpointCommand::Create(args)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            endpoint_body(&args.fields).unwrap().build(),
            json!({
                "retry": {"max_attempts": 3},
                "url": "https://crm.example.com/hooks",
                "headers": [{"name": "X-Team", "value": "crm"}],
                "query": [{"name": "a", "value": "1"}],
                "renderer": {"format": "xml"},
                "ordering": {"mode": "endpoint"},
                "filters": {"statuses": ["failed"]},
            })
        );
        assert!(pairs("--header", &["nothing".to_owned()], ':').is_err());
    }
}
