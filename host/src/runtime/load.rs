//! Validation and inspection of uploaded components: the cheap byte-level
//! checks (size, magic, core module vs component, precompiled artifact), the
//! world a component targets (from its exports) and whether the host provides
//! everything it imports.

use std::fmt;

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::error::LoadError;
use super::linker::{BLOCK_ONLY_IMPORTS, PLUGIN_IMPORTS, WASI_IMPORTS};

/// The plugin world a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum World {
    /// Exports `map`: vendor callback to canonical events.
    Mapper,
    /// Exports `render`: template and data to a request body.
    Renderer,
    /// Exports `run`: a workflow block that may call out over HTTP.
    Block,
}

impl World {
    /// The world's name (`mapper`, `renderer`, `block`).
    pub fn as_str(self) -> &'static str {
        match self {
            World::Mapper => "mapper",
            World::Renderer => "renderer",
            World::Block => "block",
        }
    }

    /// The function a component of this world exports.
    pub fn export(self) -> &'static str {
        match self {
            World::Mapper => "map",
            World::Renderer => "render",
            World::Block => "run",
        }
    }

    const ALL: [World; 3] = [World::Mapper, World::Renderer, World::Block];
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component is, as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The world it targets.
    pub world: World,
    /// Its exports by name.
    pub exports: Vec<String>,
    /// Its imports by full name (`wasi:cli/stdout@0.2.6`, ...).
    pub imports: Vec<String>,
    /// Size of the component in bytes.
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the component bytes.
    pub sha256: String,
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Version and layer fields of a core module (version 1, layer 0).
const CORE_MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
/// Layer 1 marks a component (the version field is the component-model draft).
const COMPONENT_LAYER: [u8; 2] = [0x01, 0x00];

/// The byte-level checks done before anything is compiled.
pub(crate) fn check_bytes(bytes: &[u8], max_bytes: u64) -> Result<(), LoadError> {
    let size = bytes.len() as u64;
    if size > max_bytes {
        return Err(LoadError::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    // Before the magic check: a wasmtime artifact is an ELF file, and saying
    // "precompiled" is more useful than "not wasm".
    if Engine::detect_precompiled(bytes).is_some() {
        return Err(LoadError::Precompiled);
    }
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(LoadError::NotWasm);
    }
    if bytes[4..8] == CORE_MODULE_VERSION {
        return Err(LoadError::CoreModule);
    }
    if bytes[6..8] != COMPONENT_LAYER {
        return Err(LoadError::Invalid {
            detail: format!(
                "unsupported WebAssembly version/layer {:02x?}",
                &bytes[4..8]
            ),
        });
    }
    Ok(())
}

/// The world the component targets, judged by which world function it exports.
pub(crate) fn classify(engine: &Engine, component: &Component) -> Result<World, LoadError> {
    let ty = component.component_type();
    let exports: Vec<(String, bool)> = ty
        .exports(engine)
        .map(|(name, item)| {
            let is_func = matches!(item.ty, ComponentItem::ComponentFunc(_));
            (name.to_owned(), is_func)
        })
        .collect();
    let worlds: Vec<World> = World::ALL
        .into_iter()
        .filter(|world| {
            exports
                .iter()
                .any(|(name, is_func)| *is_func && name == world.export())
        })
        .collect();
    match worlds.as_slice() {
        [world] => Ok(*world),
        [] => Err(LoadError::UnknownWorld {
            exports: exports.into_iter().map(|(name, _)| name).collect(),
        }),
        _ => Err(LoadError::AmbiguousWorld {
            exports: worlds.iter().map(|w| format!("`{}`", w.export())).collect(),
        }),
    }
}

/// Refuses the first import the host does not give a component of `world`.
pub(crate) fn check_imports<'a>(
    world: World,
    imports: impl IntoIterator<Item = &'a str>,
) -> Result<(), LoadError> {
    for import in imports {
        let interface = unversioned(import);
        let provided = WASI_IMPORTS.contains(&interface)
            || PLUGIN_IMPORTS.contains(&interface)
            || (world == World::Block && BLOCK_ONLY_IMPORTS.contains(&interface));
        if !provided {
            return Err(LoadError::UnsatisfiedImport {
                world,
                import: import.to_owned(),
                hint: import_hint(world, interface),
            });
        }
    }
    Ok(())
}

/// Advice for the imports plugin authors most often pull in by accident.
fn import_hint(world: World, interface: &str) -> &'static str {
    if interface.starts_with("wasi:sockets/") {
        "; plugins open no sockets (blocks call out through `wasmhook:plugin/http`)"
    } else if interface.starts_with("wasi:http/") {
        "; use `wasmhook:plugin/http` from a block instead"
    } else if BLOCK_ONLY_IMPORTS.contains(&interface) && world != World::Block {
        "; only blocks may make HTTP requests"
    } else {
        ""
    }
}

