//! Vendor callbacks in: who may send them (the source's token), what the
//! mapper sees (the request minus that token), and mapping plus durable
//! storage of the events — shared by `/ingest/{source}` and the retry of a
//! rejected callback.

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use wasmhook_sdk::{Callback, Channel, Reply};

use crate::api::AppState;
use crate::domain::Name;
use crate::domain::event::CanonicalEvent;
use crate::domain::rejected::StoredCallback;
use crate::domain::source::Source;
use crate::ids::{EventId, now_ms};
use crate::registry::RegistryError;
use crate::runtime::{CallError, Lane};
use crate::store::{Inserted, StoreError};
use crate::telemetry;

pub mod encoding;

/// The header a vendor may carry the ingest token in.
pub const TOKEN_HEADER: &str = "x-wasmhook-token";

/// The query parameter a vendor may carry the ingest token in.
pub const TOKEN_PARAM: &str = "token";

/// Where a vendor put a token it presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPlace {
    /// The `X-Wasmhook-Token` header.
    Header,
    /// `Authorization: Bearer …` (which may also be the vendor's own
    /// credential, meant for someone else).
    Bearer,
    /// The `?token=` query parameter.
    Query,
}

/// A callback as received, split into the tokens it presents and what the
/// mapper gets.
#[derive(Debug)]
pub struct Received {
    /// Every token presented, wherever it was.
    pub tokens: Vec<(TokenPlace, String)>,
    /// The callback without the `X-Wasmhook-Token` header and the `token`
    /// query parameter. An `Authorization` header stays until it proves to
    /// be the token: a vendor may send its own beside `?token=`.
    pub callback: Callback,
}

/// Why a callback was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token anywhere.
    Missing,
    /// Tokens, but none the source accepts (or no such source).
    Wrong,
}

impl Received {
    /// The callback the mapper sees, if one of the presented tokens is one
    /// `accepts` takes; the `Authorization` header goes when it was that
    /// token.
    pub fn authenticate(self, accepts: impl Fn(&str) -> bool) -> Result<Callback, AuthFailure> {
        if self.tokens.is_empty() {
            return Err(AuthFailure::Missing);
        }
        let Some((place, _)) = self.tokens.iter().find(|(_, token)| accepts(token)) else {
            return Err(AuthFailure::Wrong);
        };
        let mut callback = self.callback;
        if *place == TokenPlace::Bearer {
            callback
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        }
        Ok(callback)
    }
}

/// Splits a request into the tokens it presents and the callback the
/// mapper sees.
pub fn receive(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Vec<u8>,
) -> Received {
    let mut tokens = Vec::new();
    let mut kept_headers = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name.as_str() == TOKEN_HEADER {
            tokens.push((TokenPlace::Header, value));
            continue;
        }
        if name == axum::http::header::AUTHORIZATION
            && let Some(bearer) = value.strip_prefix("Bearer ")
        {
            tokens.push((TokenPlace::Bearer, bearer.trim().to_owned()));
        }
        kept_headers.push((name.as_str().to_owned(), value));
    }
    let mut kept_query = form_urlencoded::Serializer::new(String::new());
    let mut any_kept = false;
    let raw_query = query.unwrap_or("");
    let mut had_token_param = false;
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        if key == TOKEN_PARAM {
            had_token_param = true;
            tokens.push((TokenPlace::Query, value.into_owned()));
        } else {
            any_kept = true;
            kept_query.append_pair(&key, &value);
        }
    }
    // Keep the vendor's exact query text unless a token had to come out of it.
    let query = if !had_token_param {
        raw_query.to_owned()
    } else if any_kept {
        kept_query.finish()
    } else {
        String::new()
    };
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Received {
        tokens,
        callback: Callback {
            method: method.as_str().to_owned(),
            headers: kept_headers,
            query,
            content_type,
            body,
        },
    }
}

/// Whether a callback's content type is one a mapper can read: JSON, XML,
/// form (URL-encoded or multipart), text, or none at all.
pub fn readable_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.is_empty()
        || essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "multipart/form-data"
                | "application/octet-stream"
        )
}

/// What mapping one callback came to.
#[derive(Debug)]
pub enum MapOutcome {
    /// The events (possibly none) are durably stored.
    Stored {
        /// One per mapped event: its id and whether it was a resend.
        inserted: Vec<Inserted>,
        /// The mapper's explicit answer to the vendor, if any.
        reply: Option<Reply>,
    },
    /// The mapper refused or failed; nothing was stored.
    Failed {
        /// Why.
        error: CallError,
        /// The error's message, with the plugin's last stderr line when it
        /// trapped (a Rust panic message lands there).
        detail: String,
        /// The mapper version that ran.
        version: u32,
        /// The callback the mapper refused, to keep.
        callback: Callback,
    },
}

