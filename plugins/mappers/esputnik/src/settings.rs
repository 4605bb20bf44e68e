//! The mapper's configuration: the zone `activityDateTime` is written in.

use chrono::FixedOffset;
use serde::Deserialize;
use serde_json::Value;
use wasmhook_sdk::prelude::*;
use wasmhook_sdk::time::{TimeFormat, timestamp_ms_with};

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

/// `±hh:mm`, `±hhmm`, `±hh`, `Z` or `UTC` as a fixed offset.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}
