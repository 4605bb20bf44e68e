//! `wasmhook tenant ...`: the operator's customers with their quotas,
//! disabled, deleted and restored.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::api_client::ApiClient;
use super::output::{Column, View};
use super::{BodyBuilder, ClientArgs, parse_name, present, print};
use crate::cli::error::CliError;
use crate::domain::Name;

/// `wasmhook tenant ...`: the operator's customers.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// List the live tenants, or with `--deleted` the deleted ones, with
    /// what each uses.
    List(TenantListArgs),
    /// Show a tenant with its quotas and usage; without a name, the
    /// caller's own: a key's tenant, or for the admin token `--tenant`'s
    /// (`default` without it).
    Get(TenantGetArgs),
    /// Add a tenant: a customer with its own sources, endpoints,
    /// connectors, blocks, events, keys and quotas.
    Create(Box<TenantCreateArgs>),
    /// Change a tenant's display name, quotas or private plugins; what is
    /// not given stays as it is.
    Update(Box<TenantUpdateArgs>),
    /// Disable a tenant: its keys are refused and its sources refuse
    /// callbacks (403) until it is enabled; nothing is deleted.
    Disable(TenantByName),
    /// Enable a disabled tenant.
    Enable(TenantByName),
    /// Delete a tenant (soft: it acts as disabled, its records are kept,
    /// and `restore` brings it back). `default` cannot be deleted.
    Delete(TenantByName),
    /// Bring a deleted tenant back.
    Restore(TenantByName),
}

/// A tenant command that names one tenant.
#[derive(Debug, Clone, Args)]
pub struct TenantByName {
    /// The tenant's name.
    #[arg(value_parser = parse_name)]
    pub name: Name,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook tenant list`.
#[derive(Debug, Clone, Args)]
pub struct TenantListArgs {
    /// List only the deleted tenants.
    #[arg(long)]
    pub deleted: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook tenant get`.
#[derive(Debug, Clone, Args)]
pub struct TenantGetArgs {
    /// The tenant's name (the admin token's); without it, the caller's own
    /// tenant (`GET /v1/tenant`).
    #[arg(value_parser = parse_name)]
    pub name: Option<Name>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A quota's value on the command line: a number, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// No limit (the field is `null`).
    Unlimited,
    /// At most this many.
    At(u32),
}

fn parse_limit(text: &str) -> Result<Limit, String> {
    match text.trim() {
        "unlimited" | "none" => Ok(Limit::Unlimited),
        number => number.parse().map(Limit::At).map_err(|_| {
            format!("`{number}` is neither a whole number (0 to 4294967295) nor `unlimited`")
        }),
    }
}

/// The quotas `create` and `update` take as flags: a number, or
/// `unlimited`. On update the others stay as they are.
#[derive(Debug, Clone, Args)]
pub struct QuotaFlags {
    /// Vendor callbacks a second over all the tenant's sources, or
    /// `unlimited`; beyond it ingest answers 429 `over_quota` with
    /// `Retry-After`.
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    pub ingest_per_second: Option<Limit>,
    /// How many sources the tenant may have, or `unlimited` (403
    /// `quota_exceeded` beyond).
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    pub max_sources: Option<Limit>,
    /// How many endpoints the tenant may have, or `unlimited` (403
    /// `quota_exceeded` beyond).
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    pub max_endpoints: Option<Limit>,
    /// The tenant's weight in the plugin queue when plugins are busy,
    /// 1–1000, or `unlimited` for the default (1).
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    pub plugin_share: Option<Limit>,
    /// Days the tenant's events are kept, or `unlimited`.
    #[arg(long, value_name = "DAYS", value_parser = parse_limit)]
    pub event_retention_days: Option<Limit>,
}

impl QuotaFlags {
    /// The flags given, under the API's field names.
    fn given(&self) -> Vec<(&'static str, Value)> {
        [
            ("ingest_per_second", self.ingest_per_second),
            ("max_sources", self.max_sources),
            ("max_endpoints", self.max_endpoints),
            ("plugin_share", self.plugin_share),
            ("event_retention_days", self.event_retention_days),
        ]
        .into_iter()
        .filter_map(|(field, limit)| {
            limit.map(|limit| match limit {
                Limit::Unlimited => (field, Value::Null),
                Limit::At(n) => (field, json!(n)),
            })
        })
        .collect()
    }

