//! `wasmhook serve`: resolve the layered configuration, bind, and run the
//! server on a multi-threaded runtime until SIGINT/SIGTERM.

use std::process::ExitCode;

use super::CliError;
use crate::app::Server;
use crate::config::ServeArgs;

pub(super) fn serve(args: &ServeArgs) -> Result<ExitCode, CliError> {
    let config = args.resolve()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| CliError::Arg {
                arg: "--listen",
                detail: format!("cannot listen on {}: {source}", config.listen),
            })?;
        let address = listener.local_addr()?;
        let data_dir = config.data_dir.clone();
        let server = tokio::task::spawn_blocking(move || Server::open(config))
            .await
            .map_err(std::io::Error::other)??;
        // Scripts and tests wait for this line to know the port.
        eprintln!(
            "wasmhook: listening on http://{address} (data dir {})",
            data_dir.display()
        );
        server.serve(listener, crate::shutdown::on_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
