//! `wasmhook plugin replay`: runs a local build of a mapper over the
//! callbacks a server kept for one source — the accepted ones (kept for the
//! server's callback retention, with the events they became) and the
//! rejected ones — with the source's config, and shows per callback what
//! the build would change: events that differ field by field, rejected
//! callbacks that would now map, accepted ones it would now reject.
//! Nothing is stored; the server only answers reads.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;
use wasmhook_sdk::{Callback, Channel};

use super::ClientArgs;
use super::api_client::ApiClient;
use crate::cli::error::CliError;
use crate::cli::run::load_local;
use crate::cli::{CacheArgs, runtime};
use crate::domain::event::CanonicalEvent;
use crate::domain::rejected::{KeptCallback, RejectedCallback, StoredCallback};
use crate::ids::EventId;
use crate::runtime::{Plugin, World};

/// Arguments of `wasmhook plugin replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The mapper component (.wasm) to run: a local build.
    pub wasm: PathBuf,
    /// The source whose kept callbacks to replay (its config is used).
    #[arg(long)]
    pub source: String,
    /// Only callbacks that arrived since then: an RFC 3339 time
    /// (`2026-12-03T10:00:00Z`), epoch ms, or an age (`90s`, `30m`, `2h`,
    /// `3d`) [default: all that are kept].
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many callbacks, the newest ones (1–10000).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Show every callback, not only those whose result would change.
    #[arg(long, short)]
    pub verbose: bool,
    /// Compiled components cache.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The part of a source the replay needs.
#[derive(Debug, Deserialize)]
struct SourceView {
    name: String,
    config: Value,
    #[serde(default)]
    channel: Option<Channel>,
}

/// One kept callback, as the server stored it and what it became.
struct Kept {
    id: String,
    received_at: u64,
    callback: StoredCallback,
    /// `None` for one still rejected; the ids of its events otherwise.
    event_ids: Option<Vec<EventId>>,
    /// Why the server rejected it.
    rejection: Option<String>,
}

/// What the local build makes of one callback, against what the server
/// made of it.
enum Verdict {
    Unchanged,
    Changed(Vec<String>),
    NowMaps(Vec<String>),
    StillRejected(String),
    NowRejected(String),
}

