//! The canonical model shared by plugins and the host, one module per
//! world: the canonical event, the mapper's callback and answer, the
//! renderer's request and body, the block's input and outbound HTTP, and what
//! every world shares (plugin errors, log levels). Plain serde types that
//! mirror `wit/wasmhook.wit` one to one, usable without wasm.

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
pub type Field = (String, String);

/// The first field named `name` (case-insensitive) in a header or query list.
pub fn find_field<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
