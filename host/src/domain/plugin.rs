//! Plugins as the registry keeps them: a name, its immutable versions (the
//! component's hash, world, size, upload time) and which version is active.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Name;
use crate::runtime::World;

/// The world a plugin targets, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginWorld {
    /// Vendor callback → canonical events.
    Mapper,
    /// Template + data → request body.
    Renderer,
    /// Workflow block that may call out over HTTP.
    Block,
}

impl From<World> for PluginWorld {
    fn from(world: World) -> Self {
        match world {
            World::Mapper => PluginWorld::Mapper,
            World::Renderer => PluginWorld::Renderer,
            World::Block => PluginWorld::Block,
        }
    }
}

impl PluginWorld {
    /// The world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginWorld::Mapper => "mapper",
            PluginWorld::Renderer => "renderer",
            PluginWorld::Block => "block",
        }
    }
}

/// One uploaded version of a plugin. Never changes once stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PluginVersion {
    /// 1, 2, 3… in upload order.
    pub version: u32,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// The world it targets.
    pub world: PluginWorld,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// Upload time, epoch ms.
    pub created_at: u64,
}

/// A plugin: its name, world, versions and the active one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PluginRecord {
    /// The plugin's name.
    pub name: Name,
    /// The world every version targets.
    pub world: PluginWorld,
    /// The version calls use.
    pub active_version: u32,
    /// The highest version uploaded.
    pub latest_version: u32,
    /// First upload, epoch ms.
    pub created_at: u64,
    /// Last upload or activation, epoch ms.
    pub updated_at: u64,
}
