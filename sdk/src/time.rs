//! Timestamps as vendors send them, turned into epoch milliseconds.
//!
//! Seen in the wild (see `vendor-samples/INDEX.md`): epoch seconds, milli-,
//! micro- and nanoseconds as numbers or strings, float seconds
//! (`1529692199.626182`), ISO-8601 with `Z`, with 7 fractional digits, with
//! offsets with or without a colon (`-05:00`, `+0000`), naive local times with
//! no zone (`2023-09-14T08:30:03`, `2018-10-25 12:10:29`), compact
//! `YYMMDDHHMM` (SMPP/Vonage `scts`), and placeholders such as `TIMESTAMP`.
//!
//! ```
//! use wasmhook_sdk::{json, time};
//!
//! assert_eq!(time::timestamp_ms(&json!(1700000000)), Some(1_700_000_000_000));
//! assert_eq!(time::timestamp_ms(&json!("2023-11-14T22:13:20Z")), Some(1_700_000_000_000));
//! assert_eq!(time::timestamp_ms(&json!("2023-11-14T17:13:20-05:00")), Some(1_700_000_000_000));
//! assert_eq!(time::timestamp_ms(&json!("TIMESTAMP")), None);
//! ```

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};

/// A fixed UTC offset (re-exported from chrono for plugin configs).
///
/// ```
/// use wasmhook_sdk::time::{FixedOffset, parse_offset};
///
/// assert_eq!(parse_offset("+05:30"), FixedOffset::east_opt(5 * 3600 + 30 * 60));
/// ```
pub use chrono::FixedOffset;
use serde_json::Value;

/// How to read a timestamp, for [`timestamp_ms_with`]; usually parsed from
/// a plugin config with [`TimeFormat::parse`].
///
/// ```
/// use wasmhook_sdk::{json, time::{TimeFormat, timestamp_ms_with}};
///
/// // 1_700_000_000 read as milliseconds, not guessed as seconds.
/// let millis = timestamp_ms_with(&json!(1700000000), &TimeFormat::EpochMillis, None);
/// assert_eq!(millis, Some(1_700_000_000));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Guess from the value: numbers by magnitude (s, ms, µs, ns), strings as
    /// numbers or ISO-8601 / `YYYY-MM-DD HH:MM:SS`.
    #[default]
    Auto,
    /// Epoch seconds (integer or float).
    EpochSeconds,
    /// Epoch milliseconds.
    EpochMillis,
    /// ISO-8601 / RFC 3339, offset optional.
    Iso8601,
    /// `YYMMDDHHMM` or `YYMMDDHHMMSS` (SMPP style), in the default zone.
    Compact,
    /// A chrono `strftime` pattern such as `%d/%m/%Y %H:%M`.
    Pattern(String),
}

impl TimeFormat {
    /// Parses a format name: `auto`, `epoch_s`/`unix`, `epoch_ms`/`unix_ms`,
    /// `iso8601`/`rfc3339`, `compact`/`yymmddhhmm`, or any pattern with `%`.
    ///
    /// ```
    /// use wasmhook_sdk::time::TimeFormat;
    ///
    /// assert_eq!(TimeFormat::parse("UNIX"), Some(TimeFormat::EpochSeconds));
    /// assert_eq!(TimeFormat::parse("%d/%m/%Y"), Some(TimeFormat::Pattern("%d/%m/%Y".into())));
    /// assert_eq!(TimeFormat::parse("julian"), None);
    /// ```
    pub fn parse(name: &str) -> Option<TimeFormat> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "auto" | "" => TimeFormat::Auto,
            "epoch_s" | "epoch_seconds" | "unix" | "seconds" => TimeFormat::EpochSeconds,
            "epoch_ms" | "epoch_millis" | "unix_ms" | "millis" | "milliseconds" => {
                TimeFormat::EpochMillis
            }
            "iso8601" | "iso" | "rfc3339" => TimeFormat::Iso8601,
            "compact" | "yymmddhhmm" | "yymmddhhmmss" => TimeFormat::Compact,
            _ if name.contains('%') => TimeFormat::Pattern(name.to_string()),
            _ => return None,
        })
    }
}

/// Guesses the unit of an epoch number by its magnitude: values below 1e11
/// are seconds (up to year 5138), below 1e14 milliseconds, below 1e17
/// microseconds, otherwise nanoseconds. Negative and non-finite values are
/// `None`.
///
/// ```
/// use wasmhook_sdk::time::epoch_to_millis;
///
/// assert_eq!(epoch_to_millis(1_700_000_000.0), Some(1_700_000_000_000)); // seconds
/// assert_eq!(epoch_to_millis(1_700_000_000_123.0), Some(1_700_000_000_123)); // ms
/// assert_eq!(epoch_to_millis(1.7e18), Some(1_700_000_000_000)); // ns
/// assert_eq!(epoch_to_millis(-1.0), None);
/// ```
pub fn epoch_to_millis(value: f64) -> Option<i64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let millis = if value < 1e11 {
        value * 1000.0
    } else if value < 1e14 {
        value
    } else if value < 1e17 {
        value / 1000.0
    } else {
        value / 1_000_000.0
    };
    Some(millis.round() as i64)
}

