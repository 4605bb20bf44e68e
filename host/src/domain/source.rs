//! Sources: where vendor callbacks come in. Each names the mapper plugin that
//! turns its callbacks into events, the mapper's config, and the token a
//! vendor must present at `/ingest/{source}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use wasmhook_sdk::Channel;

use super::{Name, Secret};

/// A source as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    pub tenant: crate::domain::Name,
    /// The source's name: its ingest URL is `/ingest/{name}`.
    pub name: Name,
    /// The vendor (free text, e.g. `gupshup`), for people and filters.
    pub vendor: String,
    /// The mapper plugin's name.
    pub mapper: Name,
    /// The channel given to events whose mapper says `other`.
    pub channel: Option<Channel>,
    /// What the mapper gets as its config.
    pub config: Value,
    /// What a vendor presents to ingest.
    pub ingest_token: Secret,
    /// Free text.
    pub description: Option<String>,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

/// A source as the API shows it. The ingest token is shown because the
/// operator must give it to the vendor; the management API is admin-only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    /// The source's name.
    pub name: Name,
    /// The vendor.
    pub vendor: String,
    /// The mapper plugin.
    pub mapper: Name,
    /// Default channel.
    pub channel: Option<Channel>,
    /// The mapper's config.
    pub config: Value,
    /// The token the vendor presents (`X-Wasmhook-Token` header,
    /// `Authorization: Bearer`, or `?token=`).
    pub ingest_token: String,
    /// Path vendors call, relative to the server.
    pub ingest_path: String,
    /// Free text.
    pub description: Option<String>,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

impl From<&Source> for SourceView {
    fn from(source: &Source) -> Self {
        SourceView {
            name: source.name.clone(),
            vendor: source.vendor.clone(),
            mapper: source.mapper.clone(),
            channel: source.channel,
            config: source.config.clone(),
            ingest_token: source.ingest_token.expose().to_owned(),
            ingest_path: format!("/ingest/{}", source.name),
            description: source.description.clone(),
            created_at: source.created_at,
            updated_at: source.updated_at,
        }
    }
}

/// What `POST /v1/sources` takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// The source's name (slug).
    pub name: Name,
    /// The vendor; defaults to the mapper's name.
    #[serde(default)]
    pub vendor: Option<String>,
    /// The mapper plugin (must exist and be a mapper).
    pub mapper: Name,
    /// Default channel for events the mapper leaves as `other`.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// The mapper's config (a JSON object).
    #[serde(default)]
    pub config: Option<Value>,
    /// The ingest token; generated (`whk_…`) when absent.
    #[serde(default)]
    pub ingest_token: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// What `PATCH /v1/sources/{name}` takes: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    /// New vendor.
    #[serde(default)]
    pub vendor: Option<String>,
    /// New mapper plugin.
    #[serde(default)]
    pub mapper: Option<Name>,
    /// New default channel.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// New mapper config.
    #[serde(default)]
    pub config: Option<Value>,
    /// New ingest token (the old one stops working at once).
    #[serde(default)]
    pub ingest_token: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// The shortest ingest token accepted when an operator sets one.
pub const MIN_TOKEN_LEN: usize = 16;

impl crate::domain::tenant::Owned for Source {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}
