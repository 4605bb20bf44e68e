//! Helpers for the shape most vendor mappers share: a table from the
//! vendor's status strings to canonical statuses, a batch of items that
//! become one event each, fields read by name whatever their case, and
//! errors that say which field or item was wrong.
//!
//! ```
//! use wasmhook_sdk::map::{StatusTable, events_from_items, require_str};
//! use wasmhook_sdk::prelude::*;
//!
//! const STATES: StatusTable = StatusTable::new("ACME state", &[
//!     ("DELIVERED", Status::Delivered),
//!     ("UNDELIVERABLE", Status::Failed),
//! ]);
//!
//! fn map(body: Value) -> Result<Vec<Event>, PluginError> {
//!     events_from_items(body, "ACME report", |item| {
//!         let state = require_str(&item, "state")?;
//!         let Some(status) = STATES.get(&state) else {
//!             return Ok(None); // skipped, with a warning
//!         };
//!         Ok(Some(Event::status(Channel::Sms, status, "acme").raw(item)))
//!     })
//! }
//!
//! let events = map(json!([{"state": "delivered"}, {"state": "BOUNCED"}])).unwrap();
//! assert_eq!(events.len(), 1);
//! let error = map(json!([{"state": 7}])).unwrap_err();
//! assert_eq!(error.message, "ACME report [0]: field `state` must be a string, got a number");
//! ```

use serde_json::Value;

use crate::model::{PluginError, Status};

/// A vendor's status strings and the canonical status each means, looked
/// up without regard to ASCII case (vendors are not consistent about it).
/// Usually a `const`, declared next to the mapper.
///
/// ```
/// use wasmhook_sdk::{Status, map::StatusTable};
///
/// const EVENTS: StatusTable = StatusTable::new("SendGrid event", &[
///     ("processed", Status::Queued),
///     ("delivered", Status::Delivered),
///     ("bounce", Status::Failed),
/// ]);
/// assert_eq!(EVENTS.status("Delivered").unwrap(), Status::Delivered);
/// assert!(EVENTS.status("group_resubscribe").is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StatusTable {
    what: &'static str,
    entries: &'static [(&'static str, Status)],
}

impl StatusTable {
    /// A table; `what` names the vendor field in errors (`"SendGrid
    /// event"`).
    ///
    /// ```
    /// # use wasmhook_sdk::{map::StatusTable, Status};
    /// const STATES: StatusTable = StatusTable::new("state", &[("SENT", Status::Sent)]);
    /// assert_eq!(STATES.get("sent"), Some(Status::Sent));
    /// ```
    pub const fn new(what: &'static str, entries: &'static [(&'static str, Status)]) -> Self {
        StatusTable { what, entries }
    }

    /// The canonical status of `vendor_status`, if the table has it.
    ///
    /// ```
    /// # use wasmhook_sdk::{map::StatusTable, Status};
    /// const STATES: StatusTable = StatusTable::new("state", &[("read", Status::Read)]);
    /// assert_eq!(STATES.get("READ"), Some(Status::Read));
    /// assert_eq!(STATES.get("deleted"), None);
    /// ```
    pub fn get(&self, vendor_status: &str) -> Option<Status> {
        let wanted = vendor_status.trim();
        self.entries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, status)| *status)
    }

    /// The canonical status of `vendor_status`, or an `unsupported` error
    /// that names it and the values the table knows.
    ///
    /// ```
    /// # use wasmhook_sdk::{map::StatusTable, Status};
    /// const STATES: StatusTable = StatusTable::new("state", &[("SENT", Status::Sent)]);
    /// let error = STATES.status("LOST").unwrap_err();
    /// assert_eq!(error.message, "unknown state `LOST` (known: SENT)");
    /// ```
    pub fn status(&self, vendor_status: &str) -> Result<Status, PluginError> {
        self.get(vendor_status).ok_or_else(|| {
            let known: Vec<&str> = self.entries.iter().map(|(name, _)| *name).collect();
            PluginError::unsupported(format!(
                "unknown {} `{vendor_status}` (known: {})",
                self.what,
                known.join(", ")
            ))
        })
    }
}

/// One event per item of a batch: `body` is a JSON array, or one object
/// (a batch of one). `map_item` gives an item's event, or `None` to skip
/// it, which is logged as a warning so that one new vendor event type does
/// not fail a whole batch. An item's error is prefixed with `what [index]`;
/// a non-empty batch of which every item was skipped is refused as
/// `unsupported`, and a body that is neither array nor object as
/// `invalid_input`.
///
/// ```
/// # use wasmhook_sdk::map::events_from_items;
/// # use wasmhook_sdk::prelude::*;
/// let one = events_from_items(json!({"id": "a"}), "report", |item| {
///     Ok(Some(Event::status(Channel::Sms, Status::Sent, "acme").message_id(path::get_str(&item, "id"))))
/// })
/// .unwrap();
/// assert_eq!(one.len(), 1);
/// ```
pub fn events_from_items<F>(
    body: Value,
    what: &str,
    mut map_item: F,
) -> Result<Vec<crate::model::Event>, PluginError>
where
    F: FnMut(Value) -> Result<Option<crate::model::Event>, PluginError>,
{
    let items = match body {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => {
            return Err(PluginError::invalid_input(format!(
                "expected a {what} or an array of them, got {}",
                type_name(&other)
            )));
        }
    };
    let total = items.len();
    let mut events = Vec::with_capacity(total);
    for (index, item) in items.into_iter().enumerate() {
        if !item.is_object() {
            return Err(PluginError::invalid_input(format!(
                "{what} [{index}]: expected an object, got {}",
                type_name(&item)
            )));
        }
        let summary = short(&item);
        match map_item(item) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => crate::host::warn(&format!("skipping {what} [{index}]: {summary}")),
            Err(error) => {
                return Err(PluginError::new(
                    error.kind,
                    format!("{what} [{index}]: {}", error.message),
                ));
            }
        }
    }
    if total > 0 && events.is_empty() {
        return Err(PluginError::unsupported(format!(
            "none of the {total} {what}(s) is of a kind this mapper handles"
        )));
    }
    Ok(events)
}

