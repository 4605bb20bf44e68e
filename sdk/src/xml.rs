//! XML bodies as JSON values, so XML vendors are mapped with the same path
//! helpers as JSON ones.
//!
//! The conversion is the usual one (as in xml2js / BadgerFish without
//! namespaces): an element becomes an object of its children; attributes
//! become `@name` keys; text of an element with no children or attributes
//! becomes a plain string, otherwise it goes under `#text`; a repeated child
//! name becomes an array. The root element is kept as the single top-level key.
//!
//! ```
//! use wasmhook_sdk::{json, path, xml::xml_to_value};
//!
//! let body = xml_to_value(r#"<DeliveryReport><message id="m-1" status="D"/></DeliveryReport>"#).unwrap();
//! assert_eq!(path::get_str(&body, "DeliveryReport.message.@status").as_deref(), Some("D"));
//! ```

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;
use serde_json::{Map, Value};

use crate::model::PluginError;

/// Parses an XML document into a JSON value (see the module doc for the
/// shape). Malformed XML is an `invalid_input` error that says where.
///
/// ```
/// use wasmhook_sdk::{ErrorKind, json, xml::xml_to_value};
///
/// let value = xml_to_value(r#"<report id="7"><msg>a &amp; b</msg><msg>c</msg></report>"#).unwrap();
/// assert_eq!(value, json!({"report": {"@id": "7", "msg": ["a & b", "c"]}}));
///
/// let error = xml_to_value("<report><msg>").unwrap_err();
/// assert_eq!(error.kind, ErrorKind::InvalidInput);
/// ```
pub fn xml_to_value(xml: &str) -> Result<Value, PluginError> {
    let mut reader = Reader::from_str(xml);
    // Stack of open elements: (name, children/attributes, text).
    let mut stack: Vec<(String, Map<String, Value>, String)> =
        vec![(String::new(), Map::new(), String::new())];
    let bad = |e: &dyn std::fmt::Display, pos: u64| {
        PluginError::invalid_input(format!("body is not well-formed XML at byte {pos}: {e}"))
    };
    loop {
        let position = reader.buffer_position();
        match reader.read_event().map_err(|e| bad(&e, position))? {
            XmlEvent::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let attributes = read_attributes(&start, position)?;
                stack.push((name, attributes, String::new()));
            }
            XmlEvent::Empty(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let attributes = read_attributes(&start, position)?;
                let value = element_value(attributes, String::new());
                insert_child(&mut stack.last_mut().expect("root frame").1, name, value);
            }
            XmlEvent::Text(text) => {
                let text = text.decode().map_err(|e| bad(&e, position))?;
                let text = quick_xml::escape::unescape(&text).map_err(|e| bad(&e, position))?;
                stack.last_mut().expect("root frame").2.push_str(&text);
            }
            XmlEvent::CData(data) => {
                let text = String::from_utf8_lossy(&data.into_inner()).into_owned();
                stack.last_mut().expect("root frame").2.push_str(&text);
            }
            XmlEvent::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                let text = resolve_reference(&name)
                    .ok_or_else(|| bad(&format!("unknown entity `&{name};`"), position))?;
                stack.last_mut().expect("root frame").2.push_str(&text);
            }
            XmlEvent::End(_) => {
                let (name, children, text) = stack.pop().expect("open element");
                if stack.is_empty() {
                    return Err(bad(&"unbalanced end tag", position));
                }
                let value = element_value(children, text);
                insert_child(&mut stack.last_mut().expect("parent frame").1, name, value);
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(PluginError::invalid_input(format!(
            "body is not well-formed XML: element `{}` is never closed",
            stack.last().map(|f| f.0.as_str()).unwrap_or("")
        )));
    }
    let (_, root, _) = stack.pop().expect("root frame");
    if root.is_empty() {
        return Err(PluginError::invalid_input(
            "body is XML without any element",
        ));
    }
    Ok(Value::Object(root))
}

fn resolve_reference(name: &str) -> Option<String> {
    if let Some(code) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        return u32::from_str_radix(code, 16)
            .ok()
            .and_then(char::from_u32)
            .map(String::from);
    }
    if let Some(code) = name.strip_prefix('#') {
        return code.parse().ok().and_then(char::from_u32).map(String::from);
    }
    quick_xml::escape::resolve_xml_entity(name).map(String::from)
}

fn read_attributes(
    start: &quick_xml::events::BytesStart<'_>,
    position: u64,
) -> Result<Map<String, Value>, PluginError> {
    let mut attributes = Map::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| {
            PluginError::invalid_input(format!(
                "body has a bad XML attribute at byte {position}: {e}"
            ))
        })?;
        let key = format!(
            "@{}",
            String::from_utf8_lossy(attribute.key.local_name().as_ref())
        );
        let value = attribute.unescape_value().map_err(|e| {
            PluginError::invalid_input(format!(
                "body has a bad XML attribute at byte {position}: {e}"
            ))
        })?;
        attributes.insert(key, Value::String(value.into_owned()));
    }
    Ok(attributes)
}

fn element_value(mut children: Map<String, Value>, text: String) -> Value {
    // Whitespace between elements is layout, not content.
    let text = text.trim().to_string();
    if children.is_empty() {
        return Value::String(text);
    }
    if !text.is_empty() {
        children.insert("#text".into(), Value::String(text));
    }
    Value::Object(children)
}

fn insert_child(parent: &mut Map<String, Value>, name: String, value: Value) {
    match parent.get_mut(&name) {
        None => {
            parent.insert(name, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_attributes_and_repeats() {
        let value = xml_to_value(
            r#"<?xml version="1.0"?>
            <report id="7"><msg status="DELIVERED">a &amp; b</msg><msg>second</msg><empty/></report>"#,
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"report": {
                "@id": "7",
                "msg": [{"@status": "DELIVERED", "#text": "a & b"}, "second"],
                "empty": ""
            }})
        );
    }

    #[test]
    fn unclosed_element_is_refused() {
        let error = xml_to_value("<a><b>x</b>").unwrap_err();
        assert!(error.message.contains("never closed"), "{error}");
    }
}
