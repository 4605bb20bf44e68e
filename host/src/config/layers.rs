//! [`ServeArgs`]: the command line of `wasmhook serve`, and the layering
//! of its settings with figment: the declared defaults, then the config
//! file, then `WASMHOOK_*` variables, then flags. Each layer knows its
//! origin, so a bad value is reported with the place it was set.

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::ServeConfig;
use super::error::{ConfigError, Invalid, Origin};

/// `wasmhook serve`'s command line: a config file, and every setting of
/// [`ServeConfig`] as a flag or a `WASMHOOK_*` variable. Only the settings
/// given are kept: a flag left out lets the file's value stand.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// The TOML configuration file (`--config`).
    pub config: Option<PathBuf>,
    /// The settings given as `WASMHOOK_*` variables.
    from_environment: Dict,
    /// The settings given as flags.
    from_flags: Dict,
}

/// `--config`, apart from the settings: it names the file, it is no key in it.
#[derive(Args)]
struct ConfigFileArg {
    /// A TOML configuration file; its keys are the flags' names with `_`.
    #[arg(long, env = "WASMHOOK_CONFIG")]
    config: Option<PathBuf>,
}

impl Args for ServeArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        ServeConfig::augment_args(ConfigFileArg::augment_args(command))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let config = ConfigFileArg::from_arg_matches(matches)?.config;
        // clap fills in every default; keep only the values given, by where
        // clap found them.
        let mut parsed = to_dict(&ServeConfig::from_arg_matches(matches)?)
            .map_err(|error| clap::Error::raw(clap::error::ErrorKind::InvalidUtf8, error))?;
        let mut args = ServeArgs {
            config,
            ..ServeArgs::default()
        };
        for id in matches.ids() {
            let Some(value) = parsed.remove(id.as_str()) else {
                continue;
            };
            let layer = match matches.value_source(id.as_str()) {
                Some(ValueSource::EnvVariable) => &mut args.from_environment,
                Some(ValueSource::CommandLine) => &mut args.from_flags,
                _ => continue,
            };
            layer.insert(id.to_string(), value);
        }
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl ServeArgs {
    /// Layers the defaults, the file, the variables and the flags, and
    /// checks the result.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let defaults = to_dict(&ServeConfig::default()).expect("the defaults serialize");
        let mut figment = Figment::from(Layer::new(Origin::Default, defaults));
        if let Some(path) = &self.config {
            figment = figment.merge(Layer::new(Origin::File(path.clone()), read_file(path)?));
        }
        let figment = figment
            .merge(Layer::new(
                Origin::Environment,
                self.from_environment.clone(),
            ))
            .merge(Layer::new(Origin::Flag, self.from_flags.clone()));
        let config: ServeConfig = figment.extract().map_err(from_figment)?;
        config.validate().map_err(|Invalid { field, detail }| {
            let origin = figment
                .find_metadata(field)
                .map_or(Origin::Default, Layer::origin_of);
            ConfigError::at(origin, field, detail)
        })?;
        Ok(config)
    }
}

/// One place's settings as a figment provider. Its metadata names the
/// place, which is how a value's origin is found again.
struct Layer {
    origin: Origin,
    values: Dict,
}

impl Layer {
    const ENVIRONMENT: &str = "environment variables";
    const FLAGS: &str = "flags";
    const DEFAULTS: &str = "defaults";

    fn new(origin: Origin, values: Dict) -> Self {
        Layer { origin, values }
    }

    /// The origin of a layer from its metadata.
    fn origin_of(metadata: &Metadata) -> Origin {
        match (&metadata.source, metadata.name.as_ref()) {
            (Some(Source::File(path)), _) => Origin::File(path.clone()),
            (_, Self::ENVIRONMENT) => Origin::Environment,
            (_, Self::FLAGS) => Origin::Flag,
            _ => Origin::Default,
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        match &self.origin {
            Origin::File(path) => Metadata::named("config file").source(path.as_path()),
            Origin::Environment => Metadata::named(Self::ENVIRONMENT),
            Origin::Flag => Metadata::named(Self::FLAGS),
            Origin::Default => Metadata::named(Self::DEFAULTS),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// A key or value figment could not take into a setting: an unknown key or
/// a value of the wrong type, which only the file can hold (clap parsed the
/// variables and flags).
fn from_figment(error: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let detail = match &error.kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("is {actual}, expected {expected}")
        }
        Kind::UnknownField(..) => {
            "is no setting; the keys are the names of `wasmhook serve`'s flags with `_`".to_owned()
        }
        Kind::Message(message) => format!("is invalid: {message}"),
        other => other.to_string(),
    };
    let origin = error
        .metadata
        .as_ref()
        .map_or(Origin::Default, Layer::origin_of);
    ConfigError::at(origin, &error.path.join("."), detail)
}

/// `value`'s fields as a figment dictionary.
fn to_dict(value: &ServeConfig) -> Result<Dict, String> {
    Value::serialize(value)
        .map_err(|error| error.to_string())?
        .into_dict()
        .ok_or_else(|| "settings serialize as a table".to_owned())
}

/// The config file's keys and values.
fn read_file(path: &Path) -> Result<Dict, ConfigError> {
    let read_error = |detail: String| ConfigError::Read {
        path: path.to_owned(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|error| read_error(error.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|error| {
        read_error(
            error.message().to_owned()
                + &error
                    .span()
                    .map(|span| format!(" (at byte {})", span.start))
                    .unwrap_or_default(),
        )
    })?;
    Value::serialize(table)
        .ok()
        .and_then(Value::into_dict)
        .ok_or_else(|| read_error("not a table of settings".to_owned()))
}