/// Field `key` of an object, its name compared without regard to ASCII
/// case (`messageId`, `MessageId` and `MESSAGEID` alike); an exact match
/// wins.
///
/// ```
/// # use wasmhook_sdk::{json, map::field};
/// let body = json!({"MessageSid": "SM1"});
/// assert_eq!(field(&body, "messagesid"), Some(&json!("SM1")));
/// ```
pub fn field<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

/// Field `key` (case as in [`field`]) as text: strings as they are,
/// numbers and booleans written out; `None` when absent, null or empty.
///
/// ```
/// # use wasmhook_sdk::{json, map::field_str};
/// assert_eq!(field_str(&json!({"Code": 30008}), "code").as_deref(), Some("30008"));
/// ```
pub fn field_str(object: &Value, key: &str) -> Option<String> {
    field(object, key).and_then(crate::path::value_to_string)
}

/// Field `key` (case as in [`field`]) as a non-empty string, or an
/// `invalid_input` error naming the field and what was there instead.
///
/// ```
/// # use wasmhook_sdk::{json, map::require_str};
/// assert_eq!(require_str(&json!({"event": "open"}), "event").unwrap(), "open");
/// let error = require_str(&json!({}), "event").unwrap_err();
/// assert_eq!(error.message, "field `event` is missing");
/// ```
pub fn require_str(object: &Value, key: &str) -> Result<String, PluginError> {
    match field(object, key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        None | Some(Value::Null) => Err(PluginError::invalid_input(format!(
            "field `{key}` is missing"
        ))),
        Some(Value::String(_)) => Err(PluginError::invalid_input(format!(
            "field `{key}` is empty"
        ))),
        Some(other) => Err(PluginError::invalid_input(format!(
            "field `{key}` must be a string, got {}",
            type_name(other)
        ))),
    }
}

/// A JSON value's type in words, for error messages (`"an array"`).
///
/// ```
/// # use wasmhook_sdk::{json, map::type_name};
/// assert_eq!(type_name(&json!([1])), "an array");
/// ```
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An item in a few words for a log line: its JSON text, cut at 120
/// characters.
fn short(item: &Value) -> String {
    let text = item.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, ErrorKind, Event};
    use serde_json::json;

    const TABLE: StatusTable = StatusTable::new(
        "state",
        &[("DELIVERED", Status::Delivered), ("failed", Status::Failed)],
    );

    #[test]
    fn the_table_ignores_case_and_spaces_and_names_what_it_knows() {
        assert_eq!(TABLE.get(" delivered "), Some(Status::Delivered));
        assert_eq!(TABLE.get("FAILED"), Some(Status::Failed));
        let error = TABLE.status("gone").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unsupported);
        assert_eq!(
            error.message,
            "unknown state `gone` (known: DELIVERED, failed)"
        );
    }

    fn sent(_: Value) -> Result<Option<Event>, PluginError> {
        Ok(Some(Event::status(Channel::Sms, Status::Sent, "t")))
    }

    #[test]
    fn a_batch_maps_item_by_item_and_names_the_item_that_failed() {
        assert_eq!(
            events_from_items(json!([{}, {}]), "report", sent)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            events_from_items(json!([]), "report", sent).unwrap().len(),
            0
        );
        let error = events_from_items(json!([{}, 3]), "report", sent).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert_eq!(
            error.message,
            "report [1]: expected an object, got a number"
        );
        let error = events_from_items(json!("x"), "report", sent).unwrap_err();
        assert_eq!(
            error.message,
            "expected a report or an array of them, got a string"
        );
        let failing = |item: Value| require_str(&item, "id").map(|_| None);
        let error =
            events_from_items(json!([{"id": "a"}, {"id": 1}]), "report", failing).unwrap_err();
        assert_eq!(
            error.message,
            "report [1]: field `id` must be a string, got a number"
        );
    }

    #[test]
    fn a_batch_with_nothing_mapped_is_refused_and_skips_are_logged() {
        crate::testing::take_logs();
        let skip = |_: Value| Ok(None);
        let error = events_from_items(json!([{"kind": "new"}]), "report", skip).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unsupported);
        let logs = crate::testing::take_logs();
        assert!(
            logs.iter()
                .any(|(_, line)| line.contains("skipping report [0]") && line.contains("new")),
            "{logs:?}"
        );
    }

    #[test]
    fn fields_are_found_whatever_their_case_and_an_exact_match_wins() {
        let body = json!({"Status": "a", "status": "b", "Code": 7, "Empty": ""});
        assert_eq!(field(&body, "status"), Some(&json!("b")));
        assert_eq!(field(&body, "STATUS"), Some(&json!("a")));
        assert_eq!(field_str(&body, "code").as_deref(), Some("7"));
        assert_eq!(field_str(&body, "empty"), None);
        assert_eq!(
            require_str(&body, "empty").unwrap_err().message,
            "field `empty` is empty"
        );
        assert_eq!(field(&json!([1]), "x"), None);
    }
}
