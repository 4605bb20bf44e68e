//! The renderers' shared configuration: operator-chosen parameter names
//! (seed 002) mapped to templates.

use serde::Deserialize;
use serde::de::Error as _;
use serde_json::Value;
use wasmhook_sdk::PluginError;

use crate::{Escape, Options, eval};

/// A renderer's per-call configuration (from the endpoint). Unknown keys
/// are refused so typos are named (`config: unknown field `feilds``).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderConfig {
    /// Parameter name → template, e.g. `{"txid": "{{ reference.idempotency_key }}"}`.
    #[serde(default)]
    pub fields: Option<Fields>,
    /// The XML root element name (XML renderer only).
    #[serde(default)]
    pub root: Option<String>,
    /// Undefined variables are an error instead of empty.
    #[serde(default)]
    pub strict: bool,
}

impl RenderConfig {
    /// The template options for `escape`.
    pub fn options(&self, escape: Escape) -> Options {
        Options {
            strict: self.strict,
            escape,
        }
    }
}

/// Named values in the order the operator wrote them. Written either as an
/// object `{"txid": "{{ … }}", "source": "wasmhook"}` (order kept) or as a
/// list `[{"name": "txid", "value": "{{ … }}"}]` (for stores that do not
/// keep object order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(String, FieldValue)>);

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A template (any string; plain text is a template without variables).
    Template(String),
    /// A JSON constant given as a number, boolean, `null`, object or array.
    Constant(Value),
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let pairs: Vec<(String, Value)> = match value {
            Value::Object(map) => map.into_iter().collect(),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let name = item.get("name").and_then(Value::as_str).ok_or_else(|| {
                        D::Error::custom(format!("item {i} has no string `name`"))
                    })?;
                    Ok((
                        name.to_string(),
                        item.get("value").cloned().unwrap_or(Value::Null),
                    ))
                })
                .collect::<Result<_, D::Error>>()?,
            other => {
                return Err(D::Error::custom(format!(
                    "expected an object {{name: template}} or a list of {{name, value}}, got {other}"
                )));
            }
        };
        let mut fields = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name.trim().is_empty() {
                return Err(D::Error::custom("a field has an empty name"));
            }
            let value = match value {
                Value::String(template) => FieldValue::Template(template),
                constant => FieldValue::Constant(constant),
            };
            fields.push((name, value));
        }
        Ok(Fields(fields))
    }
}

/// Evaluates every field against `data` (see [`eval`]: a one-expression
/// template keeps its JSON type). Values are not escaped here; the renderer
/// encodes them for its format. Errors name the field:
/// `config.fields.txid: template line 1: …`.
pub fn render_fields(
    fields: &Fields,
    data: &Value,
    strict: bool,
) -> Result<Vec<(String, Value)>, PluginError> {
    let options = Options {
        strict,
        escape: Escape::None,
    };
    fields
        .0
        .iter()
        .map(|(name, value)| {
            let value = match value {
                FieldValue::Template(template) => eval(template, data, &options).map_err(|e| {
                    PluginError::new(e.kind, format!("config.fields.{name}: {}", e.message))
                })?,
                FieldValue::Constant(constant) => constant.clone(),
            };
            Ok((name.clone(), value))
        })
        .collect()
}

/// A field value as text: `null` is empty, strings as they are, anything
/// else as compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
