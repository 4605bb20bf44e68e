//! Attribute macros of the wasmhook SDK: `#[mapper]`, `#[renderer]` and
//! `#[block]` turn a plain Rust function into the export of the matching WIT
//! world. The function stays callable (and testable) as written; the export
//! glue is generated only for wasm32. A function of the wrong shape is a
//! compile error that points at the function.
//!
//! Use them through `wasmhook-sdk`, which re-exports them (the generated code
//! calls into it):
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! #[mapper]
//! fn map(callback: Callback, _config: Config) -> Result<Event, PluginError> {
//!     let params = callback.form_params();
//!     let status = match params.get("status") {
//!         Some("ok") => Status::Delivered,
//!         _ => Status::Failed,
//!     };
//!     Ok(Event::status(Channel::Sms, status, "acme"))
//! }
//!
//! # fn main() {
//! let event = map(Callback::form("status=ok"), Config::default()).unwrap();
//! assert_eq!(event.status.unwrap().status, Status::Delivered);
//! # }
//! ```
//!
//! Natively (as above, and under `cargo test`) the attribute leaves the
//! function as it is; for `wasm32` targets it also emits a hidden module with
//! the WIT bindings of the world and the `export!` of the component.

#![warn(missing_docs)]
#![warn(rustdoc::broken_intra_doc_links)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, parse_macro_input};

/// The plugin ABI, embedded so plugin crates need no path to `wit/`
/// (`sdk/macros/wit` links to the repository's `wit/`; a packaged crate
/// carries the file itself).
const WIT: &str = include_str!("../wit/wasmhook.wit");

/// Which world an attribute exports.
#[derive(Clone, Copy)]
enum World {
    Mapper,
    Renderer,
    Block,
}

impl World {
    fn attribute(self) -> &'static str {
        match self {
            World::Mapper => "#[mapper]",
            World::Renderer => "#[renderer]",
            World::Block => "#[block]",
        }
    }

    fn expected_signature(self) -> &'static str {
        match self {
            World::Mapper => {
                "fn(callback: Callback, config: Config) -> Result<impl Into<Mapped>, PluginError>"
            }
            World::Renderer => "fn(request: RenderRequest) -> Result<Rendered, PluginError>",
            World::Block => "fn(input: BlockInput, config: Config) -> Result<Value, PluginError>",
        }
    }

    fn arity(self) -> usize {
        match self {
            World::Mapper | World::Block => 2,
            World::Renderer => 1,
        }
    }
}

/// Exports a function `fn(Callback, Config) -> Result<impl Into<Mapped>, PluginError>`
/// as the `map` function of the `mapper` world.
///
/// The function receives the vendor's callback and the source's
/// configuration, and returns anything that converts into `Mapped`: an
/// `Event`, a `Vec<Event>`, or a `Mapped` with a reply to the vendor. The
/// attribute takes no arguments; an `async`, generic or misshapen function is
/// a compile error.
///
/// ```
/// use wasmhook_sdk::prelude::*;
///
/// #[mapper]
/// fn map(callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
///     let body = callback.json_value()?;
///     let status = Status::parse(&path::get_str(&body, "status").unwrap_or_default())
///         .ok_or_else(|| PluginError::unsupported("unknown status"))?;
///     Ok(vec![Event::status(Channel::Email, status, "acme").raw(body)])
/// }
///
/// # fn main() {
/// let events = map(Callback::json(r#"{"status": "read"}"#), Config::default()).unwrap();
/// assert_eq!(events[0].status.as_ref().unwrap().status, Status::Read);
/// # }
/// ```
#[proc_macro_attribute]
pub fn mapper(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(World::Mapper, attr, item)
}

/// Exports a function `fn(RenderRequest) -> Result<Rendered, PluginError>`
/// as the `render` function of the `renderer` world.
///
/// ```
/// use wasmhook_sdk::prelude::*;
///
/// #[renderer]
/// fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
///     if request.format != BodyFormat::Json {
///         return Err(PluginError::unsupported(format!("format {}", request.format.as_str())));
///     }
///     Ok(Rendered {
///         content_type: "application/json".into(),
///         body: serde_json::to_vec(&json!({"text": request.data["text"]})).unwrap(),
///     })
/// }
///
/// # fn main() {
/// let request = RenderRequest {
///     template: None,
///     format: BodyFormat::Json,
///     data: json!({"text": "hi"}),
///     config: json!({}),
/// };
/// assert_eq!(render(request).unwrap().body, br#"{"text":"hi"}"#);
/// # }
/// ```
#[proc_macro_attribute]
pub fn renderer(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(World::Renderer, attr, item)
}

/// Exports a function `fn(BlockInput, Config) -> Result<Value, PluginError>`
/// as the `run` function of the `block` world.
///
/// The value returned is stored as the block's data for later blocks of the
/// workflow. Blocks are the only plugins that may call
/// `wasmhook_sdk::host::send`.
///
/// ```
/// use wasmhook_sdk::prelude::*;
///
/// #[block]
/// fn score(input: BlockInput, config: Config) -> Result<Value, PluginError> {
///     let bonus = config.get("bonus").and_then(Value::as_i64).unwrap_or(0);
///     let opened = path::get_str(&input.event, "status.status").as_deref() == Some("read");
///     Ok(json!({"score": i64::from(opened) * 10 + bonus}))
/// }
///
/// # fn main() {
/// let input = BlockInput { event: json!({"status": {"status": "read"}}), ..Default::default() };
/// assert_eq!(score(input, Config(json!({"bonus": 1}))).unwrap(), json!({"score": 11}));
/// # }
/// ```
#[proc_macro_attribute]
pub fn block(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(World::Block, attr, item)
}

