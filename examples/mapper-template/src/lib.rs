//! Mapper for the (fictional) ACME SMS gateway: its delivery reports arrive
//! as one JSON object or an array of them. A template to copy: the mapping is
//! a plain function over SDK types, tested natively below.
//!
//! | ACME `state`   | canonical status |
//! |----------------|------------------|
//! | `ACCEPTED`     | `queued`         |
//! | `SENT`         | `sent`           |
//! | `DELIVERED`    | `delivered`      |
//! | `UNDELIVERABLE`| `failed`         |

use serde::Deserialize;
use wasmhook_sdk::prelude::*;

/// One delivery report as ACME sends it.
#[derive(Debug, Deserialize)]
struct Report {
    message_id: String,
    to: String,
    state: String,
    error: Option<AcmeError>,
    updated_at: Value,
}

#[derive(Debug, Deserialize)]
struct AcmeError {
    code: String,
    text: String,
}

/// The source config an operator may set: the channel ACME reports on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    channel: Option<String>,
}

#[mapper]
fn map(callback: Callback, config: Config) -> Result<Vec<Event>, PluginError> {
    let settings: Settings = config.parse()?;
    let channel = match settings.channel.as_deref() {
        None => Channel::Sms,
        Some(name) => Channel::parse(name).ok_or_else(|| {
            PluginError::invalid_config(format!("config.channel: unknown channel `{name}`"))
        })?,
    };
    let body = callback.json_value()?;
    // ACME sends a single object or a batch: treat both as a list.
    let items = match body {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| map_report(item, channel))
        .collect()
}

fn map_report(item: Value, channel: Channel) -> Result<Event, PluginError> {
    let report: Report = serde_json::from_value(item.clone())
        .map_err(|e| PluginError::invalid_input(format!("not an ACME delivery report: {e}")))?;
    let status = match report.state.as_str() {
        "ACCEPTED" => Status::Queued,
        "SENT" => Status::Sent,
        "DELIVERED" => Status::Delivered,
        "UNDELIVERABLE" => Status::Failed,
        other => {
            return Err(PluginError::unsupported(format!(
                "unknown ACME state `{other}`"
            )));
        }
    };
    let (code, text) = match report.error {
        Some(error) => (Some(error.code), Some(error.text)),
        None => (None, None),
    };
    Ok(Event::status(channel, status, "acme")
        .recipient(Some(report.to))
        .message_id(Some(report.message_id))
        .vendor_status(Some(report.state))
        .timestamp(time::timestamp_ms(&report.updated_at))
        .error(code, text)
        .raw(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Callback {
        let path = format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        Callback::json(std::fs::read(path).unwrap())
    }

    #[test]
    fn maps_a_delivered_report() {
        let events = map(sample("delivered.json"), Config::default()).unwrap();
        assert_eq!(events.len(), 1);
        let status = events[0].status.as_ref().unwrap();
        assert_eq!(status.status, Status::Delivered);
        assert_eq!(status.timestamp, Some(1_714_558_530_000));
        assert_eq!(events[0].channel_value.as_deref(), Some("+14155550100"));
        assert_eq!(
            events[0].reference.vendor_message_id.as_deref(),
            Some("acme-7f3a")
        );
    }

    #[test]
    fn maps_a_batch_with_an_error() {
        let events = map(sample("batch.json"), Config::default()).unwrap();
        assert_eq!(events.len(), 2);
        let failed = events[1].status.as_ref().unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.error_code.as_deref(), Some("E42"));
        assert_eq!(failed.description.as_deref(), Some("handset unreachable"));
    }

    #[test]
    fn refuses_an_unknown_channel_naming_the_field() {
        let config = Config(json!({"channel": "pigeon"}));
        let error = map(sample("delivered.json"), config).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidConfig);
        assert!(error.message.contains("config.channel"), "{error}");
    }
}