/// A timestamp in any supported shape, as epoch ms (UTC assumed for values
/// without a zone). `None` for placeholders, empty strings and nonsense.
///
/// ```
/// use wasmhook_sdk::{json, time::timestamp_ms};
///
/// assert_eq!(timestamp_ms(&json!(1529692199.626182)), Some(1_529_692_199_626));
/// assert_eq!(timestamp_ms(&json!("2018-10-25 12:10:29")), Some(1_540_469_429_000));
/// assert_eq!(timestamp_ms(&json!("")), None);
/// assert_eq!(timestamp_ms(&json!(null)), None);
/// ```
pub fn timestamp_ms(value: &Value) -> Option<i64> {
    timestamp_ms_with(value, &TimeFormat::Auto, None)
}

/// Like [`timestamp_ms`] for a string.
///
/// ```
/// use wasmhook_sdk::time::parse_timestamp;
///
/// assert_eq!(parse_timestamp("2017-08-24T20:55:27.843Z"), Some(1_503_608_127_843));
/// assert_eq!(parse_timestamp("1749416383"), Some(1_749_416_383_000));
/// assert_eq!(parse_timestamp("date-time"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<i64> {
    timestamp_ms_with(&Value::String(text.to_string()), &TimeFormat::Auto, None)
}

/// A timestamp read with an explicit `format`; zone-less values are taken in
/// `default_offset` (UTC when `None`).
///
/// ```
/// use wasmhook_sdk::{json, time::{TimeFormat, parse_offset, timestamp_ms_with}};
///
/// // SMPP `scts`: YYMMDDHHMM, here in India Standard Time.
/// let ist = parse_offset("+05:30");
/// let millis = timestamp_ms_with(&json!("1810251740"), &TimeFormat::Compact, ist);
/// assert_eq!(millis, Some(1_540_469_400_000));
/// ```
pub fn timestamp_ms_with(
    value: &Value,
    format: &TimeFormat,
    default_offset: Option<FixedOffset>,
) -> Option<i64> {
    let offset = default_offset.unwrap_or_else(utc);
    match value {
        Value::Number(number) => {
            let n = number.as_f64()?;
            match format {
                TimeFormat::EpochSeconds => Some((n * 1000.0).round() as i64),
                TimeFormat::EpochMillis => Some(n.round() as i64),
                TimeFormat::Auto => epoch_to_millis(n),
                TimeFormat::Compact | TimeFormat::Pattern(_) | TimeFormat::Iso8601 => {
                    parse_text(&number.to_string(), format, offset)
                }
            }
        }
        Value::String(text) => parse_text(text.trim(), format, offset),
        _ => None,
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset")
}

fn parse_text(text: &str, format: &TimeFormat, offset: FixedOffset) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    match format {
        TimeFormat::Auto => {
            if let Ok(number) = text.parse::<f64>() {
                return epoch_to_millis(number);
            }
            parse_iso(text, offset)
        }
        TimeFormat::EpochSeconds => text
            .parse::<f64>()
            .ok()
            .map(|n| (n * 1000.0).round() as i64),
        TimeFormat::EpochMillis => text.parse::<f64>().ok().map(|n| n.round() as i64),
        TimeFormat::Iso8601 => parse_iso(text, offset),
        TimeFormat::Compact => parse_compact(text, offset),
        TimeFormat::Pattern(pattern) => parse_pattern(text, pattern, offset),
    }
}

/// ISO-8601 with `Z`, `±hh:mm`, `±hhmm`, `±hh` or no zone; `T` or space
/// between date and time; any number of fractional digits; a date alone.
fn parse_iso(text: &str, offset: FixedOffset) -> Option<i64> {
    let text = text.replace(' ', "T");
    if let Ok(dt) = DateTime::parse_from_rfc3339(&text) {
        return Some(dt.timestamp_millis());
    }
    let (local, zone) = split_zone(&text);
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(local, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .ok()?;
    let zone = match zone {
        Some(zone) => parse_offset(zone)?,
        None => offset,
    };
    zone.from_local_datetime(&naive)
        .single()
        .map(|dt| dt.timestamp_millis())
}

/// Splits `2024-01-01T10:00:00+0530` into the local part and the zone.
fn split_zone(text: &str) -> (&str, Option<&str>) {
    if let Some(local) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return (local, Some("+00:00"));
    }
    // The zone sign comes after the time part (after the 'T').
    if let Some(t) = text.find('T')
        && let Some(pos) = text[t..].rfind(['+', '-'])
    {
        let pos = t + pos;
        return (&text[..pos], Some(&text[pos..]));
    }
    (text, None)
}

