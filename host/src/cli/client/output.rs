//! How the client commands print the server's answer: indented JSON for
//! scripts, or for people a table per list and `key: value` lines per
//! record (`-o table|json`; tables by default on a terminal).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::cli::error::CliError;

/// The longest cell a table shows; longer text ends in `…`.
const MAX_CELL_CHARS: usize = 60;

/// `-o`: how an answer is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Columns for lists, `key: value` lines for one record.
    Table,
    /// The server's JSON answer, indented.
    Json,
}

impl OutputFormat {
    /// The format asked for, or by default a table for a person at a
    /// terminal and JSON for a pipe or a file.
    pub(super) fn resolve(asked: Option<OutputFormat>) -> OutputFormat {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                OutputFormat::Table
            } else {
                OutputFormat::Json
            }
        })
    }
}

/// A table column: its header and where its value is in each row (a
/// dotted path, `auth.kind`).
pub(super) struct Column(pub &'static str, pub &'static str);

/// How an answer reads as text.
pub(super) enum View {
    /// An array of records: one row each.
    Rows(&'static [Column]),
    /// A page `{data: [...], next_cursor}`: rows, then the next cursor.
    Page(&'static [Column]),
    /// One record: a `key: value` line per field (nested objects as dotted
    /// keys); the arrays named here follow as tables.
    Record(&'static [(&'static str, &'static [Column])]),
    /// One text field printed as it is (a rendered message body).
    Text(&'static str),
}

/// Prints `answer` as `format` asks (nothing for an empty answer). A
/// reader that stops early (`| head`) is not a failure: the request
/// succeeded.
pub(super) fn print(
    format: Option<OutputFormat>,
    answer: &Value,
    view: &View,
) -> Result<ExitCode, CliError> {
    if answer.is_null() {
        return Ok(ExitCode::SUCCESS);
    }
    let text = match OutputFormat::resolve(format) {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(answer).map_err(std::io::Error::from)?;
            text.push('\n');
            text
        }
        OutputFormat::Table => render(answer, view),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The text of `answer` in `view`; an answer not of the expected shape
/// falls back to `key: value` lines.
fn render(answer: &Value, view: &View) -> String {
    match (view, answer) {
        (View::Rows(columns), Value::Array(rows)) => table(columns, rows),
        (View::Page(columns), Value::Object(page)) => {
            let rows = page.get("data").and_then(Value::as_array);
            let mut text = table(columns, rows.map_or(&[][..], Vec::as_slice));
            if let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) {
                text.push_str(&format!("next page: --cursor {cursor}\n"));
            }
            text
        }
        (View::Text(field), Value::Object(record)) => match record.get(*field) {
            Some(Value::String(body)) if body.ends_with('\n') => body.clone(),
            Some(Value::String(body)) => format!("{body}\n"),
            _ => record_lines(record, &[]),
        },
        (View::Record(tables), Value::Object(record)) => record_lines(record, tables),
        (_, Value::Object(record)) => record_lines(record, &[]),
        (_, other) => format!("{}\n", cell(None, other)),
    }
}

/// A table: headers, then one line per row, columns padded to their
/// widest cell; `(none)` for an empty list.
fn table(columns: &[Column], rows: &[Value]) -> String {
    if rows.is_empty() {
        return "(none)\n".to_owned();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|Column(_, path)| {
                    let value = lookup(row, path).unwrap_or(&Value::Null);
                    clip(&cell(path.rsplit('.').next(), value))
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(index, Column(header, _))| {
            cells
                .iter()
                .map(|row| row[index].chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    let headers = columns.iter().map(|Column(header, _)| (*header).to_owned());
    for line in std::iter::once(headers.collect::<Vec<_>>()).chain(cells) {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(padded.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// `key: value` lines for a record, nested objects under dotted keys, and
/// the arrays `tables` names as tables after them.
fn record_lines(record: &Map<String, Value>, tables: &[(&str, &[Column])]) -> String {
    let mut fields = Vec::new();
    flatten("", record, tables, &mut fields);
    // `key:` padded to the longest, then one space.
    let width = fields
        .iter()
        .map(|(key, _)| key.len() + 1)
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (key, value) in &fields {
        text.push_str(format!("{:<width$} {value}", format!("{key}:")).trim_end());
        text.push('\n');
    }
    for (key, columns) in tables {
        if let Some(Value::Array(rows)) = record.get(*key) {
            text.push_str(&format!("\n{key}:\n"));
            text.push_str(&table(columns, rows));
        }
    }
    text
}

fn flatten(
    prefix: &str,
    record: &Map<String, Value>,
    tables: &[(&str, &[Column])],
    fields: &mut Vec<(String, String)>,
) {
    for (key, value) in record {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if tables.iter().any(|(name, _)| *name == path) {
            continue;
        }
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten(&path, inner, &[], fields),
            _ => fields.push((path, cell(Some(key), value))),
        }
    }
}

/// The value at a dotted path.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |value, key| value.as_object()?.get(key))
}

/// One value as text: `-` for null, times (`at`, `*_at`, epoch ms) as UTC,
/// lists of plain values joined, anything else compact JSON.
fn cell(key: Option<&str>, value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Number(number) => match number.as_u64() {
            Some(ms) if key.is_some_and(|key| key == "at" || key.ends_with("_at")) => utc(ms),
            _ => number.to_string(),
        },
        Value::Bool(flag) => flag.to_string(),
        Value::Array(items)
            if items
                .iter()
                .all(|item| !item.is_object() && !item.is_array()) =>
        {
            if items.is_empty() {
                "[]".to_owned()
            } else {
                items
                    .iter()
                    .map(|item| cell(None, item))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        other => other.to_string(),
    }
}

/// Shortens a cell to [`MAX_CELL_CHARS`], on one line.
fn clip(text: &str) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    match one_line.char_indices().nth(MAX_CELL_CHARS - 1) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Epoch milliseconds as `2024-05-01 12:00:00Z`.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(1_709_251_199_000), "2024-02-29 23:59:59Z");
        assert_eq!(utc(1_735_689_600_000), "2025-01-01 00:00:00Z");
    }

    #[test]
    fn lists_are_padded_columns() {
        const COLUMNS: &[Column] = &[
            Column("ID", "id"),
            Column("KIND", "auth.kind"),
            Column("NOTE", "description"),
        ];
        let rows = json!([
            {"id": "conn_1", "auth": {"kind": "bearer"}, "description": null},
            {"id": "conn_22", "auth": {"kind": "api_key"}, "description": "x".repeat(80)},
        ]);
        let text = render(&rows, &View::Rows(COLUMNS));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID       KIND     NOTE");
        assert_eq!(lines[1], "conn_1   bearer   -");
        assert!(lines[2].starts_with("conn_22  api_key  xxx"));
        assert!(lines[2].ends_with('…'));
        assert_eq!(lines[2].chars().count(), 18 + MAX_CELL_CHARS);
        assert_eq!(render(&json!([]), &View::Rows(COLUMNS)), "(none)\n");
    }

    #[test]
    fn a_record_is_key_value_lines_with_its_tables_after() {
        const ATTEMPTS: &[Column] = &[Column("#", "number"), Column("STATUS", "status")];
        let record = json!({
            "id": "msg_1",
            "created_at": 0,
            "retry": {"max_attempts": 15},
            "tags": ["a", "b"],
            "attempts": [{"number": 1, "status": 503}],
        });
        let text = render(&record, &View::Record(&[("attempts", ATTEMPTS)]));
        assert_eq!(
            text,
            "id:                 msg_1\n\
             created_at:         1970-01-01 00:00:00Z\n\
             retry.max_attempts: 15\n\
             tags:               a, b\n\
             \n\
             attempts:\n\
             #  STATUS\n\
             1  503\n"
        );
    }

    #[test]
    fn a_page_names_its_next_cursor() {
        const COLUMNS: &[Column] = &[Column("ID", "id")];
        let page = json!({"data": [{"id": "evt_1"}], "next_cursor": "c1"});
        assert_eq!(
            render(&page, &View::Page(COLUMNS)),
            "ID\nevt_1\nnext page: --cursor c1\n"
        );
    }
}
