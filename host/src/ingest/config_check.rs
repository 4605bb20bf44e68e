//! Whether a mapper can use a source's config, asked before the source is
//! saved with it, so a source never gets a config that would make every
//! callback a rejection.

use wasmhook_sdk::{Callback, ErrorKind};

use super::IngestService;
use crate::domain::Name;
use crate::runtime::CallError;

/// The mapper refused the config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config: mapper `{mapper}` cannot use it: {message}")]
pub struct ConfigRefused {
    /// The mapper.
    pub mapper: Name,
    /// What the mapper said.
    pub message: String,
}

impl IngestService {
    /// Asks `mapper` whether it accepts `config`: one map call on an empty
    /// probe callback (a POST without body), whose result is discarded. The
    /// plugin contract has no separate config check; a mapper reads its
    /// config before the body (the SDK's `Config::parse` and the
    /// first-party mappers do), so a config it cannot use comes back as an
    /// `invalid-config` error, which is returned here. Any other outcome
    /// (events, a refusal of the empty body, a failure) says nothing about
    /// the config and passes, as does a mapper that does not load (whether
    /// it exists is the caller's check). The call is charged to `tenant`.
    pub async fn check_source_config(
        &self,
        tenant: &Name,
        mapper: &Name,
        config: &serde_json::Value,
    ) -> Result<(), ConfigRefused> {
        let Ok(loaded) = self.registry.active_async(mapper).await else {
            return Ok(());
        };
        let probe = Callback {
            method: "POST".to_owned(),
            headers: Vec::new(),
            query: String::new(),
            content_type: Some("application/json".to_owned()),
            body: Vec::new(),
        };
        let lane = self.registry.lane(tenant, format!("config-check:{mapper}"));
        match loaded.plugin.map_async(&lane, &probe, config).await.result {
            Err(CallError::Plugin { error, .. }) if error.kind == ErrorKind::InvalidConfig => {
                Err(ConfigRefused {
                    mapper: mapper.clone(),
                    message: error.message,
                })
            }
            _ => Ok(()),
        }
    }
}
