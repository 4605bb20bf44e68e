//! Checks that rendered text is a valid body of its format, with errors
//! that say where (line and column) it is not.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Whether `text` is one JSON value; the error has line and column.
pub fn check_json(text: &str) -> Result<(), String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether `text` is a well-formed XML document with one root element.
pub fn check_xml(text: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut has_doctype = false;
    let at = |position: u64| line_column(text, position as usize);
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("{} {e}", at(reader.error_position())))?;
        match event {
            Event::Start(start) => {
                if open.is_empty() {
                    roots += 1;
                }
                check_attributes(&start).map_err(|e| format!("{} {e}", at(position)))?;
                open.push(String::from_utf8_lossy(start.name().as_ref()).into_owned());
            }
            Event::Empty(start) => {
                if open.is_empty() {
                    roots += 1;
                }
                check_attributes(&start).map_err(|e| format!("{} {e}", at(position)))?;
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(content) if open.is_empty() => {
                let content = String::from_utf8_lossy(&content);
                if !content.trim().is_empty() {
                    return Err(format!("{} text outside the root element", at(position)));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) if open.is_empty() => {
                return Err(format!("{} text outside the root element", at(position)));
            }
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference);
                if !has_doctype && !known_reference(&name) {
                    return Err(format!("{} unknown entity `&{name};`", at(position)));
                }
            }
            Event::DocType(_) => has_doctype = true,
            Event::Eof => break,
            _ => {}
        }
        if roots > 1 {
            return Err(format!("{} a second root element", at(position)));
        }
    }
    if let Some(name) = open.last() {
        return Err(format!("element `{name}` is never closed"));
    }
    if roots == 0 {
        return Err("no root element".to_string());
    }
    Ok(())
}

fn check_attributes(start: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        attribute.unescape_value().map_err(|e| e.to_string())?;
        if attribute.value.contains(&b'<') {
            return Err("`<` in an attribute value".to_string());
        }
    }
    Ok(())
}

fn known_reference(name: &str) -> bool {
    if let Some(code) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        return u32::from_str_radix(code, 16)
            .ok()
            .and_then(char::from_u32)
            .is_some();
    }
    if let Some(code) = name.strip_prefix('#') {
        return code.parse::<u32>().ok().and_then(char::from_u32).is_some();
    }
    matches!(name, "lt" | "gt" | "amp" | "apos" | "quot")
}

/// Whether `text` is an `application/x-www-form-urlencoded` string:
/// `name=value` pairs joined by `&`, names not empty, everything outside
/// `A-Z a-z 0-9 - . _ ~ * + ! ' ( ) , ; : @ / ? $ =` percent-encoded.
pub fn check_form(text: &str) -> Result<(), String> {
    let mut offset = 0;
    for pair in text.split('&') {
        if pair.is_empty() {
            offset += 1;
            continue;
        }
        let name = pair.split('=').next().unwrap_or_default();
        if name.is_empty() {
            return Err(format!("pair `{pair}` at byte {offset} has no name"));
        }
        let bytes = pair.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let ok = bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit();
                if !ok {
                    return Err(format!(
                        "`%` at byte {} is not followed by two hex digits",
                        offset + i
                    ));
                }
                i += 3;
                continue;
            }
            let allowed = b.is_ascii_alphanumeric() || b"-._~*+!'(),;:@/?$=".contains(&b);
            if !allowed {
                let c = pair[i..].chars().next().unwrap_or('?');
                return Err(format!(
                    "character `{}` at byte {} must be percent-encoded",
                    c.escape_debug(),
                    offset + i
                ));
            }
            i += 1;
        }
        offset += pair.len() + 1;
    }
    Ok(())
}

/// `line 3 column 5:` for a byte offset.
fn line_column(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|p| p + 1)
            .unwrap_or(0)
        + 1;
    format!("line {line} column {column}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_have_line_and_column() {
        assert!(check_json("{\"a\": [1, 2]}").is_ok());
        let error = check_json("{\n  \"a\": x\n}").unwrap_err();
        assert!(error.contains("line 2 column"), "{error}");
    }

    #[test]
    fn xml_well_formedness() {
        assert!(
            check_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b>t &amp; &#233;</b><c/></a>\n")
                .is_ok()
        );
        for (bad, why) in [
            ("<a><b></a>", "line 1"),
            ("<a>", "never closed"),
            ("<a/><b/>", "second root"),
            ("text", "outside the root"),
            ("<!-- only a comment -->", "no root"),
            ("<a>&foo;</a>", "unknown entity"),
            ("<a>fish & chips</a>", "line 1"),
            ("<a>1 < 2</a>", "line 1"),
            ("<a>x</a> tail", "outside the root"),
            ("<a>\n<b x=\"1\" x=\"2\"/></a>", "line 2"),
        ] {
            let error = check_xml(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn form_strings() {
        assert!(check_form("a=1&b=x%20y+z&c=").is_ok());
        assert!(check_form("").is_ok());
        assert!(check_form("a=1 2").unwrap_err().contains("` `"));
        assert!(check_form("a=%zz").unwrap_err().contains("hex"));
        assert!(check_form("=1").unwrap_err().contains("no name"));
        assert!(check_form("a=é").unwrap_err().contains("percent-encoded"));
    }
}
