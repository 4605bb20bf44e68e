//! The `wasmhook` command line: argument definitions and dispatch. `main.rs`
//! parses, this module runs.

mod check;
pub mod client;
mod compile;
mod error;
mod format;
mod http;
mod input;
mod migrate;
mod progress;
mod run;
mod sample_test;
mod scaffold;
mod serve;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use compile::CompilePluginArgs;
pub use error::CliError;
pub use migrate::MigrateArgs;

use crate::config::ServeArgs;
use crate::runtime::{Runtime, RuntimeConfig};

/// wasmhook: a webhook server whose plugins are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmhook", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Copy a stopped server's embedded data dir into an empty PostgreSQL
    /// database (`--from-sled DIR --to URL`) and print what was copied.
    Migrate(MigrateArgs),
    /// Work with plugin components: locally (run, check) or on a server
    /// (push, list, get, activate).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Vendor sources on a server.
    #[command(subcommand)]
    Source(client::SourceCommand),
    /// Delivery endpoints on a server: settings, signing secrets, tests and
    /// replays.
    #[command(subcommand)]
    Endpoint(client::EndpointCommand),
    /// Deliveries of events to endpoints on a server, with their attempts.
    #[command(subcommand)]
    Delivery(client::DeliveryCommand),
    /// Canonical events on a server.
    #[command(subcommand)]
    Event(client::EventCommand),
    /// Outbound credentials on a server (secrets are write-only).
    #[command(subcommand)]
    Connector(client::ConnectorCommand),
    /// Workflow webhook blocks on a server.
    #[command(subcommand)]
    Block(client::BlockCommand),
    /// Run workflow blocks in a chain on a server.
    #[command(subcommand)]
    Workflow(client::WorkflowCommand),
    /// Render a message template on a server with event, contact and block
    /// data.
    Render(Box<client::RenderArgs>),
    /// Tenants on a server: the operator's customers, their quotas, and
    /// disabling, deleting and restoring them.
    #[command(subcommand)]
    Tenant(client::TenantCommand),
    /// A tenant's API keys on a server (`--tenant` names the tenant).
    #[command(subcommand)]
    Key(client::KeyCommand),
    /// The audit log of the current tenant on a server, newest first: every
    /// configuration change and key use (who, what, when).
    Audit(client::AuditArgs),
    /// Compile one component within limits, for a server (its child process).
    #[command(name = "__compile-plugin", hide = true)]
    CompilePlugin(CompilePluginArgs),
}

/// `wasmhook plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run a plugin once on an input file and print the result.
    Run(Box<RunArgs>),
    /// Validate a component: world, imports, exports, size and hash, or why
    /// the host would refuse it.
    Check(CheckArgs),
    /// Start a plugin crate of your own (a mapper, renderer or block):
    /// sources, samples with their expected.json, and a native test that
    /// runs them.
    New(NewArgs),
    /// Run a mapper, renderer or block over a folder of samples and compare
    /// each result with the folder's expected.json.
    Test(Box<TestArgs>),
    /// Upload a component to a server as the plugin's next version.
    Push(Box<client::PushArgs>),
    /// List a server's plugins.
    List(client::ClientArgs),
    /// Show a plugin on a server: its versions and the active one.
    Get(client::ByName),
    /// Make a version of a plugin active on a server (also a rollback).
    Activate(client::ActivateArgs),
    /// Dry-run a plugin on a server (any version) on an input file; nothing
    /// is stored.
    Invoke(Box<client::InvokeArgs>),
    /// Run a local build of a mapper over the callbacks a server kept for
    /// a source (accepted and rejected) and show which events would change.
    Replay(Box<client::ReplayArgs>),
}

/// Where compiled components are cached.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Directory for compiled components [default: $XDG_CACHE_HOME/wasmhook or ~/.cache/wasmhook].
    #[arg(long, env = "WASMHOOK_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Compile every time instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

/// How a mapper's callback arrives, besides its body: `plugin run` and
/// `plugin invoke` take the same flags.
#[derive(Debug, Clone, Args)]
pub struct CallbackArgs {
    /// Mapper: the callback's content type [default: guessed from the input's extension].
    #[arg(long)]
    pub content_type: Option<String>,
    /// Mapper: the callback's HTTP method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Mapper: the callback's query string (without `?`).
    #[arg(long)]
    pub query: Option<String>,
    /// Mapper: a callback header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
}

