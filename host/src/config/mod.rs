//! The server's configuration. Every setting is declared once, in
//! [`ServeConfig`] (`settings.rs`): its key, type, default, flag, variable
//! and help. Settings are layered (`layers.rs`): the declared defaults,
//! then a TOML file (`--config`), then `WASMHOOK_*` environment variables,
//! then flags; then validated once (`validate.rs`), with messages that name
//! the setting and the place it was set (`error.rs`).

mod error;
mod layers;
mod settings;
mod validate;

pub use error::{ConfigError, Origin};
pub use layers::ServeArgs;
pub use settings::ServeConfig;

#[cfg(test)]
mod tests;
