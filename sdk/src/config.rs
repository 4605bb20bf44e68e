//! A plugin's per-call configuration (JSON) with typed access whose errors
//! name the field that is wrong.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::PluginError;

/// The JSON configuration a plugin is called with (`{}` when none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(pub Value);

impl Config {
    /// Parses configuration text; empty text is `{}`.
    pub fn from_json(text: &str) -> Result<Config, PluginError> {
        if text.trim().is_empty() {
            return Ok(Config(Value::Object(Default::default())));
        }
        serde_json::from_str(text)
            .map(Config)
            .map_err(|e| PluginError::invalid_config(format!("configuration is not JSON: {e}")))
    }

    /// The whole configuration deserialised into `T`; the error names the
    /// field (`config.statuses.DELIVERED: unknown variant ...`).
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
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The string value of a top-level key.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The boolean value of a top-level key.
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
