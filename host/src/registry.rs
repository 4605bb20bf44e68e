//! The plugin registry: uploads validated by the runtime and stored as
//! immutable versions, and the loaded, ready-to-call active version of each
//! plugin. Activation loads the new version first and then swaps one pointer,
//! so calls in flight finish on the old version and none fails mid-swap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::domain::Name;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginWorld};
use crate::ids::now_ms;
use crate::runtime::{Lane, LimitsOverride, LoadError, Plugin, PluginId, Runtime};
use crate::store::{self, ConfigChange, NewVersion, Store, StoreError, Uploader};
use crate::store::{AddVersionError, AddedVersion};

/// What went wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No plugin of that name.
    #[error("no plugin named `{0}`")]
    NotFound(String),
    /// The plugin has no such version.
    #[error("plugin `{name}` has no version {version}")]
    NoVersion {
        /// The plugin.
        name: String,
        /// The version asked for.
        version: u32,
    },
    /// The runtime refused the component.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The upload targets another world than the plugin's versions.
    #[error("{0}")]
    WorldMismatch(String),
    /// A tenant tried to change a shared plugin.
    #[error("{0}")]
    SharedPlugin(String),
    /// A tenant uploaded under a name another tenant's plugin has.
    #[error("{0}")]
    NameTaken(String),
    /// A stored component is gone (the store lost a blob).
    #[error("plugin `{0}`: the stored component is missing")]
    MissingBytes(PluginId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AddVersionError> for RegistryError {
    fn from(error: AddVersionError) -> Self {
        match error {
            AddVersionError::WorldMismatch { .. } => {
                RegistryError::WorldMismatch(error.to_string())
            }
            AddVersionError::Shared(_) => RegistryError::SharedPlugin(error.to_string()),
            AddVersionError::NameTaken(_) => RegistryError::NameTaken(error.to_string()),
            AddVersionError::Store(error) => RegistryError::Store(error),
        }
    }
}

/// A plugin version loaded and ready for calls.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Its version number.
    pub version: u32,
    /// The plugin's own limits it was loaded with (its settings then).
    limits: LimitsOverride,
    /// The callable plugin.
    pub plugin: Plugin,
}

/// Uploads, activation and the loaded plugins.
pub struct Registry {
    runtime: Runtime,
    store: Arc<Store>,
    /// The active version of each plugin loaded so far. Readers take a
    /// snapshot without locking; writers replace the whole map.
    active: ArcSwap<HashMap<Name, LoadedPlugin>>,
    /// Serialises writers of `active`.
    swap_lock: Mutex<()>,
    /// What block-world plugins load with on top of the runtime's default
    /// limits: a block run's deadline covers its outbound requests, so it
    /// is far longer than a mapper's.
    block_limits: LimitsOverride,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry over `store`, loading with `runtime`.
    pub fn new(runtime: Runtime, store: Arc<Store>) -> Self {
        Registry {
            runtime,
            store,
            active: ArcSwap::from_pointee(HashMap::new()),
            swap_lock: Mutex::new(()),
            block_limits: LimitsOverride::default(),
        }
    }

    /// The same registry loading block-world plugins with `limits` over the
    /// runtime's defaults (e.g. the block run deadline). Set before use.
    pub fn with_block_limits(mut self, limits: LimitsOverride) -> Self {
        self.block_limits = limits;
        self
    }

    /// The runtime plugins are loaded with.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The fair-queue lane `key` of `tenant`'s plugin calls, weighted by
    /// the tenant's `quotas.plugin_share` (1 when unset, or for a tenant
    /// that is gone).
    pub fn lane(&self, tenant: &Name, key: impl AsRef<str>) -> Lane {
        let weight = self
            .store
            .tenant(tenant)
            .and_then(|tenant| tenant.quotas.plugin_share)
            .unwrap_or(1);
        Lane::of_tenant(tenant.as_str(), weight, key)
    }

    /// Validates (compiling, which also fills the cache) and stores a new
    /// version. Blocking: call from a blocking task.
    pub fn upload(
        &self,
        name: &Name,
        bytes: &[u8],
        activate: bool,
        uploader: Uploader,
    ) -> Result<AddedVersion, RegistryError> {
        // An uploaded block plugin makes no outbound request until the
        // operator (or, for a private plugin, its tenant) lists the hosts it
        // may reach.
        self.upload_with_hosts(name, bytes, activate, uploader, |_| Vec::new())
    }

