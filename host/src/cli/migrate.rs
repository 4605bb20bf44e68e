//! `wasmhook migrate --from-sled DIR --to URL`: copies a stopped embedded
//! server's data dir into an empty PostgreSQL database (see
//! [`crate::store::migrate_sled`]) and prints what it copied, one line per
//! kind (or one JSON object with `--json`).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::domain::Secret;
use crate::store::{Copied, migrate_sled, without_password};

/// How many records of a large kind go between two progress lines.
const PROGRESS_EVERY: u64 = 100_000;

/// Arguments of `wasmhook migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data dir of a stopped server on the embedded store (what
    /// `wasmhook serve --data-dir DIR` wrote). Its records stay in it.
    #[arg(long, value_name = "DIR")]
    pub from_sled: PathBuf,
    /// The PostgreSQL database to copy into
    /// (`postgres://user:password@host:port/database`): it must hold no
    /// records; its schema is migrated first.
    #[arg(long, value_name = "URL", env = "WASMHOOK_DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub to: Secret,
    /// Print what was copied as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

/// Runs the copy on a runtime of its own and prints the summary.
pub(super) fn migrate(args: &MigrateArgs) -> Result<ExitCode, CliError> {
    let url = args.to.expose();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(CliError::Arg {
            arg: "--to",
            detail: format!(
                "`{}` is not a PostgreSQL URL (postgres://user:password@host:port/database)",
                without_password(url)
            ),
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Large kinds report every 100 000 records, so a long copy shows it moves.
    let mut next_report: HashMap<&'static str, u64> = HashMap::new();
    let progress = move |kind: &'static str, count: u64| {
        let next = next_report.entry(kind).or_insert(PROGRESS_EVERY);
        if count >= *next {
            eprintln!("wasmhook: {count} {kind} copied so far…");
            *next = (count / PROGRESS_EVERY + 1) * PROGRESS_EVERY;
        }
    };
    let copied = runtime.block_on(migrate_sled(&args.from_sled, url, progress))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &copied).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        for (kind, count) in summary_lines(&copied) {
            writeln!(out, "{kind:<20} {count}")?;
        }
    }
    out.flush()?;
    eprintln!(
        "wasmhook: copied {} into {}. Start the servers with --database-url and --admin-token \
         (the admin token is not in the database; this data dir's own, if generated, is in \
         its admin_token file).",
        args.from_sled.display(),
        without_password(url)
    );
    Ok(ExitCode::SUCCESS)
}

/// The summary: one line per kind, with its count.
fn summary_lines(copied: &Copied) -> Vec<(&'static str, String)> {
    let done = copied.deliveries_succeeded + copied.deliveries_failed;
    vec![
        ("tenants", copied.tenants.to_string()),
        ("api keys", copied.api_keys.to_string()),
        ("audit entries", copied.audit_entries.to_string()),
        ("plugins", copied.plugins.to_string()),
        ("plugin versions", copied.plugin_versions.to_string()),
        ("sources", copied.sources.to_string()),
        ("endpoints", copied.endpoints.to_string()),
        ("connectors", copied.connectors.to_string()),
        ("blocks", copied.blocks.to_string()),
        ("events", copied.events.to_string()),
        ("deliveries pending", copied.deliveries_pending.to_string()),
        (
            "deliveries done",
            format!(
                "{done} ({} succeeded, {} failed)",
                copied.deliveries_succeeded, copied.deliveries_failed
            ),
        ),
        ("attempts", copied.attempts.to_string()),
        ("rejected callbacks", copied.rejected_callbacks.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_kind_once_with_its_count() {
        let copied = Copied {
            deliveries_pending: 2,
            deliveries_succeeded: 3,
            deliveries_failed: 1,
            events: 6,
            ..Copied::default()
        };
        let lines = summary_lines(&copied);
        let kinds: Vec<&str> = lines.iter().map(|(kind, _)| *kind).collect();
        for kind in [
            "plugins",
            "plugin versions",
            "sources",
            "endpoints",
            "connectors",
            "blocks",
            "tenants",
            "api keys",
            "events",
            "deliveries pending",
            "deliveries done",
            "rejected callbacks",
        ] {
            assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind}");
        }
        let count = |kind: &str| {
            lines
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, count)| count.clone())
        };
        assert_eq!(count("events").as_deref(), Some("6"));
        assert_eq!(count("deliveries pending").as_deref(), Some("2"));
        assert_eq!(
            count("deliveries done").as_deref(),
            Some("4 (3 succeeded, 1 failed)")
        );
    }
}
