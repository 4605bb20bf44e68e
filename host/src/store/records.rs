//! The records the store port takes and gives besides the domain's own:
//! what an insert did, pages of listings, a due delivery, a new plugin
//! version and who uploads it, what a retention sweep removed and where it
//! goes on from. Shared by every backend.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use crate::domain::Name;
use crate::domain::delivery::Delivery;
use crate::domain::event::CanonicalEvent;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginVersion, PluginWorld};
use crate::domain::tenant::AuditEntry;
use crate::ids::{DeliveryId, EndpointId, EventId};

/// A delivery due for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// When it is due, epoch ms.
    pub at_ms: u64,
    /// The delivery.
    pub id: DeliveryId,
    /// Its endpoint.
    pub endpoint: EndpointId,
}

/// What [`super::Store::claim_due`] took for this node to attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// The deliveries to attempt now, earliest due first.
    pub due: Vec<Due>,
    /// When the endpoint has something due next, if nothing was taken
    /// because it is not due yet (or its pace forbids it until then).
    pub look_again_at: Option<u64>,
}

/// What became of one event handed to [`Store::insert_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Inserted {
    /// The stored event's id; for a duplicate, the id of the event stored
    /// the first time.
    pub id: EventId,
    /// The same event was already stored.
    pub duplicate: bool,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, newest first.
    pub data: Vec<CanonicalEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<EventId>,
}

/// An event to store with the deliveries it fans out to (see
/// [`crate::delivery::fan_out`]): both go in in one transaction, the
/// deliveries only when the event is not a resend of a stored one.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its tenant (the source's, or the publisher's).
    pub tenant: Name,
    /// The event.
    pub event: CanonicalEvent,
    /// One per endpoint that wants it.
    pub deliveries: Vec<Delivery>,
}

/// A component about to become a new version.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// Its bytes.
    pub bytes: &'a [u8],
    /// SHA-256, hex.
    pub sha256: String,
    /// Its world.
    pub world: PluginWorld,
    /// Now, epoch ms.
    pub now_ms: u64,
    /// Make it the active version (always so for a plugin's first version).
    pub activate: bool,
    /// The allowed hosts of a plugin this upload creates (a new version of
    /// an existing plugin keeps the plugin's own).
    pub allowed_hosts: Vec<HostPattern>,
    /// Who uploads: which plugins the upload may extend, and whose a plugin
    /// it creates is.
    pub uploader: Uploader,
}

/// What an upload left in the store.
#[derive(Debug, Clone)]
pub struct AddedVersion {
    /// The plugin after the upload.
    pub record: PluginRecord,
    /// The version the bytes are: the new one, or the existing version
    /// whose bytes are identical.
    pub version: PluginVersion,
    /// `false` when the bytes were already a version of the plugin and no
    /// version was added (a repeated push, two nodes installing the same
    /// bundled plugin at once).
    pub created: bool,
}

/// Who uploads a version, which decides which existing plugin it may
/// extend and who owns a plugin it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploader {
    /// The operator: may extend any plugin; one it creates is shared, or
    /// private to `owner`.
    Operator {
        /// The tenant a new plugin is private to; `None`: shared.
        owner: Option<Name>,
    },
    /// A tenant: may extend only its own private plugins; one it creates is
    /// private to it.
    Tenant(Name),
}

impl Uploader {
    /// The owner of a plugin this upload creates.
    pub(super) fn owner_of_new(&self) -> Option<Name> {
        match self {
            Uploader::Operator { owner } => owner.clone(),
            Uploader::Tenant(tenant) => Some(tenant.clone()),
        }
    }
}

/// Why a new version was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddVersionError {
    /// The plugin's earlier versions target another world.
    #[error("plugin `{name}` is a {existing}; a {uploaded} cannot be a new version of it")]
    WorldMismatch {
        /// The plugin.
        name: Name,
        /// Its world.
        existing: &'static str,
        /// The upload's world.
        uploaded: &'static str,
    },
    /// A tenant uploaded under the name of a shared plugin.
    #[error("plugin `{0}` is shared; only the operator uploads its versions")]
    Shared(Name),
    /// A tenant uploaded under the name of another tenant's private plugin.
    /// Plugin names are unique across the server, like source names.
    #[error("the plugin name `{0}` is taken; choose another")]
    NameTaken(Name),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of a tenant's audit log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub data: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What one sweep removed for one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Events (with their dedupe entries).
    pub events: u64,
    /// Finished deliveries (with their attempts).
    pub deliveries: u64,
    /// Rejected callbacks.
    pub rejected: u64,
    /// Accepted callbacks kept for replays (past the callback retention
    /// or the tenant's).
    pub callbacks: u64,
}

/// What one call of [`Store::expire`] did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Removed records, per tenant.
    pub expired: HashMap<Name, Expired>,
    /// Whether the call stopped at its budget with more to look at: call
    /// again with the same cursor.
    pub more: bool,
}

/// Where a sweep goes on from: the last key read of each kind. A new
/// (default) cursor starts from the oldest records.
#[derive(Debug, Default, Clone)]
pub struct SweepCursor {
    pub(super) deliveries: Option<Vec<u8>>,
    pub(super) events: Option<Vec<u8>>,
    pub(super) rejected: Option<Vec<u8>>,
}

/// Which kind of configuration changed (on this node or another): what a
/// node refreshes, and what the plugin registry reloads on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigChange {
    /// Tenants or their keys.
    Tenants,
    /// Plugins: uploads, activations, settings, deletions.
    Plugins,
    /// Sources.
    Sources,
    /// Endpoints.
    Endpoints,
    /// Connectors.
    Connectors,
    /// Blocks.
    Blocks,
}

impl ConfigChange {
    /// Every kind.
    pub const ALL: [ConfigChange; 6] = [
        ConfigChange::Tenants,
        ConfigChange::Plugins,
        ConfigChange::Sources,
        ConfigChange::Endpoints,
        ConfigChange::Connectors,
        ConfigChange::Blocks,
    ];

    /// Its name on the wire (the notification's payload).
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigChange::Tenants => "tenants",
            ConfigChange::Plugins => "plugins",
            ConfigChange::Sources => "sources",
            ConfigChange::Endpoints => "endpoints",
            ConfigChange::Connectors => "connectors",
            ConfigChange::Blocks => "blocks",
        }
    }

    /// Back from [`ConfigChange::as_str`].
    pub fn parse(text: &str) -> Option<ConfigChange> {
        ConfigChange::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// How a backend's database connection pool stands (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFigures {
    /// The most connections it opens.
    pub max: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections idle now.
    pub idle: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}