    /// [`Registry::upload`], with the allowed hosts a new plugin starts with
    /// chosen by its world.
    fn upload_with_hosts(
        &self,
        name: &Name,
        bytes: &[u8],
        activate: bool,
        uploader: Uploader,
        initial_hosts: impl FnOnce(PluginWorld) -> Vec<HostPattern>,
    ) -> Result<AddedVersion, RegistryError> {
        let info = self.runtime.inspect(bytes)?;
        let world = PluginWorld::from(info.world);
        let added = store::wait(self.store.add_plugin_version(
            name,
            NewVersion {
                bytes,
                sha256: info.sha256,
                world,
                now_ms: now_ms(),
                activate,
                allowed_hosts: initial_hosts(world),
                uploader,
            },
        ))?;
        if added.record.active_version == added.version.version {
            self.load_into_active(name, added.version.version)?;
        }
        Ok(added)
    }

    /// Makes `version` active: loads it, records it, then swaps it in.
    /// Blocking: call from a blocking task.
    pub fn activate(&self, name: &Name, version: u32) -> Result<PluginRecord, RegistryError> {
        let loaded = self.load_version(name, version)?;
        let record = self.store.activate_plugin(name, version, now_ms());
        let record =
            store::wait(record)?.ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        self.swap_in(name, loaded);
        Ok(record)
    }

    /// The active version of `name`, loading it on first use.
    pub fn active(&self, name: &Name) -> Result<LoadedPlugin, RegistryError> {
        if let Some(loaded) = self.active.load().get(name) {
            return Ok(loaded.clone());
        }
        let record = store::wait(self.store.plugin(name))?
            .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        self.load_into_active(name, record.active_version)
    }

    /// [`Registry::active`] for async callers (ingest, delivery): a plugin
    /// already loaded is returned at once; one that must be loaded (and
    /// perhaps compiled) is loaded on a blocking thread, never on the
    /// thread that answers requests.
    pub async fn active_async(
        self: &Arc<Self>,
        name: &Name,
    ) -> Result<LoadedPlugin, RegistryError> {
        if let Some(loaded) = self.active.load().get(name) {
            return Ok(loaded.clone());
        }
        let (registry, name) = (Arc::clone(self), name.clone());
        match tokio::task::spawn_blocking(move || registry.active(&name)).await {
            Ok(result) => result,
            // The load panicked; let the panic reach the caller as one.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Only a runtime shutting down cancels a blocking task.
            Err(_cancelled) => Err(RegistryError::Store(StoreError::Closed)),
        }
    }

    /// A specific version, loaded for one use (e.g. a dry run).
    pub fn version(&self, name: &Name, version: u32) -> Result<LoadedPlugin, RegistryError> {
        match self.active.load().get(name) {
            Some(loaded) if loaded.version == version => Ok(loaded.clone()),
            _ => self.load_version(name, version),
        }
    }

    /// Changes a plugin's settings: its allowed hosts and/or its limits
    /// (`None` keeps what is set). New limits are checked against the
    /// runtime's ceilings first, and the active version is reloaded with
    /// them, so the next call runs under them. Blocking.
    pub fn set_settings(
        &self,
        name: &Name,
        allowed_hosts: Option<Vec<HostPattern>>,
        limits: Option<LimitsOverride>,
    ) -> Result<PluginRecord, RegistryError> {
        if let Some(limits) = &limits {
            let max = self.runtime.config().max_memory_bytes;
            if let Some(value) = limits.memory_bytes.filter(|bytes| *bytes > max) {
                return Err(RegistryError::Load(LoadError::LimitTooHigh {
                    field: "memory_bytes",
                    value,
                    max,
                }));
            }
        }
        let reload = limits.is_some();
        let record = self
            .store
            .set_plugin_settings(name, allowed_hosts, limits, now_ms());
        let record =
            store::wait(record)?.ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        if reload && self.active.load().contains_key(name) {
            self.load_into_active(name, record.active_version)?;
        }
        Ok(record)
    }

    /// Brings the loaded plugins in line with the store after another node
    /// changed them: a plugin whose active version or limits differ from
    /// what is loaded is reloaded, a deleted one is forgotten. Returns the
    /// names reloaded or forgotten. Blocking: call from a blocking task.
    pub fn reconcile(&self) -> Result<Vec<Name>, RegistryError> {
        let records = store::wait(self.store.plugins())?;
        let loaded = self.active.load_full();
        let mut changed = Vec::new();
        for record in &records {
            let Some(current) = loaded.get(&record.name) else {
                continue;
            };
            if current.version != record.active_version || current.limits != record.limits {
                self.load_into_active(&record.name, record.active_version)?;
                changed.push(record.name.clone());
            }
        }
        for name in loaded.keys() {
            if !records.iter().any(|record| &record.name == name) {
                self.forget(name);
                changed.push(name.clone());
            }
        }
        Ok(changed)
    }

