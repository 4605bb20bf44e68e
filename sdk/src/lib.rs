//! The wasmhook plugin SDK: write a mapper, renderer or block as a plain Rust
//! function over the canonical model, test it natively with `cargo test`, and
//! build it into a component with `cargo build --target wasm32-wasip2`.
//!
//! A mapper reads a vendor's callback and answers canonical [`Event`]s. The
//! attribute only adds the component export (for wasm32); the function stays
//! an ordinary function, so this example runs natively:
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! #[mapper]
//! fn map(callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
//!     let body = callback.json_value()?;
//!     let status = match path::get_str(&body, "status").as_deref() {
//!         Some("DELIVERED") => Status::Delivered,
//!         other => return Err(PluginError::unsupported(format!("status {other:?}"))),
//!     };
//!     Ok(vec![Event::status(Channel::Sms, status, "acme")
//!         .message_id(path::get_str(&body, "id"))
//!         .timestamp(path::get(&body, "ts").and_then(time::timestamp_ms))
//!         .raw(body)])
//! }
//!
//! # fn main() {
//! let callback = Callback::json(r#"{"id": "m-1", "status": "DELIVERED", "ts": 1700000000}"#);
//! let events = map(callback, Config::default()).unwrap();
//! assert_eq!(events[0].reference.vendor_message_id.as_deref(), Some("m-1"));
//! assert_eq!(events[0].status.as_ref().unwrap().timestamp, Some(1_700_000_000_000));
//! # }
//! ```
//!
//! The crate is organised as:
//!
//! - [`model`]: the canonical types plugins read and write ([`Event`],
//!   [`Callback`], [`Mapped`], [`RenderRequest`], [`BlockInput`], ...).
//! - [`body`], [`path`], [`xml`], [`time`], [`map`]: reading vendor
//!   callbacks (bodies in any format, JSON paths, timestamps, status tables).
//! - [`config`]: typed access to a plugin's JSON configuration.
//! - [`host`]: what the host provides (logging, plugin config, outbound HTTP),
//!   with native stand-ins in [`testing`].
//! - `#[mapper]`, `#[renderer]`, `#[block]`: the attribute macros (feature
//!   `guest`, on by default; from `wasmhook-sdk-macros`).
//! - [`prelude`]: everything a plugin usually needs, in one `use`.
//!
//! Build a plugin crate with `crate-type = ["cdylib", "rlib"]` and
//! `cargo build --release --target wasm32-wasip2`; the host loads the
//! resulting `.wasm` component.
//!
//! # Features
//!
//! - `guest` (default): the WIT bindings and the attribute macros. The host
//!   turns it off to use the model alone.
//! - `schema`: OpenAPI schemas for the model types (via `utoipa`).

#![warn(missing_docs)]
#![warn(rustdoc::broken_intra_doc_links)]

pub mod body;
mod builder;
pub mod config;
#[cfg(not(target_arch = "wasm32"))]
pub mod fixtures;
pub mod host;
pub mod map;
pub mod model;
pub mod path;
#[cfg_attr(all(feature = "guest", target_arch = "wasm32"), allow(dead_code))]
pub mod testing;
pub mod time;
pub mod xml;

#[cfg(feature = "guest")]
mod guest;

pub use body::{BodyKind, Params};
pub use config::Config;
pub use model::*;
pub use serde_json::{self, Value, json};
#[cfg(feature = "guest")]
pub use wasmhook_sdk_macros::{block, mapper, renderer};

/// Everything a plugin usually needs, in one `use`: the model types,
/// [`Config`], the [`host`], [`path`] and [`time`] modules, `serde_json`'s
/// [`Value`] and [`json!`], and (feature `guest`) the attribute macros.
///
/// ```
/// use wasmhook_sdk::prelude::*;
///
/// let body = json!({"to": "+15550100"});
/// let event = Event::status(Channel::Sms, Status::Sent, "acme")
///     .recipient(path::get_str(&body, "to"));
/// assert_eq!(event.channel_value.as_deref(), Some("+15550100"));
/// ```
pub mod prelude {
    pub use crate::body::{BodyKind, Params};
    pub use crate::config::Config;
    pub use crate::model::{
        BlockInput, BodyFormat, Callback, Channel, ErrorKind, Event, EventType, HttpError,
        HttpRequest, HttpResponse, InboundMessage, LogLevel, Mapped, Media, MessageContext,
        PluginError, Reference, RenderRequest, Rendered, Reply, Status, StatusInfo,
    };
    pub use crate::{host, path, time};
    pub use serde_json::{self, Value, json};
    #[cfg(feature = "guest")]
    pub use wasmhook_sdk_macros::{block, mapper, renderer};
}

/// Used by the code the attribute macros generate; not a public API.
#[doc(hidden)]
#[cfg(feature = "guest")]
pub mod __private {
    pub use crate::guest::bindings;
    pub use crate::guest::{run_block, run_mapper, run_renderer};
    pub use wit_bindgen;

    /// The WIT types the export glue is written against.
    pub use crate::guest::bindings::wasmhook::plugin::types as wit;

    /// Compile-time check that a `#[mapper]` function has the right shape.
    pub fn assert_mapper<F, O>(_: F)
    where
        F: FnOnce(crate::Callback, crate::Config) -> Result<O, crate::PluginError>,
        O: Into<crate::Mapped>,
    {
    }

    /// Compile-time check that a `#[renderer]` function has the right shape.
    pub fn assert_renderer<F>(_: F)
    where
        F: FnOnce(crate::RenderRequest) -> Result<crate::Rendered, crate::PluginError>,
    {
    }

    /// Compile-time check that a `#[block]` function has the right shape.
    pub fn assert_block<F>(_: F)
    where
        F: FnOnce(
            crate::BlockInput,
            crate::Config,
        ) -> Result<serde_json::Value, crate::PluginError>,
    {
    }
}

/// The README's example, compiled by `cargo test --doc` so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