/// Arguments of `wasmhook plugin run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The component (.wasm) to run.
    pub wasm: PathBuf,
    /// Mapper: the callback body. Renderer: the template data (JSON).
    /// Block: `{"event", "contact", "data"}` (JSON). A mapper may go without
    /// when `--query` carries the callback (a GET).
    #[arg(long, short, required_unless_present = "query")]
    pub input: Option<PathBuf>,
    /// How the callback arrives (mappers).
    #[command(flatten)]
    pub callback: CallbackArgs,
    /// The call's configuration: JSON text, or `@file` to read it from a file.
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// The plugin-wide configuration (`plugin-config` import): JSON or `@file`.
    #[arg(long, default_value = "{}")]
    pub plugin_config: String,
    /// Renderer: the template file.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// Renderer: the body format wanted.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Block: let the block make real HTTP requests (default: all refused).
    #[arg(long)]
    pub allow_http: bool,
    /// Override the call's wall-clock deadline, in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Override the call's memory cap, in bytes.
    #[arg(long)]
    pub memory_bytes: Option<u64>,
    /// Cache settings.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Arguments of `wasmhook plugin check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The component (.wasm) to check.
    pub wasm: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Cache settings.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Arguments of `wasmhook plugin new`.
#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// The plugin's name: the crate's and its folder's (lowercase letters,
    /// digits, `-`, `_`).
    pub name: String,
    /// What kind of plugin.
    #[arg(long, value_enum, default_value_t = PluginKind::Mapper)]
    pub kind: PluginKind,
    /// Where to create the crate's folder [default: the current directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The wasmhook-sdk crate to depend on by path (a clone's `sdk/`)
    /// [default: the SDK this binary was built from when its source is
    /// still there, else the published crate of this version].
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

/// The plugins `plugin new` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PluginKind {
    /// Turns vendor callbacks into canonical events.
    Mapper,
    /// Turns a template and data (an event) into a request body.
    Renderer,
    /// A workflow block: calls out through the host and returns data.
    Block,
}

/// Arguments of `wasmhook plugin test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The component (.wasm) to test: a mapper, renderer or block (its
    /// world says how the samples are read).
    pub wasm: PathBuf,
    /// The samples: one input per file (mapper: a callback; renderer: the
    /// template data; block: `{"event", "contact", "data"}`) and an
    /// expected.json saying, per file, how it is called and what must come
    /// of it [default: samples].
    pub samples: Option<PathBuf>,
    /// Build the crate (`cargo build --release --target wasm32-wasip2`) and
    /// run the samples again whenever a file of its src/, its Cargo.toml or
    /// the samples changes.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: the crate to build [default: the folder holding the
    /// target/ the component is in].
    #[arg(long, requires = "watch")]
    pub manifest_dir: Option<PathBuf>,
    /// Cache settings.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The body formats a renderer can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JSON.
    Json,
    /// XML.
    Xml,
    /// Plain text.
    Text,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// The whole program: logging set up from `WASMHOOK_LOG` (stderr, default
/// `warn`), the command line parsed and run, a failure printed as one line.
/// `main.rs` is only this call, so tests can build the same binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return parse_failure(error),
    };
    init_logging(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // The error's message already includes its cause, one line.
            eprintln!("wasmhook: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints why the command line could not be parsed and exits. clap reports
/// a bad value from a `WASMHOOK_*` variable as if it were the flag; this
/// names the variable instead, when the flag is not on the command line.
fn parse_failure(error: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use std::error::Error as _;
    if matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) && let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg)
        && let Some(flag) = arg
            .split_whitespace()
            .next()
            .filter(|f| f.starts_with("--"))
    {
        let variable = format!(
            "WASMHOOK_{}",
            flag[2..].replace('-', "_").to_ascii_uppercase()
        );
        let on_command_line =
            std::env::args().any(|given| given == flag || given.starts_with(&format!("{flag}=")));
        if !on_command_line && let Ok(value) = std::env::var(&variable) {
            let reason = match error.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(_)) | None => error
                    .source()
                    .map(|source| source.to_string())
                    .unwrap_or_else(|| "not a valid value".to_owned()),
                Some(other) => other.to_string(),
            };
            eprintln!(
                "wasmhook: environment variable {variable}=`{value}` is not a valid value for {flag}: {reason}"
            );
            return ExitCode::from(2);
        }
    }
    error.exit()
}

