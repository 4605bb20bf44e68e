//! The mapper's configuration: the zone `activityDateTime` is written in.

use chrono::FixedOffset;
use serde::Deserialize;
use serde_json::Value;
use wasmhook_sdk::prelude::*;
use wasmhook_sdk::time::{TimeFormat, parse_offset, timestamp_ms_with};

/// `{"timezone_offset": "+03:00"}`; everything optional.
#[derive(Debug, Default, Deserialize)]
pub struct Settings {
    /// Offset of the account's time zone (`+03:00`, `-0500`, `+03`, `Z`,
    /// `UTC`), applied to zone-less `activityDateTime` values. UTC if unset.
    #[serde(default)]
    pub timezone_offset: Option<String>,
    #[serde(skip)]
    offset: Option<FixedOffset>,
}

impl Settings {
    /// Reads and checks the configuration; a bad offset is `invalid_config`
    /// naming the field.
    pub fn from_config(config: &Config) -> Result<Settings, PluginError> {
        let mut settings: Settings = config.parse()?;
        if let Some(text) = &settings.timezone_offset {
            settings.offset = Some(parse_offset(text).ok_or_else(|| {
                PluginError::invalid_config(format!(
                    "config.timezone_offset: `{text}` is not an offset like `+03:00`, `-0500` or `Z`"
                ))
            })?);
        }
        Ok(settings)
    }

    /// `activityDateTime` as epoch ms, zone-less values in the configured zone.
    pub fn timestamp(&self, value: Option<&Value>) -> Option<i64> {
        timestamp_ms_with(value?, &TimeFormat::Auto, self.offset)
    }
}
