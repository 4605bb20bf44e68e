//! `wasmhook plugin new`: writes a mapper, renderer or block crate that
//! builds on its own (outside this repository), with samples, their
//! `expected.json` and a native test that runs them — the starting point
//! `plugin test` then checks as a component.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::error::CliError;
use super::{NewArgs, PluginKind};

mod templates;

/// The SDK this binary was built with, when its source is still where it
/// was built (a clone of the repository).
fn sdk_beside_this_build() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().ok())
        .flatten()
}

/// Writes the crate and says what to run next.
pub(super) fn new(args: &NewArgs) -> Result<ExitCode, CliError> {
    check_name(&args.name)?;
    let parent = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let root = parent.join(&args.name);
    if root.exists()
        && std::fs::read_dir(&root)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::Arg {
            arg: "NAME",
            detail: format!(
                "{} already exists and is not empty: choose another name or --dir",
                root.display()
            ),
        });
    }
    let sdk_dependency = match args.sdk_path.clone().or_else(sdk_beside_this_build) {
        Some(path) => {
            let path = path.canonicalize().map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?;
            if !path.join("Cargo.toml").is_file() {
                return Err(CliError::Arg {
                    arg: "--sdk-path",
                    detail: format!("{} has no Cargo.toml: not the SDK crate", path.display()),
                });
            }
            format!(
                "wasmhook-sdk = {{ path = {} }}",
                toml_string(&path.to_string_lossy())
            )
        }
        None => format!("wasmhook-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let wasm_name = args.name.replace('-', "_");
    for (relative, template) in templates::files(args.kind) {
        let path = root.join(relative);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| CliError::Write {
                path: folder.to_owned(),
                source,
            })?;
        }
        let text = template
            .replace("{{name}}", &args.name)
            .replace("{{wasm_name}}", &wasm_name)
            .replace("{{sdk_dependency}}", &sdk_dependency);
        std::fs::write(&path, text).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "created {} (a {}, {sdk_dependency})",
        root.display(),
        kind_name(args.kind)
    )?;
    writeln!(stdout, "next:")?;
    writeln!(stdout, "  cd {}", root.display())?;
    writeln!(stdout, "  cargo test")?;
    writeln!(stdout, "  cargo build --release --target wasm32-wasip2")?;
    writeln!(
        stdout,
        "  wasmhook plugin test target/wasm32-wasip2/release/{wasm_name}.wasm samples"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What the kind is called in messages.
fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Mapper => "mapper",
        PluginKind::Renderer => "renderer",
        PluginKind::Block => "block",
    }
}

/// A crate name cargo takes and a plugin name the server takes: lowercase
/// ASCII letters, digits, `-` and `_`, starting with a letter.
fn check_name(name: &str) -> Result<(), CliError> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(CliError::Arg {
            arg: "NAME",
            detail: format!(
                "`{name}`: a plugin name is lowercase letters, digits, `-` and `_`, \
                 starting with a letter, at most 64 characters"
            ),
        })
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_anything_is_written() {
        for good in ["acme", "acme-sms", "acme_sms2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "2acme", "acme sms", "../acme", "acme/x"] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("lowercase letters"), "{bad}: {error}");
        }
    }

    #[test]
    fn paths_are_quoted_for_toml() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
