//! `wasmhook key ...` and `wasmhook audit`: a tenant's API keys (the
//! secret shown once, scopes, revoking) and the current tenant's audit log.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;

use super::api_client::ApiClient;
use super::output::{Column, View};
use super::{ClientArgs, present, print};
use crate::cli::error::CliError;
use crate::domain::Name;

/// `wasmhook key ...`: a tenant's API keys, in the tenant `--tenant`
/// names (the admin token's alone).
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the tenant's keys, revoked ones included; never a secret.
    List(ClientArgs),
    /// Create a key with scopes; the answer carries the key (`whk_…`), this
    /// once.
    Create(KeyCreateArgs),
    /// Revoke a key: it is refused from now on.
    Revoke(KeyRevokeArgs),
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Read everything of the tenant.
    Read,
    /// Change its configuration (sources, endpoints, connectors, blocks,
    /// private plugins).
    Write,
    /// Retry, release and replay its deliveries.
    Deliveries,
    /// Invoke and test its blocks and workflows.
    Blocks,
}

impl ScopeArg {
    /// The API's name of the scope.
    fn name(self) -> &'static str {
        match self {
            ScopeArg::Read => "read",
            ScopeArg::Write => "write",
            ScopeArg::Deliveries => "deliveries",
            ScopeArg::Blocks => "blocks",
        }
    }
}

/// Arguments of `wasmhook key create`.
#[derive(Debug, Clone, Args)]
pub struct KeyCreateArgs {
    /// Who holds it (1–100 characters), shown in the audit log.
    #[arg(long)]
    pub name: String,
    /// What it may do (repeatable, or comma-separated).
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        value_enum,
        required = true,
        value_delimiter = ','
    )]
    pub scopes: Vec<ScopeArg>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook key revoke`.
#[derive(Debug, Clone, Args)]
pub struct KeyRevokeArgs {
    /// The key's id (`key_…`).
    pub id: String,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `wasmhook audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Page size, 1–1000 [server default: 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    #[arg(long, alias = "before")]
    pub cursor: Option<String>,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

const KEYS: &[Column] = &[
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("SCOPES", "scopes"),
    Column("HINT", "hint"),
    Column("CREATED", "created_at"),
    Column("REVOKED", "revoked_at"),
];
const AUDIT: &[Column] = &[
    Column("AT", "at"),
    Column("BY", "actor.kind"),
    Column("KEY", "actor.name"),
    Column("ACTION", "action"),
    Column("TARGET", "target"),
];

/// `wasmhook key ...`.
pub fn key(command: &KeyCommand) -> Result<ExitCode, CliError> {
    match command {
        KeyCommand::List(client) => {
            let tenant = key_tenant(client)?;
            let answer = ApiClient::connect(client)?
                .get(&["v1", "tenants", tenant.as_str(), "keys"], &[])?;
            print(client, &answer, &View::Rows(KEYS))
        }
        KeyCommand::Create(args) => {
            let tenant = key_tenant(&args.client)?;
            let scopes: Vec<&str> = args.scopes.iter().map(|scope| scope.name()).collect();
            let answer = ApiClient::connect(&args.client)?.post(
                &["v1", "tenants", tenant.as_str(), "keys"],
                &json!({ "name": args.name, "scopes": scopes }),
            )?;
            // On stderr, so a script reading stdout gets the JSON alone.
            eprintln!(
                "wasmhook: created key `{}` ({}) for tenant `{tenant}`; its secret is `key` \
                 below: store it now; it is not shown again",
                answer["name"].as_str().unwrap_or(&args.name),
                answer["id"].as_str().unwrap_or("?"),
            );
            print(&args.client, &answer, &View::Record(&[]))
        }
        KeyCommand::Revoke(args) => {
            let tenant = key_tenant(&args.client)?;
            let answer = ApiClient::connect(&args.client)?.call(
                Method::DELETE,
                &["v1", "tenants", tenant.as_str(), "keys", &args.id],
                &[],
                None,
            )?;
            print(&args.client, &answer, &View::Record(&[]))
        }
    }
}

/// The tenant whose keys `wasmhook key` manages: named, never assumed, so
/// a key is not made for `default` by a forgotten flag.
fn key_tenant(client: &ClientArgs) -> Result<&Name, CliError> {
    client.tenant.as_ref().ok_or_else(|| CliError::Arg {
        arg: "--tenant",
        detail: "required: the tenant whose keys these are (or set WASMHOOK_TENANT; \
                 `--tenant default` for the default tenant)"
            .to_owned(),
    })
}

/// `wasmhook audit`: the current tenant's audit log, newest first.
pub fn audit(args: &AuditArgs) -> Result<ExitCode, CliError> {
    let query = present([
        ("limit", args.limit.map(|n| n.to_string())),
        ("before", args.cursor.clone()),
    ]);
    let answer = ApiClient::connect(&args.client)?.get(&["v1", "audit"], &query)?;
    print(&args.client, &answer, &View::Page(AUDIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;

    fn parse(args: &[&str]) -> Command {
        super::super::parse_command(args).unwrap()
    }

    #[test]
    fn scopes_repeat_or_come_comma_separated() {
        let Command::Key(KeyCommand::Create(args)) = parse(&[
            "key",
            "create",
            "--name",
            "ci",
            "--scope",
            "read,write",
            "--scope",
            "blocks",
            "--tenant",
            "acme",
        ]) else {
            panic!("not a key create");
        };
        assert_eq!(
            args.scopes,
            [ScopeArg::Read, ScopeArg::Write, ScopeArg::Blocks]
        );
        assert_eq!(args.client.tenant.as_ref().map(Name::as_str), Some("acme"));
        let Command::Key(KeyCommand::List(client)) = parse(&["key", "list"]) else {
            panic!("not a key list");
        };
        let error = key_tenant(&client).unwrap_err().to_string();
        assert!(error.starts_with("invalid --tenant: required"), "{error}");
    }
}
