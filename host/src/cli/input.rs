//! Turning `plugin run` arguments and input files into the values a plugin
//! is called with.

use std::path::Path;

use serde_json::Value;
use wasmhook_sdk::{BlockInput, Callback, find_field};

use super::CallbackArgs;
use super::error::CliError;

/// Reads a file, naming it on failure.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses a JSON argument given inline or as `@file`.
pub(super) fn json_arg(arg: &'static str, text: &str) -> Result<Value, CliError> {
    let text = match text.strip_prefix('@') {
        Some(path) => String::from_utf8_lossy(&read(Path::new(path))?).into_owned(),
        None => text.to_owned(),
    };
    serde_json::from_str(&text).map_err(|error| CliError::Arg {
        arg,
        detail: format!("not JSON: {error}"),
    })
}

/// The content type implied by an input file's extension.
pub(super) fn guess_content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => "application/json",
        Some("form") => "application/x-www-form-urlencoded",
        Some("xml") => "application/xml",
        _ => "text/plain",
    }
}

/// Builds the vendor callback a mapper sees from the input file and flags.
/// A GET with no `--query` and a `.txt` input takes the file as its query
/// string, the way GET callbacks arrive.
pub(super) fn callback(
    input: Option<&Path>,
    args: &CallbackArgs,
    body: Vec<u8>,
) -> Result<Callback, CliError> {
    let method = args.method.to_ascii_uppercase();
    let mut headers = args
        .headers
        .iter()
        .map(|header| parse_header(header))
        .collect::<Result<Vec<_>, _>>()?;

    let is_txt = input
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if method == "GET" && args.query.is_none() && is_txt {
        let query = String::from_utf8_lossy(&body)
            .trim()
            .trim_start_matches('?')
            .to_owned();
        return Ok(Callback {
            method,
            headers,
            query,
            content_type: args.content_type.clone(),
            body: Vec::new(),
        });
    }

    // A bodyless callback (a GET carried by `--query`) has no content type
    // unless one is given.
    let content_type = args
        .content_type
        .clone()
        .or_else(|| find_field(&headers, "content-type").map(str::to_owned))
        .or_else(|| input.map(|p| guess_content_type(p).to_owned()));
    if let Some(content_type) = &content_type
        && find_field(&headers, "content-type").is_none()
    {
        headers.push(("Content-Type".to_owned(), content_type.clone()));
    }
    Ok(Callback {
        method,
        headers,
        query: args.query.clone().unwrap_or_default(),
        content_type,
        body,
    })
}

fn parse_header(header: &str) -> Result<(String, String), CliError> {
    match header.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(CliError::Arg {
            arg: "--header",
            detail: format!("`{header}` is not `Name: value`"),
        }),
    }
}

/// A block's input from `{"event", "contact", "data"}`; missing parts are null.
pub(super) fn block_input(path: &Path, bytes: &[u8]) -> Result<BlockInput, CliError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| CliError::Arg {
        arg: "--input",
        detail: format!("{} is not JSON: {error}", path.display()),
    })?;
    let part = |name: &str| value.get(name).cloned().unwrap_or(Value::Null);
    Ok(BlockInput {
        event: part("event"),
        contact: part("contact"),
        data: part("data"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;
    use clap::Parser;

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["wasmhook", "plugin", "run", "p.wasm"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Plugin(crate::cli::PluginCommand::Run(args)) => *args,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn content_type_is_guessed_from_the_extension() {
        assert_eq!(guess_content_type(Path::new("a.json")), "application/json");
        assert_eq!(guess_content_type(Path::new("a.XML")), "application/xml");
        assert_eq!(
            guess_content_type(Path::new("a.form")),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(guess_content_type(Path::new("a.bin")), "text/plain");
    }

    #[test]
    fn post_callback_carries_body_headers_and_content_type() {
        let args = run_args(&["--input", "cb.json", "-H", "X-Sig: abc"]);
        let callback = callback(args.input.as_deref(), &args.callback, b"{}".to_vec()).unwrap();
        assert_eq!(callback.method, "POST");
        assert_eq!(callback.content_type.as_deref(), Some("application/json"));
        assert_eq!(find_field(&callback.headers, "x-sig"), Some("abc"));
        assert_eq!(
            find_field(&callback.headers, "content-type"),
            Some("application/json")
        );
        assert_eq!(callback.body, b"{}");
    }

    #[test]
    fn get_with_txt_input_uses_it_as_the_query() {
        let args = run_args(&["--input", "dlr.txt", "--method", "get"]);
        let callback = callback(
            args.input.as_deref(),
            &args.callback,
            b"?id=1&status=DELIVRD\n".to_vec(),
        )
        .unwrap();
        assert_eq!(callback.method, "GET");
        assert_eq!(callback.query, "id=1&status=DELIVRD");
        assert!(callback.body.is_empty());
        assert_eq!(callback.content_type, None);
    }

    #[test]
    fn malformed_header_is_refused() {
        let args = run_args(&["--input", "a.json", "-H", "no colon"]);
        assert!(callback(args.input.as_deref(), &args.callback, Vec::new()).is_err());
    }

    #[test]
    fn json_args_parse_inline() {
        assert_eq!(json_arg("--config", r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(json_arg("--config", "{").is_err());
    }
}
