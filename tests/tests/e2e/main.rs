//! End-to-end tests: the real runtime and CLI over real components built
//! from `plugins/` and `tests/guests/`. One binary, modules per concern.

mod cache;
mod cli;
mod cli_client;
mod cli_plugin_test;
mod compile;
mod delivery;
mod delivery_crash;
mod delivery_invalid_request;
mod delivery_ordering;
mod delivery_rate;
mod disk_full;
mod durability;
mod harness;
mod mappers;
mod migrate;
mod renderers;
mod sandbox;
mod sandbox_server;
mod server_api;
mod server_blocks;
mod server_caps;
mod server_connections;
mod server_custom_block;
mod server_endpoints;
mod server_hardening;
mod server_ingest;
mod server_ingest_edges;
mod server_ingest_multipart;
mod server_ops;
mod server_publish_batch;
mod server_render;
mod server_tenant_migration;
mod server_tenants;
