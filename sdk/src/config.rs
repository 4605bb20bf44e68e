//! A plugin's per-call configuration (JSON) with typed access whose errors
//! name the field that is wrong.
//!
//! ```
//! use serde::Deserialize;
//! use wasmhook_sdk::Config;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Settings {
//!     channel: String,
//!     #[serde(default)]
//!     retries: u32,
//! }
//!
//! let config = Config::from_json(r#"{"channel": "sms"}"#).unwrap();
//! let settings: Settings = config.parse().unwrap();
//! assert_eq!((settings.channel.as_str(), settings.retries), ("sms", 0));
//!
//! let config = Config::from_json(r#"{"channel": 7}"#).unwrap();
//! let error = config.parse::<Settings>().err().unwrap();
//! assert!(error.message.starts_with("config.channel: invalid type"), "{error}");
//! ```

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::PluginError;

/// The JSON configuration a plugin is called with (`{}` when none). The
/// macros parse it for you; build one with [`Config::from_json`] or from a
/// [`Value`] in tests.
///
/// ```
/// use wasmhook_sdk::{Config, json};
///
/// let config = Config(json!({"channel": "whatsapp"}));
/// assert_eq!(config.get_str("channel"), Some("whatsapp"));
/// assert_eq!(Config::default().0, json!(null));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(pub Value);

impl Config {
    /// Parses configuration text; empty text is `{}`. Text that is not JSON
    /// is an `invalid_config` error.
    ///
    /// ```
    /// use wasmhook_sdk::{Config, ErrorKind, json};
    ///
    /// assert_eq!(Config::from_json("  ").unwrap().0, json!({}));
    /// assert_eq!(Config::from_json("{\"a\": 1}").unwrap().0, json!({"a": 1}));
    /// assert_eq!(Config::from_json("{").unwrap_err().kind, ErrorKind::InvalidConfig);
    /// ```
    pub fn from_json(text: &str) -> Result<Config, PluginError> {
        if text.trim().is_empty() {
            return Ok(Config(Value::Object(Default::default())));
        }
        serde_json::from_str(text)
            .map(Config)
            .map_err(|e| PluginError::invalid_config(format!("configuration is not JSON: {e}")))
    }

    /// The whole configuration deserialised into `T`; the error names the
    /// field (`config.statuses.DELIVERED: unknown variant ...`). A null
    /// configuration reads as `{}`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use wasmhook_sdk::{Config, Status, json};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     statuses: HashMap<String, Status>,
    /// }
    ///
    /// let config = Config(json!({"statuses": {"DELIVERED": "delivered"}}));
    /// let settings: Settings = config.parse().unwrap();
    /// assert_eq!(settings.statuses["DELIVERED"], Status::Delivered);
    ///
    /// let config = Config(json!({"statuses": {"DELIVERED": "arrived"}}));
    /// let error = config.parse::<Settings>().err().unwrap();
    /// assert!(error.message.starts_with("config.statuses.DELIVERED: unknown variant"), "{error}");
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        let value = if self.0.is_null() {
            Value::Object(Default::default())
        } else {
            self.0.clone()
        };
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "config".to_string()
            } else {
                format!("config.{path}")
            };
            PluginError::invalid_config(format!("{field}: {}", e.into_inner()))
        })
    }

    /// The value of a top-level key.
    ///
    /// ```
    /// use wasmhook_sdk::{Config, json};
    ///
    /// let config = Config(json!({"limits": {"rps": 5}}));
    /// assert_eq!(config.get("limits"), Some(&json!({"rps": 5})));
    /// assert_eq!(config.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The string value of a top-level key (`None` if absent or not a
    /// string).
    ///
    /// ```
    /// use wasmhook_sdk::{Config, json};
    ///
    /// let config = Config(json!({"region": "eu", "port": 443}));
    /// assert_eq!(config.get_str("region"), Some("eu"));
    /// assert_eq!(config.get_str("port"), None);
    /// ```
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The boolean value of a top-level key (`None` if absent or not a
    /// boolean).
    ///
    /// ```
    /// use wasmhook_sdk::{Config, json};
    ///
    /// let config = Config(json!({"strict": true}));
    /// assert_eq!(config.get_bool("strict"), Some(true));
    /// assert_eq!(config.get_bool("verbose"), None);
    /// ```
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        channel: String,
        retries: Option<u32>,
    }

    #[test]
    fn errors_name_the_field() {
        let config = Config::from_json(r#"{"channel": "sms", "retries": "x"}"#).unwrap();
        let error = config.parse::<Settings>().unwrap_err();
        assert!(error.message.starts_with("config.retries:"), "{error}");
    }

    #[test]
    fn empty_text_is_empty_object() {
        let config = Config::from_json("").unwrap();
        assert_eq!(config.0, serde_json::json!({}));
    }
}