/// `wasi:cli/stdout@0.2.6` -> `wasi:cli/stdout`.
fn unversioned(name: &str) -> &str {
    name.split_once('@')
        .map_or(name, |(interface, _)| interface)
}

/// Imports and exports of a component by name, for [`PluginInfo`].
pub(crate) fn names(engine: &Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    (imports, exports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(wat: &str) -> Component {
        Component::new(&Engine::default(), wat::parse_str(wat).unwrap()).unwrap()
    }

    #[test]
    fn random_bytes_are_not_wasm() {
        let err = check_bytes(b"hello, this is not wasm", 1 << 20).unwrap_err();
        assert!(matches!(err, LoadError::NotWasm));
        assert_eq!(err.to_string(), "random bytes: not a WebAssembly binary");
        assert!(matches!(check_bytes(b"", 10), Err(LoadError::NotWasm)));
    }

    #[test]
    fn core_module_is_refused_with_advice() {
        let module = wat::parse_str("(module (func (export \"f\")))").unwrap();
        let err = check_bytes(&module, 1 << 20).unwrap_err();
        assert!(matches!(err, LoadError::CoreModule));
        assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
    }

    #[test]
    fn oversized_upload_is_refused_before_parsing() {
        let err = check_bytes(&[0u8; 2048], 1024).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::TooLarge {
                    size: 2048,
                    limit: 1024
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn precompiled_artifact_is_refused() {
        let engine = Engine::default();
        let bytes = engine
            .precompile_component(&wat::parse_str("(component)").unwrap())
            .unwrap();
        let err = check_bytes(&bytes, 64 << 20).unwrap_err();
        assert!(matches!(err, LoadError::Precompiled), "{err}");
    }

    #[test]
    fn component_header_passes() {
        let bytes = wat::parse_str("(component)").unwrap();
        check_bytes(&bytes, 1 << 20).unwrap();
    }

    #[test]
    fn component_without_world_export_is_unknown_and_says_what_it_exports() {
        let engine = Engine::default();
        let c = component(
            r#"(component
                (core module $m (func (export "f")))
                (core instance $i (instantiate $m))
                (func $hello (canon lift (core func $i "f")))
                (export "hello" (func $hello)))"#,
        );
        let err = classify(&engine, &c).unwrap_err();
        assert!(matches!(err, LoadError::UnknownWorld { .. }), "{err}");
        assert!(err.to_string().contains("`hello`"), "{err}");
        let empty = classify(&engine, &component("(component)")).unwrap_err();
        assert!(empty.to_string().ends_with("it exports nothing"), "{empty}");
    }

    #[test]
    fn world_is_classified_from_the_export_name() {
        let engine = Engine::default();
        let c = component(
            r#"(component
                (core module $m (func (export "f")))
                (core instance $i (instantiate $m))
                (func $run (canon lift (core func $i "f")))
                (export "run" (func $run)))"#,
        );
        assert_eq!(classify(&engine, &c).unwrap(), World::Block);
    }

    #[test]
    fn sockets_are_refused_to_every_world() {
        for world in [World::Mapper, World::Renderer, World::Block] {
            let err = check_imports(world, ["wasi:sockets/tcp@0.2.0"]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("`wasi:sockets/tcp@0.2.0`"), "{text}");
            assert!(text.contains(world.as_str()), "{text}");
        }
    }

    #[test]
    fn http_is_for_blocks_only() {
        let http = ["wasmhook:plugin/http@0.1.0"];
        check_imports(World::Block, http).unwrap();
        let err = check_imports(World::Mapper, http).unwrap_err();
        assert!(
            err.to_string().contains("`wasmhook:plugin/http@0.1.0`"),
            "{err}"
        );
        assert!(err.to_string().contains("only blocks"), "{err}");
    }

    #[test]
    fn the_usual_wasip2_imports_are_provided() {
        check_imports(
            World::Mapper,
            [
                "wasi:cli/environment@0.2.6",
                "wasi:cli/exit@0.2.6",
                "wasi:io/error@0.2.6",
                "wasi:io/streams@0.2.6",
                "wasi:cli/stderr@0.2.6",
                "wasi:clocks/wall-clock@0.2.6",
                "wasi:filesystem/types@0.2.6",
                "wasi:filesystem/preopens@0.2.6",
                "wasi:random/random@0.2.6",
                "wasmhook:plugin/types@0.1.0",
                "wasmhook:plugin/host@0.1.0",
            ],
        )
        .unwrap();
    }
}