/// Why a callback could not be handled at all (as opposed to rejected).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The source's mapper could not be loaded.
    #[error("mapper of source `{source_name}`: {error}")]
    Mapper {
        /// The source.
        source_name: String,
        /// Why.
        error: RegistryError,
    },
    /// The mapper did not run: the source's lane of the fair queue (or every
    /// instance) stayed busy past the wait bound. The vendor should resend
    /// (503 with `Retry-After`).
    #[error("{0}")]
    Busy(CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks `mapper` whether it accepts `config`, before a source is saved with
/// it: one map call on an empty probe callback (a POST without body), whose
/// result is discarded. The plugin contract has no separate config check; a
/// mapper reads its config before the body (the SDK's `Config::parse` and
/// the first-party mappers do), so a config it cannot use comes back as an
/// `invalid-config` error, which is returned here as its message. Any other
/// outcome (events, a refusal of the empty body, a failure) says nothing
/// about the config and passes.
pub async fn check_source_config(
    state: &AppState,
    mapper: &Name,
    config: &serde_json::Value,
) -> Result<(), String> {
    let Ok(loaded) = state.registry.active(mapper) else {
        // Whether the mapper exists is the caller's check.
        return Ok(());
    };
    let probe = Callback {
        method: "POST".to_owned(),
        headers: Vec::new(),
        query: String::new(),
        content_type: Some("application/json".to_owned()),
        body: Vec::new(),
    };
    let lane = Lane::new(format!("config-check:{mapper}"));
    match loaded.plugin.map_async(&lane, &probe, config).await.result {
        Err(CallError::Plugin { error, .. })
            if error.kind == wasmhook_sdk::ErrorKind::InvalidConfig =>
        {
            Err(error.message)
        }
        _ => Ok(()),
    }
}

/// Maps `callback` with the source's active mapper and stores the events
/// durably (deduplicating resends) before returning.
pub async fn map_and_store(
    state: &AppState,
    source: &Source,
    callback: Callback,
) -> Result<MapOutcome, IngestError> {
    let loaded = state
        .registry
        .active_async(&source.mapper)
        .await
        .map_err(|error| IngestError::Mapper {
            source_name: source.name.to_string(),
            error,
        })?;
    // Each source is a lane of the fair queue: a hostile or slow mapper
    // delays only its own source's callbacks.
    let lane = Lane::new(format!("source:{}", source.name));
    let outcome = loaded
        .plugin
        .map_async(&lane, &callback, &source.config)
        .await;
    let duration: Duration = outcome.stats.duration;
    let mapped = match outcome.result {
        Ok(mapped) => {
            telemetry::plugin_call(source.mapper.as_str(), duration, None);
            mapped
        }
        Err(error @ (CallError::Overloaded { .. } | CallError::Instantiate { .. })) => {
            telemetry::plugin_call(source.mapper.as_str(), duration, Some(&error));
            return Err(IngestError::Busy(error));
        }
        Err(error) => {
            telemetry::plugin_call(source.mapper.as_str(), duration, Some(&error));
            let mut detail = error.to_string();
            if matches!(error, CallError::Trap { .. })
                && let Some((_, line)) = outcome
                    .stats
                    .logs
                    .iter()
                    .rev()
                    .find(|(level, _)| *level >= wasmhook_sdk::LogLevel::Warn)
            {
                detail.push_str(" (plugin stderr: ");
                detail.push_str(line);
                detail.push(')');
            }
            return Ok(MapOutcome::Failed {
                error,
                detail,
                version: loaded.version,
                callback,
            });
        }
    };
    let received_at = now_ms();
    let events: Vec<CanonicalEvent> = mapped
        .events
        .into_iter()
        .map(|mut event| {
            if event.channel == Channel::Other
                && let Some(channel) = source.channel
            {
                event.channel = channel;
            }
            CanonicalEvent::from_mapped(
                EventId::new(received_at),
                event,
                source.name.as_str(),
                received_at,
            )
        })
        .collect();
    let inserted = if events.is_empty() {
        Vec::new()
    } else {
        state.store.commit_events(events).await?
    };
    if !inserted.is_empty() {
        state.engine.wake();
    }
    telemetry::events_stored(
        source.name.as_str(),
        inserted.iter().filter(|i| !i.duplicate).count() as u64,
    );
    Ok(MapOutcome::Stored {
        inserted,
        reply: mapped.reply,
    })
}

impl From<&Callback> for StoredCallback {
    fn from(callback: &Callback) -> Self {
        use base64::Engine as _;
        StoredCallback {
            method: callback.method.clone(),
            headers: callback.headers.clone(),
            query: callback.query.clone(),
            content_type: callback.content_type.clone(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&callback.body),
        }
    }
}

impl StoredCallback {
    /// The callback again, for a retry.
    pub fn to_callback(&self) -> Result<Callback, base64::DecodeError> {
        use base64::Engine as _;
        Ok(Callback {
            method: self.method.clone(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            content_type: self.content_type.clone(),
            body: base64::engine::general_purpose::STANDARD.decode(&self.body_base64)?,
        })
    }
}
