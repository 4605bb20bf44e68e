//! The `wasmhook:plugin/host` interface every plugin imports: capped logging
//! and the plugin-wide configuration.

use super::bindings::{host, types};
use super::state::CallState;

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        self.logs.push(level.into(), message);
    }

    fn plugin_config(&mut self) -> String {
        self.plugin_config.to_string()
    }
}