    /// `quotas` with the flags given set over it.
    fn over(&self, quotas: Option<&Value>) -> Value {
        let mut fields = match quotas {
            Some(Value::Object(fields)) => fields.clone(),
            _ => Map::new(),
        };
        for (field, value) in self.given() {
            fields.insert(field.to_owned(), value);
        }
        // The API takes absent and `null` alike; absent reads better.
        fields.retain(|_, value| !value.is_null());
        Value::Object(fields)
    }
}

/// Arguments of `wasmhook tenant create`.
#[derive(Debug, Clone, Args)]
pub struct TenantCreateArgs {
    /// The tenant's name (a slug): what `--tenant` and
    /// `X-Wasmhook-Tenant` name. It never changes.
    #[arg(value_parser = parse_name)]
    pub name: Name,
    /// Free text for people (the customer's name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The quotas.
    #[command(flatten)]
    pub quotas: QuotaFlags,
    /// Let the tenant's keys upload private plugins, which only it sees.
    #[arg(long)]
    pub allow_private_plugins: bool,
    /// The whole body as the API takes it (JSON, or `@file`); the flags
    /// given set their fields over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook tenant update`.
#[derive(Debug, Clone, Args)]
pub struct TenantUpdateArgs {
    /// The tenant's name.
    #[arg(value_parser = parse_name)]
    pub name: Name,
    /// Free text for people.
    #[arg(long)]
    pub display_name: Option<String>,
    /// The quotas to change; the others stay.
    #[command(flatten)]
    pub quotas: QuotaFlags,
    /// Let the tenant's keys upload private plugins.
    #[arg(long, conflicts_with = "deny_private_plugins")]
    pub allow_private_plugins: bool,
    /// No more private plugin uploads by the tenant's keys.
    #[arg(long)]
    pub deny_private_plugins: bool,
    /// The fields to change as the API takes them (JSON, or `@file`;
    /// `quotas` replaces them whole); the flags given set their fields
    /// over it.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

const TENANTS: &[Column] = &[
    Column("NAME", "name"),
    Column("DISPLAY NAME", "display_name"),
    Column("DISABLED", "disabled"),
    Column("SOURCES", "usage.sources"),
    Column("ENDPOINTS", "usage.endpoints"),
    Column("INGEST/S", "quotas.ingest_per_second"),
    Column("PRIVATE PLUGINS", "allow_private_plugins"),
    Column("CREATED", "created_at"),
];
/// `wasmhook tenant ...`.
pub fn tenant(command: &TenantCommand) -> Result<ExitCode, CliError> {
    match command {
        TenantCommand::List(args) => {
            let query = present([("deleted", args.deleted.then(|| "true".to_owned()))]);
            let answer = ApiClient::connect(&args.client)?.get(&["v1", "tenants"], &query)?;
            print(&args.client, &answer, &View::Rows(TENANTS))
        }
        TenantCommand::Get(args) => {
            let server = ApiClient::connect(&args.client)?;
            let answer = match &args.name {
                Some(name) => server.get(&["v1", "tenants", name.as_str()], &[])?,
                None => server.get(&["v1", "tenant"], &[])?,
            };
            print(&args.client, &answer, &View::Record(&[]))
        }
        TenantCommand::Create(args) => {
            let body = create_body(args)?;
            let answer = ApiClient::connect(&args.client)?.post(&["v1", "tenants"], &body)?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        TenantCommand::Update(args) => {
            let server = ApiClient::connect(&args.client)?;
            let path = ["v1", "tenants", args.name.as_str()];
            // The API replaces `quotas` whole: a quota flag changes one
            // and keeps the others as they are now.
            let current = if args.quotas.given().is_empty() {
                None
            } else {
                Some(server.get(&path, &[])?)
            };
            let body = update_body(args, current.as_ref())?;
            let answer = server.call(Method::PATCH, &path, &[], Some(&body))?;
            print(&args.client, &answer, &View::Record(&[]))
        }
        TenantCommand::Disable(args) => set_disabled(args, true),
        TenantCommand::Enable(args) => set_disabled(args, false),
        TenantCommand::Delete(args) => {
            ApiClient::connect(&args.client)?.call(
                Method::DELETE,
                &["v1", "tenants", args.name.as_str()],
                &[],
                None,
            )?;
            eprintln!(
                "wasmhook: deleted tenant `{0}`: its keys and sources are refused, its records \
                 kept (`wasmhook tenant restore {0}` brings it back)",
                args.name
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Restore(args) => {
            let answer = ApiClient::connect(&args.client)?.call(
                Method::POST,
                &["v1", "tenants", args.name.as_str(), "restore"],
                &[],
                None,
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
    }
}

/// `tenant disable|enable`: `PATCH` with `disabled`.
fn set_disabled(args: &TenantByName, disabled: bool) -> Result<ExitCode, CliError> {
    let answer = ApiClient::connect(&args.client)?.call(
        Method::PATCH,
        &["v1", "tenants", args.name.as_str()],
        &[],
        Some(&json!({ "disabled": disabled })),
    )?;
    print(&args.client, &answer, &View::Record(&[]))
}

/// The `POST /v1/tenants` body: `--json`, then the flags given over it.
fn create_body(args: &TenantCreateArgs) -> Result<Value, CliError> {
    let mut body = BodyBuilder::new(args.json.as_deref())?;
    body.set("name", Some(json!(args.name)))
        .set("display_name", args.display_name.as_ref().map(|d| json!(d)))
        .set(
            "allow_private_plugins",
            args.allow_private_plugins.then_some(json!(true)),
        );
    if !args.quotas.given().is_empty() {
        let quotas = args.quotas.over(body.0.get("quotas"));
        body.set("quotas", Some(quotas));
    }
    Ok(body.build())
}

/// The `PATCH /v1/tenants/{name}` body: `--json`, then the flags given
/// over it; quota flags over `--json`'s quotas, else over `current`'s.
fn update_body(args: &TenantUpdateArgs, current: Option<&Value>) -> Result<Value, CliError> {
    let mut body = BodyBuilder::new(args.json.as_deref())?;
    let private = match (args.allow_private_plugins, args.deny_private_plugins) {
        (true, _) => Some(json!(true)),
        (_, true) => Some(json!(false)),
        _ => None,
    };
    body.set("display_name", args.display_name.as_ref().map(|d| json!(d)))
        .set("allow_private_plugins", private);
    if !args.quotas.given().is_empty() {
        let base = body
            .0
            .get("quotas")
            .or_else(|| current.and_then(|tenant| tenant.get("quotas")))
            .cloned();
        body.set("quotas", Some(args.quotas.over(base.as_ref())));
    }
    let body = body.build();
    if body.as_object().is_some_and(Map::is_empty) {
        return Err(CliError::Arg {
            arg: "arguments",
            detail: "nothing to change: give --display-name, a quota flag, \
                     --allow-private-plugins, --deny-private-plugins or --json"
                .to_owned(),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;

    fn parse(args: &[&str]) -> Command {
        super::super::parse_command(args).unwrap()
    }

    #[test]
    fn create_sends_the_flags_given_and_quotas_over_json() {
        let Command::Tenant(TenantCommand::Create(args)) = parse(&[
            "tenant",
            "create",
            "acme",
            "--display-name",
            "Acme Corp",
            "--max-sources",
            "10",
            "--ingest-per-second",
            "50",
            "--json",
            r#"{"quotas": {"plugin_share": 2}}"#,
        ]) else {
            panic!("not a tenant create");
        };
        assert_eq!(
            create_body(&args).unwrap(),
            json!({"name": "acme", "display_name": "Acme Corp",
                   "quotas": {"plugin_share": 2, "max_sources": 10, "ingest_per_second": 50}})
        );
    }

    #[test]
    fn an_update_changes_one_quota_and_keeps_the_others() {
        let Command::Tenant(TenantCommand::Update(args)) = parse(&[
            "tenant",
            "update",
            "acme",
            "--max-endpoints",
            "3",
            "--ingest-per-second",
            "unlimited",
            "--deny-private-plugins",
        ]) else {
            panic!("not a tenant update");
        };
        let current = json!({"name": "acme",
            "quotas": {"ingest_per_second": 5, "max_sources": 2, "max_endpoints": null}});
        assert_eq!(
            update_body(&args, Some(&current)).unwrap(),
            json!({"allow_private_plugins": false,
                   "quotas": {"max_sources": 2, "max_endpoints": 3}})
        );
    }

    #[test]
    fn an_update_with_nothing_to_change_is_refused() {
        let Command::Tenant(TenantCommand::Update(args)) = parse(&["tenant", "update", "acme"])
        else {
            panic!("not a tenant update");
        };
        let error = update_body(&args, None).unwrap_err().to_string();
        assert!(error.contains("nothing to change"), "{error}");
    }

    #[test]
    fn bad_names_scopes_and_limits_name_their_flag() {
        let error = |args: &[&str]| super::super::parse_command(args).unwrap_err();
        let scope = error(&["key", "create", "--name", "ci", "--scope", "admin"]);
        assert!(
            scope.contains("--scope") && scope.contains("admin"),
            "{scope}"
        );
        let tenant = error(&["source", "list", "--tenant", "Acme Corp"]);
        assert!(
            tenant.contains("--tenant") && tenant.contains("not a valid name"),
            "{tenant}"
        );
        let name = error(&["tenant", "create", "Acme"]);
        assert!(
            name.contains("<NAME>") && name.contains("not a valid name"),
            "{name}"
        );
        let limit = error(&["tenant", "update", "acme", "--max-sources", "lots"]);
        assert!(limit.contains("--max-sources"), "{limit}");
    }
}
