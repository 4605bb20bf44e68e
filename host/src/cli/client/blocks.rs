//! `wasmhook connector|block|workflow|render ...`: outbound credentials,
//! workflow webhook blocks, running them alone or in a chain, and
//! rendering a message from their data.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::endpoints::format_name;
use super::output::{Column, View};
use super::{BodyBuilder, ByName, ClientArgs, deleted, present, print, text_arg};
use crate::cli::FormatArg;
use crate::cli::error::CliError;

/// `wasmhook connector ...`: stored outbound credentials; secrets go in and
/// never come out.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// List the connectors (secrets withheld).
    List(ClientArgs),
    /// Show one connector, by id (`conn_…`) or name.
    Get(ByName),
    /// Store credentials: basic, bearer or API key.
    Create(Box<ConnectorArgs>),
    /// Change a connector; credentials are replaced whole (give `--kind`
    /// and `--secret` again).
    Update(Box<ConnectorUpdateArgs>),
    /// Delete a connector; refused while an endpoint or block uses it.
    Delete(ByName),
}

/// A connector's fields as flags.
#[derive(Debug, Clone, Args)]
pub struct ConnectorFields {
    /// How it authenticates.
    #[arg(long, value_enum)]
    pub kind: Option<AuthKindArg>,
    /// Basic: the user name.
    #[arg(long)]
    pub username: Option<String>,
    /// API key: the header that carries the key (`X-Api-Key`).
    #[arg(long = "header")]
    pub header: Option<String>,
    /// The password, token or key: text, or `@file` to read it from a file.
    /// (`--token` is the admin token.)
    #[arg(long)]
    pub secret: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// The whole body as the API takes it (JSON, or `@file`); the flags
    /// given set their fields over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
}

/// The kinds of connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthKindArg {
    /// `Authorization: Basic` with a user name and password.
    Basic,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A key in a header of your choice.
    #[value(alias = "api_key")]
    ApiKey,
}

impl AuthKindArg {
    /// The API's name of the kind.
    fn name(self) -> &'static str {
        match self {
            AuthKindArg::Basic => "basic",
            AuthKindArg::Bearer => "bearer",
            AuthKindArg::ApiKey => "api_key",
        }
    }
}

/// Arguments of `wasmhook connector create`.
#[derive(Debug, Clone, Args)]
pub struct ConnectorArgs {
    /// A unique name (a slug).
    #[arg(long)]
    pub name: Option<String>,
    /// The fields.
    #[command(flatten)]
    pub fields: ConnectorFields,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook connector update`.
#[derive(Debug, Clone, Args)]
pub struct ConnectorUpdateArgs {
    /// The connector's id (`conn_…`) or name.
    pub connector: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// The fields to change.
    #[command(flatten)]
    pub fields: ConnectorFields,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook block ...`: workflow webhook blocks.
#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// List the live blocks, or with `--deleted` the deleted ones.
    List(BlockListArgs),
    /// Show one block.
    Get(ByName),
    /// Define a block: its name, plugin and the plugin's config.
    Create(Box<BlockArgs>),
    /// Change a block's description, plugin or config; what is not given
    /// stays as it is.
    Update(Box<BlockArgs>),
    /// Delete a block (it can be restored).
    Delete(ByName),
    /// Bring a deleted block back.
    Restore(ByName),
    /// Run a block on `{event, contact, data}` and show its result.
    Invoke(Box<BlockRunArgs>),
    /// Send a test: run a block on a stored event or one given, and show the
    /// exact request sent and the raw response.
    Test(Box<BlockRunArgs>),
}

/// Arguments of `wasmhook block list`.
#[derive(Debug, Clone, Args)]
pub struct BlockListArgs {
    /// List only the deleted blocks.
    #[arg(long)]
    pub deleted: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook block create` and `update`.
#[derive(Debug, Clone, Args)]
pub struct BlockArgs {
    /// The block's name: the key of its data in templates (`data.NAME`).
    pub name: String,
    /// The block plugin [server default on create: `http-block`].
    #[arg(long)]
    pub plugin: Option<String>,
    /// The plugin's configuration: a JSON object, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// The whole body as the API takes it (JSON, or `@file`); the flags
    /// given set their fields over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What a block or a workflow runs on.
#[derive(Debug, Clone, Args)]
pub struct RunInput {
    /// The triggering event: a JSON object, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub event: Option<String>,
    /// The contact's fields: a JSON object, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub contact: Option<String>,
    /// Data of earlier blocks by block name: a JSON object, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
    /// The whole body as the API takes it (JSON, or `@file`); the flags
    /// given set their fields over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
}

/// Arguments of `wasmhook block invoke` and `test`.
#[derive(Debug, Clone, Args)]
pub struct BlockRunArgs {
    /// The block's name.
    pub name: String,
    /// Test only: a stored event (`evt_…`) instead of `--event`.
    #[arg(long, conflicts_with = "event")]
    pub event_id: Option<String>,
    /// What it runs on.
    #[command(flatten)]
    pub input: RunInput,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wasmhook workflow ...`: blocks run in a chain.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Run blocks in order, each seeing the data of the ones before it;
    /// stops at the first failure.
    Run(Box<WorkflowRunArgs>),
}