    /// Keeps the loaded plugins in step with the plugin changes `changes`
    /// announces (a store several nodes share announces every node's),
    /// until `shutdown`: each announcement, or a backlog of them, is one
    /// [`Registry::reconcile`].
    pub async fn follow(
        self: Arc<Self>,
        mut changes: tokio::sync::broadcast::Receiver<ConfigChange>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let change = tokio::select! {
                () = shutdown.cancelled() => return,
                change = changes.recv() => change,
            };
            match change {
                Ok(ConfigChange::Plugins) | Err(RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return,
            }
            let registry = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || registry.reconcile()).await {
                Ok(Ok(changed)) if !changed.is_empty() => {
                    tracing::info!(plugins = ?changed, "plugins changed on another node: reloaded");
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "reloading plugins changed on another node failed");
                }
                Err(error) => tracing::warn!(%error, "reloading plugins did not finish"),
            }
        }
    }

    /// Forgets a deleted plugin.
    pub fn forget(&self, name: &Name) {
        let _guard = self.swap_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = HashMap::clone(&self.active.load());
        map.remove(name);
        self.active.store(Arc::new(map));
    }

    fn load_into_active(&self, name: &Name, version: u32) -> Result<LoadedPlugin, RegistryError> {
        let loaded = self.load_version(name, version)?;
        self.swap_in(name, loaded.clone());
        Ok(loaded)
    }

    fn swap_in(&self, name: &Name, loaded: LoadedPlugin) {
        let _guard = self.swap_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = HashMap::clone(&self.active.load());
        map.insert(name.clone(), loaded);
        self.active.store(Arc::new(map));
    }

    fn load_version(&self, name: &Name, version: u32) -> Result<LoadedPlugin, RegistryError> {
        let record = store::wait(self.store.plugin(name))?
            .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        // The server's block limits, then the plugin's own settings.
        let limits = match record.world {
            PluginWorld::Block => self.block_limits,
            PluginWorld::Mapper | PluginWorld::Renderer => LimitsOverride::default(),
        }
        .and_then(&record.limits);
        let id = PluginId::new(name.as_str(), version.to_string());
        let bytes = store::wait(self.store.plugin_bytes(name, version))?.ok_or_else(|| {
            RegistryError::NoVersion {
                name: name.to_string(),
                version,
            }
        })?;
        if bytes.is_empty() {
            return Err(RegistryError::MissingBytes(id));
        }
        let plugin = self
            .runtime
            .load(id, &bytes, &limits, &serde_json::json!({}))?;
        Ok(LoadedPlugin {
            version,
            limits: record.limits,
            plugin,
        })
    }

    /// Installs every `<name>.wasm` of `dir` whose name has no plugin yet,
    /// as version 1, active. Returns the names installed. Blocking.
    pub fn install_bundled(&self, dir: &std::path::Path) -> Result<Vec<String>, InstallError> {
        let entries = std::fs::read_dir(dir).map_err(|error| InstallError {
            path: dir.to_owned(),
            detail: error.to_string(),
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        paths.sort();
        let total = paths.len();
        let mut installed = Vec::new();
        for (index, path) in paths.into_iter().enumerate() {
            let fail = |detail: String| InstallError {
                path: path.clone(),
                detail,
            };
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let name: Name = stem
                .parse()
                .map_err(|e: crate::domain::NameError| fail(e.to_string()))?;
            if store::wait(self.store.plugin(&name))
                .map_err(|e| fail(e.to_string()))?
                .is_some()
            {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
            // Compiling takes seconds per plugin on a first start: say so.
            tracing::info!("compiling {}/{total} {name}", index + 1);
            // A bundled block (the first-party `http-block`) calls the URLs
            // its blocks' operators configure, so it may reach any host; the
            // outbound address rules still apply.
            let any_host = |world| match world {
                PluginWorld::Block => vec![HostPattern::Any],
                PluginWorld::Mapper | PluginWorld::Renderer => Vec::new(),
            };
            // Another node starting at once may have installed it since the
            // look above: then the store answers its version, not a new one.
            let added = self
                .upload_with_hosts(
                    &name,
                    &bytes,
                    true,
                    Uploader::Operator { owner: None },
                    any_host,
                )
                .map_err(|e| fail(e.to_string()))?;
            if added.created {
                installed.push(name.to_string());
            }
        }
        Ok(installed)
    }
}

/// A bundled plugin that could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("installing plugin {path}: {detail}")]
pub struct InstallError {
    /// The component file.
    pub path: std::path::PathBuf,
    /// Why.
    pub detail: String,
}
