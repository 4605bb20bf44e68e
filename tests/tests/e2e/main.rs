//! End-to-end tests: the real runtime and CLI over real components built
//! from `plugins/` and `tests/guests/`. One binary, modules per concern.

mod cache;
mod cli;
mod harness;
mod mappers;
mod renderers;
mod sandbox;