fn expand(world: World, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    if !attr.is_empty() {
        return syn::Error::new(
            attr.span(),
            format!("{} takes no arguments", world.attribute()),
        )
        .to_compile_error()
        .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    if let Err(error) = check_shape(world, &function) {
        return error.to_compile_error().into();
    }
    let name = &function.sig.ident;
    let span = function.sig.span();
    let check_name = format_ident!("__wasmhook_check_{}", name);
    let check = match world {
        World::Mapper => quote_spanned!(span=> ::wasmhook_sdk::__private::assert_mapper(#name)),
        World::Renderer => quote_spanned!(span=> ::wasmhook_sdk::__private::assert_renderer(#name)),
        World::Block => quote_spanned!(span=> ::wasmhook_sdk::__private::assert_block(#name)),
    };
    let export = export_module(world, name, span);
    quote! {
        #function

        #[doc(hidden)]
        #[allow(dead_code, non_snake_case)]
        fn #check_name() {
            #check;
        }

        #export
    }
    .into()
}

/// Refuses anything that is not a plain, synchronous, non-generic free
/// function with the world's number of parameters and a return type.
fn check_shape(world: World, function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    let expected = world.expected_signature();
    let attribute = world.attribute();
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            format!("{attribute} functions cannot be async; expected {expected}"),
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{attribute} functions cannot be generic; expected {expected}"),
        ));
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(syn::Error::new(
            receiver.span(),
            format!("{attribute} must be a free function, not a method; expected {expected}"),
        ));
    }
    if sig.inputs.len() != world.arity() {
        let span = if sig.inputs.is_empty() {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "{attribute} function takes {} parameter(s), this one takes {}; expected {expected}",
                world.arity(),
                sig.inputs.len()
            ),
        ));
    }
    if matches!(sig.output, ReturnType::Default) {
        return Err(syn::Error::new(
            sig.ident.span(),
            format!("{attribute} function must return a Result; expected {expected}"),
        ));
    }
    Ok(())
}

/// The wasm-only module that binds the world and implements its `Guest`
/// trait by calling the user's function through the SDK glue.
fn export_module(world: World, name: &syn::Ident, span: Span) -> TokenStream2 {
    let (world_name, with, guest_impl) = match world {
        World::Mapper => (
            "mapper",
            quote! {
                "wasmhook:plugin/types@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::types,
                "wasmhook:plugin/host@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::host,
            },
            quote_spanned! {span=>
                fn map(
                    callback: ::wasmhook_sdk::__private::wit::Callback,
                    config: ::std::string::String,
                ) -> ::std::result::Result<::wasmhook_sdk::__private::wit::Mapped, ::wasmhook_sdk::__private::wit::PluginError> {
                    ::wasmhook_sdk::__private::run_mapper(callback, config, super::#name)
                }
            },
        ),
        World::Renderer => (
            "renderer",
            quote! {
                "wasmhook:plugin/types@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::types,
                "wasmhook:plugin/host@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::host,
            },
            quote_spanned! {span=>
                fn render(
                    request: ::wasmhook_sdk::__private::wit::RenderRequest,
                ) -> ::std::result::Result<::wasmhook_sdk::__private::wit::Rendered, ::wasmhook_sdk::__private::wit::PluginError> {
                    ::wasmhook_sdk::__private::run_renderer(request, super::#name)
                }
            },
        ),
        World::Block => (
            "block",
            quote! {
                "wasmhook:plugin/types@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::types,
                "wasmhook:plugin/host@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::host,
                "wasmhook:plugin/http@0.1.0": ::wasmhook_sdk::__private::bindings::wasmhook::plugin::http,
            },
            quote_spanned! {span=>
                fn run(
                    input: ::wasmhook_sdk::__private::wit::BlockInput,
                    config: ::std::string::String,
                ) -> ::std::result::Result<::std::string::String, ::wasmhook_sdk::__private::wit::PluginError> {
                    ::wasmhook_sdk::__private::run_block(input, config, super::#name)
                }
            },
        ),
    };
    quote! {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        // `clippy::all`: wit-bindgen's generated lowering code (a 13-argument
        // export shim for the `mapped` record, ...) would otherwise fail
        // `cargo clippy --target wasm32-wasip2 -- -D warnings` in every plugin.
        #[allow(missing_docs, unsafe_code, clippy::all)]
        mod __wasmhook_export {
            ::wasmhook_sdk::__private::wit_bindgen::generate!({
                inline: #WIT,
                world: #world_name,
                runtime_path: "::wasmhook_sdk::__private::wit_bindgen::rt",
                with: { #with },
            });

            struct Plugin;

            impl Guest for Plugin {
                #guest_impl
            }

            export!(Plugin);
        }
    }
}
