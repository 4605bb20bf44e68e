//! The canonical model shared by plugins and the host, one module per
//! world: the canonical event, the mapper's callback and answer, the
//! renderer's request and body, the block's input and outbound HTTP, and what
//! every world shares (plugin errors, log levels). Plain serde types that
//! mirror `wit/wasmhook.wit` one to one, usable without wasm.
//!
//! Everything here is re-exported at the crate root and in the prelude, and
//! serialises to the JSON the host stores and delivers:
//!
//! ```
//! use wasmhook_sdk::model::{Channel, Event, Mapped, Status};
//!
//! let mapped = Mapped::from(Event::status(Channel::Email, Status::Read, "acme"));
//! let json = serde_json::to_value(&mapped).unwrap();
//! assert_eq!(json["events"][0]["status"]["status"], "read");
//! assert_eq!(json["reply"], serde_json::Value::Null);
//! ```

mod block;
mod diagnostics;
mod event;
mod mapper;
mod renderer;

pub use block::*;
pub use diagnostics::*;
pub use event::*;
pub use mapper::*;
pub use renderer::*;

/// A header or query parameter: name and value.
///
/// ```
/// use wasmhook_sdk::model::Field;
///
/// let header: Field = ("Content-Type".into(), "application/json".into());
/// assert_eq!(header.0, "Content-Type");
/// ```
pub type Field = (String, String);

/// The first field named `name` (case-insensitive) in a header or query list.
///
/// ```
/// use wasmhook_sdk::model::find_field;
///
/// let headers = vec![
///     ("X-Signature".to_string(), "abc".to_string()),
///     ("x-signature".to_string(), "def".to_string()),
/// ];
/// assert_eq!(find_field(&headers, "x-SIGNATURE"), Some("abc"));
/// assert_eq!(find_field(&headers, "x-missing"), None);
/// ```
pub fn find_field<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