/// Replays; exit code 1 when the build would reject a callback the server
/// accepted.
pub fn plugin_replay(args: &ReplayArgs) -> Result<ExitCode, CliError> {
    if !(1..=10_000).contains(&args.limit) {
        return Err(CliError::Arg {
            arg: "--limit",
            detail: format!("{} is out of range: 1–10000", args.limit),
        });
    }
    let since_ms = match &args.since {
        Some(text) => parse_since(text, crate::ids::now_ms())?,
        None => 0,
    };
    let server = ApiClient::connect(&args.client)?;
    let source: SourceView = decode(
        "the source",
        server.get(&["v1", "sources", &args.source], &[])?,
    )?;
    let plugin = load(args)?;
    let callbacks = fetch(&server, &source.name, since_ms, args.limit)?;
    let mut out = std::io::stdout().lock();
    if callbacks.is_empty() {
        writeln!(
            out,
            "source `{}` has no kept callbacks{} (accepted callbacks are kept for the server's \
             --callback-retention-hours)",
            source.name,
            if since_ms > 0 { " since then" } else { "" }
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut counts = [0usize; 5];
    for kept in &callbacks {
        let verdict = replay_one(&server, &plugin, &source, kept)?;
        let (slot, label, lines) = match &verdict {
            Verdict::Unchanged => (0, "unchanged", &[][..]),
            Verdict::Changed(diff) => (1, "changed", &diff[..]),
            Verdict::NowMaps(events) => (2, "now maps", &events[..]),
            Verdict::StillRejected(why) => (3, "still rejected", std::slice::from_ref(why)),
            Verdict::NowRejected(why) => (4, "NOW REJECTED", std::slice::from_ref(why)),
        };
        counts[slot] += 1;
        if slot == 0 && !args.verbose {
            continue;
        }
        writeln!(
            out,
            "{:<15} {}  {}",
            label,
            kept.id,
            describe(&kept.callback, kept.received_at)
        )?;
        for line in lines {
            writeln!(out, "    {line}")?;
        }
    }
    let [unchanged, changed, now_maps, still_rejected, now_rejected] = counts;
    writeln!(
        out,
        "{} callbacks of source `{}`: {unchanged} unchanged, {changed} changed, {now_maps} would \
         now map, {still_rejected} still rejected, {now_rejected} would now be rejected",
        callbacks.len(),
        source.name
    )?;
    Ok(if now_rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads the local build; it must be a mapper.
fn load(args: &ReplayArgs) -> Result<Plugin, CliError> {
    let plugin = load_local(&runtime(&args.cache)?, &args.wasm)?;
    if plugin.world() != World::Mapper {
        return Err(CliError::Arg {
            arg: "WASM",
            detail: format!(
                "{} is a {}: `plugin replay` runs mappers over a source's callbacks",
                args.wasm.display(),
                plugin.world()
            ),
        });
    }
    Ok(plugin)
}

/// The source's kept and rejected callbacks since `since_ms`, the newest
/// `limit` of them, oldest first.
fn fetch(
    server: &ApiClient,
    source: &str,
    since_ms: u64,
    limit: usize,
) -> Result<Vec<Kept>, CliError> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    while found.len() < limit {
        let mut query = vec![
            ("since", since_ms.to_string()),
            ("limit", (limit - found.len()).min(1000).to_string()),
        ];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let page = server.get(&["v1", "sources", source, "callbacks"], &query)?;
        let data: Vec<KeptCallback> = decode("the kept callbacks", page["data"].clone())?;
        found.extend(data.into_iter().map(|kept| Kept {
            id: kept.id.to_string(),
            received_at: kept.received_at,
            callback: kept.callback,
            event_ids: Some(kept.event_ids),
            rejection: None,
        }));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let rejected: Vec<RejectedCallback> = decode(
        "the rejected callbacks",
        server.get(
            &["v1", "sources", source, "rejected"],
            &[("limit", limit.min(1000).to_string())],
        )?,
    )?;
    found.extend(
        rejected
            .into_iter()
            .filter(|rejected| rejected.received_at >= since_ms)
            .map(|rejected| {
                // A resolved one was mapped by a retry: its events are stored.
                let resolved = !rejected.event_ids.is_empty();
                Kept {
                    id: rejected.id.to_string(),
                    received_at: rejected.received_at,
                    callback: rejected.callback,
                    event_ids: resolved.then_some(rejected.event_ids),
                    rejection: Some(format!(
                        "{}: {}",
                        rejected.error.code, rejected.error.detail
                    )),
                }
            }),
    );
    found.sort_by_key(|kept| std::cmp::Reverse(kept.received_at));
    found.truncate(limit);
    found.reverse();
    Ok(found)
}

/// Runs the build over one callback and compares with the server's result.
fn replay_one(
    server: &ApiClient,
    plugin: &Plugin,
    source: &SourceView,
    kept: &Kept,
) -> Result<Verdict, CliError> {
    let callback: Callback = kept.callback.to_callback().map_err(|error| CliError::Arg {
        arg: "--source",
        detail: format!("{}: the kept body is not base64: {error}", kept.id),
    })?;
    let outcome = plugin.map_outcome(&callback, &source.config);
    let made = match outcome.result {
        Ok(mapped) => Ok(mapped
            .events
            .into_iter()
            .map(|event| {
                comparable(
                    serde_json::to_value(CanonicalEvent::from_source_mapping(
                        EventId::new(kept.received_at),
                        event,
                        &source.name,
                        source.channel,
                        kept.received_at,
                    ))
                    .unwrap_or(Value::Null),
                )
            })
            .collect::<Vec<_>>()),
        Err(error) => Err(error.to_string()),
    };
    let Some(event_ids) = &kept.event_ids else {
        return Ok(match made {
            Ok(events) => Verdict::NowMaps(
                kept.rejection
                    .iter()
                    .map(|why| format!("was rejected: {why}"))
                    .chain(events.iter().map(|event| format!("→ {}", summary(event))))
                    .collect(),
            ),
            Err(why) => Verdict::StillRejected(why),
        });
    };
    let events = match made {
        Ok(events) => events,
        Err(why) => return Ok(Verdict::NowRejected(why)),
    };
    let mut stored = Vec::with_capacity(event_ids.len());
    for id in event_ids {
        match server.get(&["v1", "events", &id.to_string()], &[]) {
            Ok(event) => stored.push(comparable(event)),
            // Past the event retention: nothing left to compare with.
            Err(CliError::Api { status: 404, .. }) => {}
            Err(error) => return Err(error),
        }
    }
    let mut diff = Vec::new();
    for index in 0..events.len().max(stored.len()) {
        match (stored.get(index), events.get(index)) {
            (Some(old), Some(new)) => json_diff(&format!("events[{index}]"), old, new, &mut diff),
            (Some(old), None) => diff.push(format!("events[{index}]: gone ({})", summary(old))),
            (None, Some(new)) => diff.push(format!("events[{index}]: new ({})", summary(new))),
            (None, None) => {}
        }
    }
    Ok(if diff.is_empty() {
        Verdict::Unchanged
    } else {
        Verdict::Changed(diff)
    })
}

/// An event without what the server gives each stored event (its id, its
/// arrival time): what a mapper decides.
fn comparable(mut event: Value) -> Value {
    if let Some(object) = event.as_object_mut() {
        object.remove("id");
        object.remove("received_at");
    }
    event
}

/// One line about an event: its type, status and message id.
fn summary(event: &Value) -> String {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let kind = text(&event["event_type"]).unwrap_or_else(|| "event".to_owned());
    let status = text(&event["status"]["status"]).or_else(|| text(&event["status"]));
    let message = text(&event["reference"]["vendor_message_id"]);
    let mut line = kind;
    if let Some(status) = status {
        line.push_str(&format!(" {status}"));
    }
    if let Some(message) = message {
        line.push_str(&format!(" of {message}"));
    }
    line
}

/// Appends a line per leaf where `old` and `new` differ, named by its path.
fn json_diff(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let missing = Value::Null;
                json_diff(
                    &format!("{path}.{key}"),
                    a.get(key).unwrap_or(&missing),
                    b.get(key).unwrap_or(&missing),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (a, b)) in a.iter().zip(b).enumerate() {
                json_diff(&format!("{path}[{index}]"), a, b, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} → {b}")),
        _ => {}
    }
}

/// How a callback is listed: when it came, its method and size.
fn describe(callback: &StoredCallback, received_at: u64) -> String {
    let text = &callback.body_base64;
    let padding = text.bytes().rev().take_while(|&byte| byte == b'=').count();
    let bytes = (text.len() / 4 * 3).saturating_sub(padding);
    format!(
        "{} {} {bytes} bytes, received {}",
        callback.method,
        callback
            .content_type
            .as_deref()
            .unwrap_or("(no content type)"),
        http_date(received_at)
    )
}

/// `ms` as an HTTP date (UTC, to the second).
fn http_date(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    httpdate::fmt_http_date(time)
}

/// `--since`: RFC 3339, epoch ms, or an age before `now_ms`.
fn parse_since(text: &str, now_ms: u64) -> Result<u64, CliError> {
    let wrong = || CliError::Arg {
        arg: "--since",
        detail: format!(
            "`{text}` is not a time: give RFC 3339 (2026-12-03T10:00:00Z), epoch ms, or an age \
             (90s, 30m, 2h, 3d)"
        ),
    };
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let last = text.char_indices().last().map_or(0, |(at, _)| at);
    let (count, unit) = text.split_at(last);
    if let (Ok(count), Some(unit)) = (count.parse::<u64>(), unit.chars().next()) {
        let unit_ms = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(wrong()),
        };
        return Ok(now_ms.saturating_sub(count.saturating_mul(unit_ms)));
    }
    wasmhook_sdk::time::parse_timestamp(text)
        .and_then(|ms| u64::try_from(ms).ok())
        .ok_or_else(wrong)
}

/// Reads an API answer as `T`, naming `what` when it does not fit.
fn decode<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|error| CliError::Arg {
        arg: "--server",
        detail: format!("{what} from the server did not read: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn since_takes_ages_epoch_ms_and_rfc3339() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_since("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_since("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_since("3d", now).unwrap(), now - 3 * 86_400_000);
        assert_eq!(
            parse_since("1700000000000", now).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_since("2026-12-03T10:00:00Z", now).unwrap(),
            1_796_292_000_000
        );
        let wrong = parse_since("yesterday", now).unwrap_err().to_string();
        assert!(
            wrong.contains("--since") && wrong.contains("yesterday"),
            "{wrong}"
        );
        assert!(parse_since("5w", now).is_err());
        assert!(parse_since("5µ", now).is_err());
    }

    #[test]
    fn the_diff_names_each_changed_leaf_by_its_path() {
        let old = json!({"status": {"status": "sent", "code": null}, "tags": ["a"]});
        let new = json!({"status": {"status": "delivered", "code": null}, "tags": ["a", "b"]});
        let mut diff = Vec::new();
        json_diff("events[0]", &old, &new, &mut diff);
        assert_eq!(
            diff,
            vec![
                r#"events[0].status.status: "sent" → "delivered""#.to_owned(),
                r#"events[0].tags: ["a"] → ["a","b"]"#.to_owned(),
            ]
        );
    }
}