/// Logs go to stderr, filtered by `WASMHOOK_LOG` (default `info` for the
/// server, `warn` for one-off commands); the server logs JSON lines when
/// asked (`--log-json` / `WASMHOOK_LOG_JSON`).
fn init_logging(cli: &Cli) {
    let (default_level, json) = match &cli.command {
        // The file's `log_json` counts too; a config that does not resolve
        // is reported once logging is up, by `serve`.
        Command::Serve(args) => (
            "info",
            args.resolve()
                .map(|config| config.log_json)
                .unwrap_or(false),
        ),
        _ => ("warn", false),
    };
    let filter = log_filter(std::env::var("WASMHOOK_LOG").ok().as_deref(), default_level);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The log filter for a `WASMHOOK_LOG` value. A bare level (`debug`) is
/// wasmhook's own level, with the libraries below it (wasmtime, cranelift,
/// hyper, sled) kept at `warn`: at `debug` they write more than 99 % of
/// the lines. Directives (`wasmhook=debug,hyper=info`) are taken as
/// written; an unreadable value falls back to the default level.
fn log_filter(value: Option<&str>, default_level: &str) -> tracing_subscriber::EnvFilter {
    let value = value.map(str::trim).filter(|value| !value.is_empty());
    let directives = match value {
        Some(level) if level.parse::<tracing::Level>().is_ok() || level == "off" => {
            own_level(level)
        }
        Some(directives) => directives.to_owned(),
        None => own_level(default_level),
    };
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(own_level(default_level)))
}

/// `level` for wasmhook's own code, `warn` (or less) for everything else.
fn own_level(level: &str) -> String {
    let libraries = match level.to_ascii_lowercase().as_str() {
        "error" | "off" => level.to_owned(),
        _ => "warn".to_owned(),
    };
    format!("{libraries},wasmhook={level}")
}

/// Runs a parsed command line; the exit code says whether it succeeded.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Serve(args) => serve::serve(&args),
        Command::Migrate(args) => migrate::migrate(&args),
        Command::Plugin(PluginCommand::Run(args)) => run::run(&args),
        Command::Plugin(PluginCommand::Check(args)) => check::check(&args),
        Command::Plugin(PluginCommand::New(args)) => scaffold::new(&args),
        Command::Plugin(PluginCommand::Test(args)) => sample_test::test(&args),
        Command::Plugin(PluginCommand::Push(args)) => client::plugin_push(&args),
        Command::Plugin(PluginCommand::List(args)) => client::plugin_list(&args),
        Command::Plugin(PluginCommand::Get(args)) => client::plugin_get(&args),
        Command::Plugin(PluginCommand::Activate(args)) => client::plugin_activate(&args),
        Command::Plugin(PluginCommand::Invoke(args)) => client::plugin_invoke(&args),
        Command::Plugin(PluginCommand::Replay(args)) => client::plugin_replay(&args),
        Command::Source(command) => client::source(&command),
        Command::Endpoint(command) => client::endpoint(&command),
        Command::Delivery(command) => client::delivery(&command),
        Command::Event(command) => client::event(&command),
        Command::Connector(command) => client::connector(&command),
        Command::Block(command) => client::block(&command),
        Command::Workflow(command) => client::workflow(&command),
        Command::Render(args) => client::render(&args),
        Command::Tenant(command) => client::tenant(&command),
        Command::Key(command) => client::key(&command),
        Command::Audit(args) => client::audit(&args),
        Command::CompilePlugin(args) => Ok(compile::compile_plugin(&args)),
    }
}

/// A runtime for one command-line invocation.
fn runtime(cache: &CacheArgs) -> Result<Runtime, CliError> {
    let cache_dir = if cache.no_cache {
        None
    } else {
        cache.cache_dir.clone().or_else(default_cache_dir)
    };
    let config = RuntimeConfig {
        cache_dir,
        // One call at a time: a small pool starts faster.
        max_instances: 4,
        // A one-off run can afford fuel metering, so stderr reports how much
        // work the call did (fuel ≈ wasm instructions), not only its time.
        fuel: true,
        ..RuntimeConfig::default()
    };
    Runtime::new(config).map_err(CliError::Runtime)
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("wasmhook"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_wasmhooks_own_and_libraries_stay_at_warn() {
        assert_eq!(own_level("debug"), "warn,wasmhook=debug");
        assert_eq!(own_level("error"), "error,wasmhook=error");
        let directives = |filter: tracing_subscriber::EnvFilter| {
            let mut parts: Vec<String> = filter.to_string().split(',').map(str::to_owned).collect();
            parts.sort();
            parts
        };
        assert_eq!(
            directives(log_filter(Some("debug"), "info")),
            ["warn", "wasmhook=debug"]
        );
        assert_eq!(
            directives(log_filter(None, "info")),
            ["warn", "wasmhook=info"]
        );
        // Directives are the operator's own choice.
        assert_eq!(
            directives(log_filter(Some("wasmhook=trace,hyper=info"), "info")),
            ["hyper=info", "wasmhook=trace"]
        );
    }
}
