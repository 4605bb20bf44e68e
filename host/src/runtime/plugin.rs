//! A loaded plugin: its pre-instantiated component, limits and configuration,
//! and the typed entry points of the three worlds.

use std::sync::Arc;

use serde_json::Value;
use wasmhook_sdk::{BlockInput, BodyFormat, Callback, Mapped, RenderRequest, Rendered};
use wasmtime::component::InstancePre;

use super::Shared;
use super::bindings::{block, mapper, renderer, types};
use super::call::{CallOutcome, CallStats};
use super::convert::{mapped_from_wit, parse_json};
use super::error::{CallError, PluginId};
use super::http_impl::HttpHandler;
use super::limits::Limits;
use super::load::{PluginInfo, World};
use super::state::CallState;

/// The pre-instantiated component of one world.
pub(crate) enum WorldPre {
    Mapper(mapper::MapperPre<CallState>),
    Renderer(renderer::RendererPre<CallState>),
    Block(block::BlockPre<CallState>),
}

impl WorldPre {
    /// Wraps `pre` in the world's typed bindings, which checks that the world
    /// function has the right signature.
    pub(crate) fn new(world: World, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match world {
            World::Mapper => WorldPre::Mapper(mapper::MapperPre::new(pre)?),
            World::Renderer => WorldPre::Renderer(renderer::RendererPre::new(pre)?),
            World::Block => WorldPre::Block(block::BlockPre::new(pre)?),
        })
    }

    fn world(&self) -> World {
        match self {
            WorldPre::Mapper(_) => World::Mapper,
            WorldPre::Renderer(_) => World::Renderer,
            WorldPre::Block(_) => World::Block,
        }
    }
}

/// A loaded, validated plugin. Cheap to clone, `Send + Sync`: calls are
/// synchronous and independent (a fresh store each), so call it from as many
/// blocking threads as the instance pool allows.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.inner.id)
            .field("world", &self.inner.info.world)
            .field("limits", &self.inner.limits)
            .field("cache_hit", &self.inner.cache_hit)
            .finish_non_exhaustive()
    }
}

pub(crate) struct PluginInner {
    pub(crate) id: PluginId,
    pub(crate) info: PluginInfo,
    pub(crate) limits: Limits,
    pub(crate) plugin_config: Arc<str>,
    pub(crate) pre: WorldPre,
    pub(crate) cache_hit: bool,
    pub(crate) shared: Arc<Shared>,
}

impl Plugin {
    pub(crate) fn new(
        id: PluginId,
        info: PluginInfo,
        limits: Limits,
        plugin_config: Arc<str>,
        pre: WorldPre,
        cache_hit: bool,
        shared: Arc<Shared>,
    ) -> Self {
        Plugin {
            inner: Arc::new(PluginInner {
                id,
                info,
                limits,
                plugin_config,
                pre,
                cache_hit,
                shared,
            }),
        }
    }

    /// The plugin's name and version.
    pub fn id(&self) -> &PluginId {
        &self.inner.id
    }

    /// World, imports, exports, size and hash of the component.
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// The world the plugin targets.
    pub fn world(&self) -> World {
        self.inner.info.world
    }

    /// The limits every call of this plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Whether loading found the compiled component in the artifact cache.
    pub fn cache_hit(&self) -> bool {
        self.inner.cache_hit
    }

    /// Maps one vendor callback to canonical events (mapper world).
    pub fn map(
        &self,
        callback: &Callback,
        config: &Value,
    ) -> Result<(Mapped, CallStats), CallError> {
        self.map_outcome(callback, config).into_result()
    }

    /// Like [`Plugin::map`], keeping the call's stats (and logs) on failure too.
    pub fn map_outcome(&self, callback: &Callback, config: &Value) -> CallOutcome<Mapped> {
        let WorldPre::Mapper(pre) = &self.inner.pre else {
            return self.wrong_world(World::Mapper);
        };
        let callback = types::Callback::from(callback);
        let config = config.to_string();
        self.call(
            None,
            |store| pre.instantiate(store),
            |instance, store| instance.call_map(store, &callback, &config),
            |mapped| {
                self.check_mapped(&mapped)?;
                mapped_from_wit(mapped).map_err(|detail| self.bad_output(detail))
            },
        )
    }

    /// Renders one body (renderer world).
    pub fn render(&self, request: &RenderRequest) -> Result<(Rendered, CallStats), CallError> {
        self.render_outcome(request).into_result()
    }

    /// Like [`Plugin::render`], keeping the call's stats on failure too.
    pub fn render_outcome(&self, request: &RenderRequest) -> CallOutcome<Rendered> {
        self.render_wit(types::RenderRequest::from(request))
    }

    /// Renders with the data and config given as JSON text, as the plugin
    /// receives them: a caller holding the data's JSON (a stored event)
    /// need not parse it only for it to be written out again.
    pub fn render_json_outcome(
        &self,
        template: Option<String>,
        format: BodyFormat,
        data_json: String,
        config_json: String,
    ) -> CallOutcome<Rendered> {
        self.render_wit(types::RenderRequest {
            template,
            format: format.into(),
            data: data_json,
            config: config_json,
        })
    }

    fn render_wit(&self, request: types::RenderRequest) -> CallOutcome<Rendered> {
        let WorldPre::Renderer(pre) = &self.inner.pre else {
            return self.wrong_world(World::Renderer);
        };
        self.call(
            None,
            |store| pre.instantiate(store),
            |instance, store| instance.call_render(store, &request),
            |rendered| {
                self.check_output_size((rendered.body.len() + rendered.content_type.len()) as u64)?;
                Ok(rendered.into())
            },
        )
    }

    /// Runs a workflow block (block world); its `http.send` calls go to `http`.
    pub fn run_block(
        &self,
        input: &BlockInput,
        config: &Value,
        http: Arc<dyn HttpHandler>,
    ) -> Result<(Value, CallStats), CallError> {
        self.run_block_outcome(input, config, http).into_result()
    }

    /// Like [`Plugin::run_block`], keeping the call's stats on failure too.
    pub fn run_block_outcome(
        &self,
        input: &BlockInput,
        config: &Value,
        http: Arc<dyn HttpHandler>,
    ) -> CallOutcome<Value> {
        let WorldPre::Block(pre) = &self.inner.pre else {
            return self.wrong_world(World::Block);
        };
        let input = types::BlockInput::from(input);
        let config = config.to_string();
        self.call(
            Some(http),
            |store| pre.instantiate(store),
            |instance, store| instance.call_run(store, &input, &config),
            |data| {
                self.check_output_size(data.len() as u64)?;
                parse_json(&data)
                    .map_err(|error| self.bad_output(format!("block data is not JSON: {error}")))
            },
        )
    }

    fn wrong_world<T>(&self, expected: World) -> CallOutcome<T> {
        CallOutcome {
            result: Err(CallError::WrongWorld {
                plugin: self.inner.id.name.clone(),
                version: self.inner.id.version.clone(),
                expected,
                actual: self.inner.pre.world(),
            }),
            stats: CallStats::default(),
        }
    }
}
