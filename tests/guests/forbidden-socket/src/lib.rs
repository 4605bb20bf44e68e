//! A mapper that opens a TCP socket itself (WASI sockets): the host gives
//! plugins no network, so it must refuse to load it, naming the import.

use wasmhook_sdk::prelude::*;

#[mapper]
fn map(_callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
    match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => Err(PluginError::internal("connected, which must never happen")),
        Err(error) => Err(PluginError::upstream(error.to_string())),
    }
}
