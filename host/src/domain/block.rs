//! Workflow blocks (seed 001's webhook blocks): a name whose data later
//! templates read (`data.WH5.promocode`), the block plugin that runs it and
//! that plugin's configuration. Deleting a block is soft, so a workflow
//! that still names it can be repaired by restoring it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;

use super::Name;
use super::endpoint::FieldError;

/// The plugin a block runs when none is named: the first-party HTTP block.
pub const DEFAULT_BLOCK_PLUGIN: &str = "http-block";
/// The longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// Why text is not a valid block name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a valid block name: use 1 to 64 characters of A-Z, a-z, 0-9 and `_`, not starting with a digit"
)]
pub struct BlockNameError {
    /// The text given (truncated).
    pub text: String,
}

/// A block's name. It is the key its data is filed under in templates
/// (`data.WH5.promocode`, `data.contacts_get_by_email[0].id`), so it must be
/// an identifier a template can write without quoting; case is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockName(String);

impl BlockName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BlockName {
    type Err = BlockNameError;

    fn from_str(text: &str) -> Result<Self, BlockNameError> {
        let bytes = text.as_bytes();
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if valid {
            Ok(BlockName(text.to_owned()))
        } else {
            Err(BlockNameError {
                text: text.chars().take(80).collect(),
            })
        }
    }
}

impl fmt::Display for BlockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BlockName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BlockName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for BlockName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,63}$"))
            .examples([serde_json::json!("contacts_get_by_email")])
            .into()
    }
}

impl ToSchema for BlockName {}

/// A block as stored and as the API shows it (a block holds no secret: its
/// connector is named, never copied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Block {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    #[schema(value_type = String)]
    pub tenant: crate::domain::Name,
    /// The key its data appears under in templates.
    pub name: BlockName,
    /// Free text.
    pub description: Option<String>,
    /// The block plugin that runs it.
    #[schema(value_type = String)]
    pub plugin: Name,
    /// The plugin's configuration (for `http-block`: method, URL template,
    /// params, connector, body, response format, timeout).
    #[schema(value_type = Object)]
    pub config: Value,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
    /// When it was soft-deleted, epoch ms; `null` while it is live.
    pub deleted_at: Option<u64>,
}

impl Block {
    /// Whether the block is soft-deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The connector the block's config names (`config.connector`), if any.
    pub fn connector_name(&self) -> Option<&str> {
        connector_in(&self.config)
    }
}

/// The connector name a block config holds in `connector`, if any.
pub fn connector_in(config: &Value) -> Option<&str> {
    config
        .get("connector")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

fn default_plugin() -> Name {
    // A valid name: it is a constant of this crate (and a unit test parses it).
    Name(DEFAULT_BLOCK_PLUGIN.to_owned())
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// What `POST /v1/blocks` takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBlock {
    /// The key its data appears under in templates.
    pub name: BlockName,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The block plugin (default `http-block`).
    #[serde(default = "default_plugin")]
    #[schema(value_type = Option<String>)]
    pub plugin: Name,
    /// The plugin's configuration, a JSON object.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
}

/// What `PUT /v1/blocks/{name}` takes: the block's description, plugin and
/// config, replaced whole. `name`, when given, must be the block's own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceBlock {
    /// The block's name (optional; it cannot change).
    #[serde(default)]
    pub name: Option<BlockName>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The block plugin (default `http-block`).
    #[serde(default = "default_plugin")]
    #[schema(value_type = Option<String>)]
    pub plugin: Name,
    /// The plugin's configuration, a JSON object.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
}

/// What a config must satisfy whatever the plugin: an object, a bounded
/// description, and for the keys the host itself reads — `url` (plain
/// `http://` only when `allow_plain_http`) and `connector` (text) — the
/// right types. Whether the connector exists is the caller's check (it
/// needs the store).
pub fn validate(
    description: Option<&str>,
    plugin: &Name,
    config: &Value,
    allow_plain_http: bool,
) -> Result<(), FieldError> {
    if description.is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_LEN) {
        return Err(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    let Some(fields) = config.as_object() else {
        return Err(FieldError::new("config", "must be a JSON object"));
    };
    match fields.get("url") {
        None if plugin.as_str() == DEFAULT_BLOCK_PLUGIN => {
            return Err(FieldError::new(
                "config.url",
                "required: the URL template the block calls",
            ));
        }
        None => {}
        Some(Value::String(url)) => {
            let url = url.trim();
            if url.is_empty() {
                return Err(FieldError::new("config.url", "must not be empty"));
            }
            if !allow_plain_http && starts_with_ignore_case(url, "http://") {
                return Err(FieldError::new(
                    "config.url",
                    "plain http is not allowed: use https (the operator can allow plain http \
                     with `allow_plain_http_blocks`)",
                ));
            }
        }
        Some(_) => return Err(FieldError::new("config.url", "must be text")),
    }
    match fields.get("connector") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(_) => Err(FieldError::new(
            "config.connector",
            "must be a connector's name",
        )),
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

impl crate::domain::tenant::Owned for Block {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn block_names_are_template_identifiers_with_case_kept() {
        for good in ["WH5", "contacts_get_by_email", "_x", "a1"] {
            assert_eq!(good.parse::<BlockName>().unwrap().as_str(), good);
        }
        for bad in ["", "1abc", "a-b", "a b", "a.b", &"x".repeat(65)] {
            assert!(bad.parse::<BlockName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_default_plugin_is_a_valid_name() {
        assert_eq!(
            DEFAULT_BLOCK_PLUGIN.parse::<Name>().unwrap(),
            default_plugin()
        );
    }

    #[test]
    fn config_checks_name_the_field() {
        let http: Name = DEFAULT_BLOCK_PLUGIN.parse().unwrap();
        let check = |config: Value, plain: bool| {
            validate(None, &http, &config, plain).map_err(|error| error.to_string())
        };
        assert!(check(json!({"url": "https://x.example/a"}), false).is_ok());
        assert!(
            check(json!({"url": "HTTP://x.example/a"}), false)
                .unwrap_err()
                .starts_with("config.url")
        );
        assert!(check(json!({"url": "http://x.example/a"}), true).is_ok());
        assert!(
            check(json!({}), false)
                .unwrap_err()
                .starts_with("config.url")
        );
        assert!(check(json!([1]), false).unwrap_err().starts_with("config"));
        assert!(
            check(json!({"url": "https://x", "connector": 5}), false)
                .unwrap_err()
                .starts_with("config.connector")
        );
        let custom: Name = "my-block".parse().unwrap();
        assert!(validate(None, &custom, &json!({}), false).is_ok());
        assert!(
            validate(Some(&"d".repeat(2000)), &custom, &json!({}), false)
                .unwrap_err()
                .to_string()
                .starts_with("description")
        );
    }

    #[test]
    fn the_connector_name_is_read_from_the_config() {
        assert_eq!(connector_in(&json!({"connector": " crm "})), Some("crm"));
        assert_eq!(connector_in(&json!({"connector": ""})), None);
        assert_eq!(connector_in(&json!({})), None);
    }
}
