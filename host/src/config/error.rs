//! Why a configuration is unusable, naming the setting and the place it
//! was set: the config file, a `WASMHOOK_*` variable or a flag.

use std::path::PathBuf;

/// Where a setting's value came from, lowest priority first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The default declared with the setting.
    Default,
    /// The config file (`--config`).
    File(PathBuf),
    /// The setting's `WASMHOOK_*` environment variable.
    Environment,
    /// The setting's flag.
    Flag,
}

impl Origin {
    /// The place as a person finds it: `config file PATH`, `environment
    /// variable WASMHOOK_FIELD`, `flag --field`.
    pub fn describe(&self, field: &str) -> String {
        match self {
            Origin::Default => "the default".to_owned(),
            Origin::File(path) => format!("config file {}", path.display()),
            Origin::Environment => {
                format!(
                    "environment variable WASMHOOK_{}",
                    field.to_ascii_uppercase()
                )
            }
            Origin::Flag => format!("flag --{}", field.replace('_', "-")),
        }
    }
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or has a key that is no
    /// setting.
    #[error("config file {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A value is out of range, and where it was set.
    #[error("{}: `{field}` {detail}", origin.describe(field))]
    InvalidAt {
        /// Where the value came from.
        origin: Origin,
        /// The setting.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// A value is out of range, and it is not known where it was set.
    #[error("config field `{field}`: {detail}")]
    Invalid {
        /// The setting.
        field: String,
        /// What is wrong.
        detail: String,
    },
}

/// A setting out of its range, before it is known where it was set.
#[derive(Debug)]
pub(super) struct Invalid {
    /// The setting.
    pub(super) field: &'static str,
    /// What is wrong.
    pub(super) detail: String,
}

impl ConfigError {
    /// `invalid` located at `origin`; a default stays unlocated.
    pub(super) fn at(origin: Origin, field: &str, detail: String) -> Self {
        match origin {
            Origin::Default => ConfigError::Invalid {
                field: field.to_owned(),
                detail,
            },
            origin => ConfigError::InvalidAt {
                origin,
                field: field.to_owned(),
                detail,
            },
        }
    }
}