/// A fixed UTC offset as written in configs and timestamps: `Z`, `UTC`,
/// `+05:30`, `+0530`, `-03`. `None` for anything else (or out of range).
///
/// ```
/// use wasmhook_sdk::time::parse_offset;
///
/// assert_eq!(parse_offset("-0300").map(|o| o.local_minus_utc()), Some(-3 * 3600));
/// assert_eq!(parse_offset("UTC").map(|o| o.local_minus_utc()), Some(0));
/// assert_eq!(parse_offset("+24:00"), None);
/// ```
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("z") {
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
    let (hours, minutes): (i32, i32) = match digits.len() {
        2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn parse_compact(text: &str, offset: FixedOffset) -> Option<i64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pattern = match text.len() {
        10 => "%y%m%d%H%M",
        12 => "%y%m%d%H%M%S",
        14 => "%Y%m%d%H%M%S",
        _ => return None,
    };
    parse_pattern(text, pattern, offset)
}

fn parse_pattern(text: &str, pattern: &str, offset: FixedOffset) -> Option<i64> {
    if pattern.contains("%z") || pattern.contains("%:z") || pattern.contains("%Z") {
        return DateTime::parse_from_str(text, pattern)
            .ok()
            .map(|dt| dt.timestamp_millis());
    }
    let naive = NaiveDateTime::parse_from_str(text, pattern)
        .or_else(|_| {
            NaiveDate::parse_from_str(text, pattern)
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .ok()?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|dt| dt.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_sample_shape() {
        let cases = [
            (json!(1513299569), 1_513_299_569_000),
            (json!(1580546677791_i64), 1_580_546_677_791),
            (json!("1749416383"), 1_749_416_383_000),
            (json!(1529692199.626182), 1_529_692_199_626),
            (json!("2017-08-24T20:55:27.843Z"), 1_503_608_127_843),
            (json!("2025-04-05T16:33:54.9070259Z"), 1_743_870_834_907),
            (json!("2016-12-01T15:41:45-05:00"), 1_480_624_905_000),
            (json!("2019-04-18T08:52:25.000+0000"), 1_555_577_545_000),
            (json!("2019-04-18T08:52:25.000-0300"), 1_555_588_345_000),
            (json!("2023-09-14T08:30:03"), 1_694_680_203_000),
            (json!("2018-10-25 12:10:29"), 1_540_469_429_000),
            (json!("2018-10-25T12:10:29+00:00"), 1_540_469_429_000),
        ];
        for (input, expected) in cases {
            assert_eq!(timestamp_ms(&input), Some(expected), "{input}");
        }
    }

    #[test]
    fn placeholders_are_none() {
        for input in [
            json!("TIMESTAMP"),
            json!("date-time"),
            json!(""),
            json!(null),
            json!(true),
        ] {
            assert_eq!(timestamp_ms(&input), None, "{input}");
        }
    }

    #[test]
    fn compact_and_patterns() {
        let compact = TimeFormat::parse("compact").unwrap();
        assert_eq!(
            timestamp_ms_with(&json!("1810251210"), &compact, None),
            Some(1_540_469_400_000)
        );
        let pattern = TimeFormat::parse("%d/%m/%Y %H:%M").unwrap();
        assert_eq!(
            timestamp_ms_with(&json!("25/10/2018 12:10"), &pattern, None),
            Some(1_540_469_400_000)
        );
        let ist = FixedOffset::east_opt(5 * 3600 + 1800);
        assert_eq!(
            timestamp_ms_with(&json!("2018-10-25 17:40:29"), &TimeFormat::Iso8601, ist),
            Some(1_540_469_429_000)
        );
    }

    #[test]
    fn offsets_in_every_spelling() {
        for (text, seconds) in [
            ("Z", 0),
            ("utc", 0),
            ("+05:30", 19800),
            ("+0530", 19800),
            ("-03", -10800),
        ] {
            assert_eq!(
                parse_offset(text).map(|o| o.local_minus_utc()),
                Some(seconds),
                "{text}"
            );
        }
        for text in ["", "05:30", "+5", "+24:00", "+05:60", "+0a"] {
            assert_eq!(parse_offset(text), None, "{text}");
        }
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(epoch_to_millis(1.0e9), Some(1_000_000_000_000));
        assert_eq!(epoch_to_millis(1.6e12), Some(1_600_000_000_000));
        assert_eq!(epoch_to_millis(1.6e15), Some(1_600_000_000_000));
        assert_eq!(epoch_to_millis(1.6e18), Some(1_600_000_000_000));
        assert_eq!(epoch_to_millis(-5.0), None);
    }
}