/// Arguments of `wasmhook workflow run`.
#[derive(Debug, Clone, Args)]
pub struct WorkflowRunArgs {
    /// The blocks' names, in the order they run.
    #[arg(required_unless_present = "json")]
    pub blocks: Vec<String>,
    /// What the chain runs on.
    #[command(flatten)]
    pub input: RunInput,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook render`.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The template (`{{ data.WH5.promocode }}`): text, or `@file`.
    #[arg(long, required_unless_present = "json")]
    pub template: Option<String>,
    /// The output format [server default: json].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The renderer plugin [default: the first-party renderer of the format].
    #[arg(long)]
    pub plugin: Option<String>,
    /// The renderer's configuration (`{"strict": true}`): JSON, or `@file`.
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// What the template sees.
    #[command(flatten)]
    pub input: RunInput,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

const CONNECTORS: &[Column] = &[
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("KIND", "auth.kind"),
    Column("DESCRIPTION", "description"),
    Column("UPDATED", "updated_at"),
];
const BLOCKS: &[Column] = &[
    Column("NAME", "name"),
    Column("PLUGIN", "plugin"),
    Column("METHOD", "config.method"),
    Column("URL", "config.url"),
    Column("DELETED", "deleted_at"),
];
const STEPS: &[Column] = &[
    Column("BLOCK", "block"),
    Column("OK", "ok"),
    Column("STATUS", "response.status"),
    Column("ERROR", "error.code"),
];

/// `wasmhook connector ...`.
pub fn connector(command: &ConnectorCommand) -> Result<ExitCode, CliError> {
    match command {
        ConnectorCommand::List(client) => {
            let answer = ApiClient::connect(client)?.get(&["v1", "connectors"], &[])?;
            print(client, &answer, &View::Rows(CONNECTORS))
        }
        ConnectorCommand::Get(args) => {
            let answer =
                ApiClient::connect(&args.client)?.get(&["v1", "connectors", &args.name], &[])?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        ConnectorCommand::Create(args) => {
            let body = connector_body(args.name.as_deref(), &args.fields)?;
            let answer = ApiClient::connect(&args.client)?.post(&["v1", "connectors"], &body)?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        ConnectorCommand::Update(args) => {
            let body = connector_body(args.name.as_deref(), &args.fields)?;
            let answer = ApiClient::connect(&args.client)?.call(
                Method::PATCH,
                &["v1", "connectors", &args.connector],
                &[],
                Some(&body),
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        ConnectorCommand::Delete(args) => {
            ApiClient::connect(&args.client)?.call(
                Method::DELETE,
                &["v1", "connectors", &args.name],
                &[],
                None,
            )?;
            deleted("connector", &args.name)
        }
    }
}

/// The connector body: `--json`, then the flags; `--secret` goes where the
/// kind keeps it (`password`, `token` or `value`).
fn connector_body(name: Option<&str>, fields: &ConnectorFields) -> Result<Value, CliError> {
    let mut body = BodyBuilder::new(fields.json.as_deref())?;
    let flag_kind = fields.kind.map(AuthKindArg::name);
    let kind = flag_kind.map(str::to_owned).or_else(|| {
        let auth = body.0.get("auth")?;
        auth.get("kind")?.as_str().map(str::to_owned)
    });
    let secret_field = match kind.as_deref() {
        Some("basic") => "auth.password",
        Some("bearer") => "auth.token",
        Some(_) => "auth.value",
        None if fields.secret.is_some() => {
            return Err(CliError::Arg {
                arg: "--secret",
                detail: "say which kind of secret it is with --kind".to_owned(),
            });
        }
        None => "auth.value",
    };
    let secret = fields.secret.as_deref().map(text_arg).transpose()?;
    body.set("name", name.map(Value::from))
        .set("description", fields.description.clone().map(Value::from))
        .set("auth.kind", flag_kind.map(Value::from))
        .set("auth.username", fields.username.clone().map(Value::from))
        .set("auth.header", fields.header.clone().map(Value::from))
        .set(secret_field, secret.map(|text| json!(text.trim_end())));
    Ok(body.build())
}

/// `wasmhook block ...`.
pub fn block(command: &BlockCommand) -> Result<ExitCode, CliError> {
    match command {
        BlockCommand::List(args) => {
            let query = present([("deleted", args.deleted.then(|| "true".to_owned()))]);
            let answer = ApiClient::connect(&args.client)?.get(&["v1", "blocks"], &query)?;
            print(&args.client, &answer, &View::Rows(BLOCKS))
        }
        BlockCommand::Get(args) => {
            let answer =
                ApiClient::connect(&args.client)?.get(&["v1", "blocks", &args.name], &[])?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        BlockCommand::Create(args) => {
            let mut body = BodyBuilder::new(args.json.as_deref())?;
            body.set("name", Some(json!(args.name)));
            let body = block_fields(&mut body, args)?;
            let answer = ApiClient::connect(&args.client)?.post(&["v1", "blocks"], &body)?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        BlockCommand::Update(args) => {
            let server = ApiClient::connect(&args.client)?;
            // The API replaces a block whole: start from what it is now, so
            // only the fields given change.
            let mut body = match &args.json {
                Some(json) => BodyBuilder::new(Some(json))?,
                None => BodyBuilder::from_value(server.get(&["v1", "blocks", &args.name], &[])?),
            };
            body.retain(&["name", "description", "plugin", "config"]);
            let body = block_fields(&mut body, args)?;
            let answer =
                server.call(Method::PUT, &["v1", "blocks", &args.name], &[], Some(&body))?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        BlockCommand::Delete(args) => {
            ApiClient::connect(&args.client)?.call(
                Method::DELETE,
                &["v1", "blocks", &args.name],
                &[],
                None,
            )?;
            deleted("block", &args.name)
        }
        BlockCommand::Restore(args) => {
            let answer = ApiClient::connect(&args.client)?.call(
                Method::POST,
                &["v1", "blocks", &args.name, "restore"],
                &[],
                None,
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        BlockCommand::Invoke(args) => run_block(args, "invoke"),
        BlockCommand::Test(args) => run_block(args, "test"),
    }
}

fn block_fields(body: &mut BodyBuilder, args: &BlockArgs) -> Result<Value, CliError> {
    body.set("plugin", args.plugin.clone().map(Value::from))
        .set("description", args.description.clone().map(Value::from))
        .set_json("config", "--config", args.config.as_deref())?;
    Ok(body.build())
}

/// `block invoke` or `block test`.
fn run_block(args: &BlockRunArgs, action: &str) -> Result<ExitCode, CliError> {
    if action == "invoke" && args.event_id.is_some() {
        return Err(CliError::Arg {
            arg: "--event-id",
            detail: "only `block test` runs on a stored event".to_owned(),
        });
    }
    let mut body = run_body(&args.input)?;
    body.set("event_id", args.event_id.clone().map(Value::from));
    let answer = ApiClient::connect(&args.client)?
        .post(&["v1", "blocks", &args.name, action], &body.build())?;
    print(&args.client, &answer, &View::Record(&[]))
}

/// `{event, contact, data}`: `--json`, then each flag given.
fn run_body(input: &RunInput) -> Result<BodyBuilder, CliError> {
    let mut body = BodyBuilder::new(input.json.as_deref())?;
    body.set_json("event", "--event", input.event.as_deref())?
        .set_json("contact", "--contact", input.contact.as_deref())?
        .set_json("data", "--data", input.data.as_deref())?;
    Ok(body)
}

/// `wasmhook workflow ...`.
pub fn workflow(command: &WorkflowCommand) -> Result<ExitCode, CliError> {
    match command {
        WorkflowCommand::Run(args) => {
            let mut body = run_body(&args.input)?;
            body.set(
                "blocks",
                (!args.blocks.is_empty()).then(|| json!(args.blocks)),
            );
            let answer = ApiClient::connect(&args.client)?
                .post(&["v1", "workflows", "run"], &body.build())?;
            print(&args.client, &answer, &View::Record(&[("steps", STEPS)]))
        }
    }
}

/// `wasmhook render`: prints the rendered body as it is (`-o json` for the
/// content type too).
pub fn render(args: &RenderArgs) -> Result<ExitCode, CliError> {
    let mut body = run_body(&args.input)?;
    let template = args.template.as_deref().map(text_arg).transpose()?;
    body.set("template", template.map(Value::from))
        .set(
            "format",
            args.format.map(|format| json!(format_name(format))),
        )
        .set("plugin", args.plugin.clone().map(Value::from))
        .set_json("config", "--config", args.config.as_deref())?;
    let answer = ApiClient::connect(&args.client)?.post(&["v1", "render"], &body.build())?;
    print(&args.client, &answer, &View::Text("body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(kind: Option<AuthKindArg>, secret: Option<&str>) -> ConnectorFields {
        ConnectorFields {
            kind,
            username: Some("ann".to_owned()),
            header: None,
            secret: secret.map(str::to_owned),
            description: None,
            json: None,
        }
    }

    #[test]
    fn the_secret_goes_where_the_kind_keeps_it() {
        assert_eq!(
            connector_body(Some("crm"), &fields(Some(AuthKindArg::Basic), Some("pw"))).unwrap(),
            json!({"name": "crm", "auth": {"kind": "basic", "username": "ann", "password": "pw"}})
        );
        assert_eq!(
            connector_body(None, &fields(Some(AuthKindArg::Bearer), Some("t"))).unwrap()["auth"]["token"],
            "t"
        );
        assert!(connector_body(None, &fields(None, Some("t"))).is_err());
    }
}
