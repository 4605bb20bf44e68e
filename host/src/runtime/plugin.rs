//! A loaded plugin: its pre-instantiated component, limits and configuration,
//! and the typed entry points of the three worlds.

use std::sync::Arc;

use serde_json::Value;
use wasmhook_sdk::{BlockInput, BodyFormat, Callback, Mapped, RenderRequest, Rendered};
use wasmtime::component::InstancePre;

use super::Shared;
use super::bindings::{block, mapper, renderer, types};
use super::call::{CallOutcome, CallStats, Finish, Invocation, Returned};
use super::convert::{mapped_from_wit, parse_json};
use super::error::{CallError, PluginId};
use super::http_impl::HttpHandler;
use super::limits::Limits;
use super::load::{PluginInfo, World};
use super::scheduler::Lane;
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

/// A loaded, validated plugin. Cheap to clone, `Send + Sync`: every call is
/// independent (a fresh store each) and runs on the runtime's plugin
/// threads, admitted through its fair queue; the `*_async` entry points
/// await it, the others block the calling thread.
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

    /// Maps one vendor callback to canonical events (mapper world), charged
    /// to `lane` in the fair queue.
    pub async fn map_async(
        &self,
        lane: &Lane,
        callback: &Callback,
        config: &Value,
    ) -> CallOutcome<Mapped> {
        match self.map_invocation(callback, config) {
            Ok((invocation, finish)) => self.call(lane, invocation, None, finish).await,
            Err(error) => CallOutcome::failed(error),
        }
    }

    /// [`Plugin::map_async`] for synchronous callers, charged to the
    /// plugin's own lane.
    pub fn map(
        &self,
        callback: &Callback,
        config: &Value,
    ) -> Result<(Mapped, CallStats), CallError> {
        self.map_outcome(callback, config).into_result()
    }

    /// Like [`Plugin::map`], keeping the call's stats (and logs) on failure too.
    pub fn map_outcome(&self, callback: &Callback, config: &Value) -> CallOutcome<Mapped> {
        match self.map_invocation(callback, config) {
            Ok((invocation, finish)) => {
                self.call_blocking(&self.own_lane(), invocation, None, finish)
            }
            Err(error) => CallOutcome::failed(error),
        }
    }

    fn map_invocation(
        &self,
        callback: &Callback,
        config: &Value,
    ) -> Result<(Invocation, Finish<Mapped>), CallError> {
        self.expect_world(World::Mapper)?;
        let input_bytes = callback.body.len() + callback.query.len();
        let output_cap = self.inner.limits.mapper_output_cap(input_bytes as u64);
        let invocation = Invocation::Map {
            callback: types::Callback::from(callback),
            config: config.to_string(),
        };
        let finish: Finish<Mapped> = Box::new(move |plugin, returned| {
            let Returned::Mapped(mapped) = returned else {
                return Err(plugin.bad_output("the mapper returned another world's value".into()));
            };
            plugin.check_mapped(&mapped, output_cap)?;
            mapped_from_wit(mapped).map_err(|detail| plugin.bad_output(detail))
        });
        Ok((invocation, finish))
    }

    /// Renders one body (renderer world), charged to `lane`.
    pub async fn render_async(
        &self,
        lane: &Lane,
        request: &RenderRequest,
    ) -> CallOutcome<Rendered> {
        match self.render_invocation(types::RenderRequest::from(request)) {
            Ok((invocation, finish)) => self.call(lane, invocation, None, finish).await,
            Err(error) => CallOutcome::failed(error),
        }
    }

    /// Renders with the data and config given as JSON text, as the plugin
    /// receives them: a caller holding the data's JSON (a stored event)
    /// need not parse it only for it to be written out again.
    pub async fn render_json_async(
        &self,
        lane: &Lane,
        template: Option<String>,
        format: BodyFormat,
        data_json: String,
        config_json: String,
    ) -> CallOutcome<Rendered> {
        let request = types::RenderRequest {
            template,
            format: format.into(),
            data: data_json,
            config: config_json,
        };
        match self.render_invocation(request) {
            Ok((invocation, finish)) => self.call(lane, invocation, None, finish).await,
            Err(error) => CallOutcome::failed(error),
        }
    }

    /// [`Plugin::render_async`] for synchronous callers.
    pub fn render(&self, request: &RenderRequest) -> Result<(Rendered, CallStats), CallError> {
        self.render_outcome(request).into_result()
    }

    /// Like [`Plugin::render`], keeping the call's stats on failure too.
    pub fn render_outcome(&self, request: &RenderRequest) -> CallOutcome<Rendered> {
        match self.render_invocation(types::RenderRequest::from(request)) {
            Ok((invocation, finish)) => {
                self.call_blocking(&self.own_lane(), invocation, None, finish)
            }
            Err(error) => CallOutcome::failed(error),
        }
    }

    fn render_invocation(
        &self,
        request: types::RenderRequest,
    ) -> Result<(Invocation, Finish<Rendered>), CallError> {
        self.expect_world(World::Renderer)?;
        let finish: Finish<Rendered> = Box::new(|plugin, returned| {
            let Returned::Rendered(rendered) = returned else {
                return Err(plugin.bad_output("the renderer returned another world's value".into()));
            };
            plugin.check_output_size((rendered.body.len() + rendered.content_type.len()) as u64)?;
            Ok(rendered.into())
        });
        Ok((Invocation::Render(request), finish))
    }

    /// Runs a workflow block (block world), charged to `lane`; its
    /// `http.send` calls go to `http`.
    pub async fn run_block_async(
        &self,
        lane: &Lane,
        input: &BlockInput,
        config: &Value,
        http: Arc<dyn HttpHandler>,
    ) -> CallOutcome<Value> {
        match self.block_invocation(input, config) {
            Ok((invocation, finish)) => self.call(lane, invocation, Some(http), finish).await,
            Err(error) => CallOutcome::failed(error),
        }
    }

    /// [`Plugin::run_block_async`] for synchronous callers.
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
        match self.block_invocation(input, config) {
            Ok((invocation, finish)) => {
                self.call_blocking(&self.own_lane(), invocation, Some(http), finish)
            }
            Err(error) => CallOutcome::failed(error),
        }
    }

    fn block_invocation(
        &self,
        input: &BlockInput,
        config: &Value,
    ) -> Result<(Invocation, Finish<Value>), CallError> {
        self.expect_world(World::Block)?;
        let invocation = Invocation::Run {
            input: types::BlockInput::from(input),
            config: config.to_string(),
        };
        let finish: Finish<Value> = Box::new(|plugin, returned| {
            let Returned::Data(data) = returned else {
                return Err(plugin.bad_output("the block returned another world's value".into()));
            };
            plugin.check_output_size(data.len() as u64)?;
            parse_json(&data)
                .map_err(|error| plugin.bad_output(format!("block data is not JSON: {error}")))
        });
        Ok((invocation, finish))
    }

    fn expect_world(&self, expected: World) -> Result<(), CallError> {
        let actual = self.inner.pre.world();
        if actual == expected {
            return Ok(());
        }
        Err(CallError::WrongWorld {
            plugin: self.inner.id.name.clone(),
            version: self.inner.id.version.clone(),
            expected,
            actual,
        })
    }
}
