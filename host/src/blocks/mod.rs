//! Workflow webhook blocks (seed 001): running a block plugin on
//! `{event, contact, data}` with host-mediated HTTP, alone or in a chain.
//!
//! - [`http`]: the plugin's `http.send`, done by the host — a cap on
//!   requests per run, the methods blocks need and caps on URL, header and
//!   body sizes, connector credentials, the plugin's allowed hosts,
//!   plain-http refusal, the delivery engine's address rules, timeouts
//!   within the run's deadline, a response size cap; every request traced,
//!   counted and recorded (the first ones, as excerpts), secrets masked.
//! - [`run`]: one block or a chain, and the result a workflow engine
//!   branches on (`ok`, `data.<block name>`, an error `code` the host
//!   decides from what it saw).
//!
//! Block records live in `domain::block` and `store`; the routes in
//! `api::blocks`.

pub mod http;
pub mod run;

pub use http::HttpPolicy;
pub use run::{BlockRunner, NotRun};
