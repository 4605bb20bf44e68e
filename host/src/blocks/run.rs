//! Running blocks: one block on `{event, contact, data}`, or a chain where
//! each block sees the data of the ones before it. The call's outcome and
//! the requests the host sent for it become a result a workflow engine can
//! branch on, with an error `code` the host decides from what it saw — not
//! from the plugin's wording.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use wasmhook_sdk::{BlockInput, LogLevel};

use super::http::caps::RunCaps;
use super::http::record::{Recorded, RequestCounts};
use super::http::{
    BlockHttp, Exchange, Failure, FailureKind, HttpPolicy, ShownRequest, shown_text,
};
use crate::domain::block::{Block, BlockName};
use crate::outbound::OutboundClient;
use crate::registry::{Registry, RegistryError};
use crate::runtime::{CallError, CallPhase, HttpHandler};
use crate::store::{Store, StoreError};
use crate::telemetry;

/// Why a block run failed, for a workflow engine to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The resource answered with a non-2xx status (`status` is set).
    UpstreamStatus,
    /// The resource did not answer within the timeout.
    UpstreamTimeout,
    /// DNS, connection, TLS or reading the body failed.
    ConnectionFailed,
    /// The host refused to send the request: the outbound address rules,
    /// the plugin's allowed hosts, plain http, an unknown connector.
    TargetRefused,
    /// The response body was larger than the host's cap.
    ResponseTooLarge,
    /// The plugin returned an error of its own (its kind is in `detail`).
    PluginError,
    /// The plugin crashed (a trap: panic, memory limit, ...).
    PluginTrap,
    /// The plugin ran past the block deadline.
    PluginTimeout,
}

/// A failed run's error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened, for people (never a URL's query or a credential).
    pub detail: String,
    /// For `upstream_status`: the status the resource answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// Why a block could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum NotRun {
    /// Its plugin could not be loaded.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plugin was not run: every instance slot stayed busy, or it
    /// could not be instantiated.
    #[error("{0}")]
    Unavailable(CallError),
    /// The blocking task running the plugin was lost.
    #[error("the block run was lost: {0}")]
    Lost(String),
}

/// One block's run: its data or its error, and the requests it made.
#[derive(Debug, Clone)]
pub struct BlockRun {
    /// The block.
    pub block: BlockName,
    /// The parsed data, or why there is none.
    pub outcome: Result<Value, BlockError>,
    /// The requests the host sent (or refused) for it: the first ones, the
    /// latest, and how many there were.
    pub requests: Recorded,
}

/// A response in a result: status and time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseSummary {
    /// HTTP status.
    pub status: u16,
    /// From the plugin's request to the response, ms.
    pub duration_ms: u64,
}

/// One request the host sent for the block, with its outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestRecord {
    /// What was sent (secrets masked).
    pub request: ShownRequest,
    /// The answer, if one came.
    pub response: Option<ResponseSummary>,
    /// Why the plugin got no usable answer, if so.
    pub error: Option<Failure>,
}

/// What `POST /v1/blocks/{name}/invoke` answers (and one step of a
/// workflow run).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvokeResult {
    /// The block.
    #[schema(value_type = String)]
    pub block: BlockName,
    /// Whether it produced data.
    pub ok: bool,
    /// `{<block name>: <parsed response>}`; only when `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// The last request sent (secrets masked), if any.
    pub request: Option<ShownRequest>,
    /// The last request's response, if one came.
    pub response: Option<ResponseSummary>,
    /// Why it failed, if it did.
    pub error: Option<BlockError>,
    /// The requests the host sent (or refused) for the block, in order: the
    /// first 20; `request_counts` says how many there were.
    pub requests: Vec<RequestRecord>,
    /// How many requests the block made, how many were refused over its
    /// cap and how many `requests` leaves out.
    pub request_counts: RequestCounts,
}

/// A raw response as `POST /v1/blocks/{name}/test` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers as received.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8, capped).
    pub body: String,
    /// From the request to the response, ms.
    pub duration_ms: u64,
}

/// What `POST /v1/blocks/{name}/test` answers: the exact request, the raw
/// response and the parsed data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestResult {
    /// The block.
    #[schema(value_type = String)]
    pub block: BlockName,
    /// Whether it produced data.
    pub ok: bool,
    /// The last request sent (secrets masked), if any.
    pub request: Option<ShownRequest>,
    /// Its raw response, if one came.
    pub response: Option<RawResponse>,
    /// `{<block name>: <parsed response>}`, or `null` when it failed.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// Why it failed, if it did.
    pub error: Option<BlockError>,
    /// The requests the host sent (or refused) for the block, in order: the
    /// first 20; `request_counts` says how many there were.
    pub requests: Vec<RequestRecord>,
    /// How many requests the block made, how many were refused over its
    /// cap and how many `requests` leaves out.
    pub request_counts: RequestCounts,
}

/// What `POST /v1/workflows/run` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowResult {
    /// Whether every block produced data.
    pub ok: bool,
    /// The data given plus every successful block's data, by block name.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Each block's result, in order, up to the first failure.
    pub steps: Vec<InvokeResult>,
    /// The block that failed, if one did.
    #[schema(value_type = Option<String>)]
    pub failed_block: Option<BlockName>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl BlockRun {
    /// `{<block name>: <data>}` when the run produced data.
    pub fn data(&self) -> Option<Value> {
        let value = self.outcome.as_ref().ok()?;
        let mut data = Map::new();
        data.insert(self.block.to_string(), value.clone());
        Some(Value::Object(data))
    }

    fn records(&self) -> Vec<RequestRecord> {
        self.requests
            .kept
            .iter()
            .map(|exchange| RequestRecord {
                request: exchange.request.clone(),
                response: summary(exchange),
                error: exchange.failure.clone(),
            })
            .collect()
    }

    /// The run as `invoke` answers it.
    pub fn invoke_result(&self) -> InvokeResult {
        let last = self.requests.last.as_ref();
        InvokeResult {
            block: self.block.clone(),
            ok: self.outcome.is_ok(),
            data: self.data(),
            request: last.map(|exchange| exchange.request.clone()),
            response: last.and_then(summary),
            error: self.outcome.as_ref().err().cloned(),
            requests: self.records(),
            request_counts: self.requests.counts,
        }
    }

    /// The run as `test` answers it.
    pub fn test_result(&self) -> TestResult {
        let last = self.requests.last.as_ref();
        let response = last.and_then(|exchange| {
            exchange.response.as_ref().map(|response| RawResponse {
                status: response.status,
                headers: response.headers.clone(),
                body: shown_text(&response.body),
                duration_ms: millis(exchange.duration),
            })
        });
        TestResult {
            block: self.block.clone(),
            ok: self.outcome.is_ok(),
            request: last.map(|exchange| exchange.request.clone()),
            response,
            data: self.data(),
            error: self.outcome.as_ref().err().cloned(),
            requests: self.records(),
            request_counts: self.requests.counts,
        }
    }
}

fn summary(exchange: &Exchange) -> Option<ResponseSummary> {
    exchange.response.as_ref().map(|response| ResponseSummary {
        status: response.status,
        duration_ms: millis(exchange.duration),
    })
}

/// Runs blocks: loads their plugin, gives it a recording [`BlockHttp`] and
/// turns the outcome into a [`BlockRun`].
pub struct BlockRunner {
    store: Arc<Store>,
    registry: Arc<Registry>,
    client: OutboundClient,
    policy: HttpPolicy,
}

impl std::fmt::Debug for BlockRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockRunner")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl BlockRunner {
    /// A runner whose requests go through `client` (the server's address
    /// rules, its body cap set to the block response cap) under `policy`.
    pub fn new(
        store: Arc<Store>,
        registry: Arc<Registry>,
        client: OutboundClient,
        policy: HttpPolicy,
    ) -> Self {
        BlockRunner {
            store,
            registry,
            client,
            policy,
        }
    }

    /// Runs `block` on `input`: the plugin runs on the runtime's plugin
    /// threads, its requests are sent from there.
    pub async fn run(&self, block: &Block, input: BlockInput) -> Result<BlockRun, NotRun> {
        let started = Instant::now();
        let registry = Arc::clone(&self.registry);
        let plugin_name = block.plugin.clone();
        let loaded = tokio::task::spawn_blocking(move || registry.active(&plugin_name))
            .await
            .map_err(|error| NotRun::Lost(error.to_string()))??;
        let allowed_hosts = self
            .store
            .plugin(&block.plugin)
            .await?
            .map(|record| record.allowed_hosts)
            .unwrap_or_default();
        let http = Arc::new(BlockHttp::new(
            self.client.clone(),
            Arc::clone(&self.store),
            self.policy.clone(),
            block,
            allowed_hosts,
            RunCaps::from_limits(loaded.plugin.limits()),
        ));
        let handler: Arc<dyn HttpHandler> = Arc::clone(&http) as Arc<dyn HttpHandler>;
        // Each block is a lane of the fair queue: a slow block (or one whose
        // resources hang) delays only its own runs.
        let lane = self.registry.lane(
            &block.tenant,
            format!("block:{}/{}", block.tenant, block.name),
        );
        let outcome = loaded
            .plugin
            .run_block_async(&lane, &input, &block.config, handler)
            .await;
        telemetry::plugin_call(
            block.plugin.as_str(),
            outcome.stats.duration,
            outcome.result.as_ref().err(),
        );
        let requests = http.recorded();
        let outcome = match outcome.result {
            Ok(value) => Ok(value),
            Err(error @ (CallError::Overloaded { .. } | CallError::Instantiate { .. })) => {
                return Err(NotRun::Unavailable(error));
            }
            Err(error) => {
                let mut failed = classify(&error, requests.last.as_ref());
                if failed.code == ErrorCode::PluginTrap
                    && let Some(why) = last_error_log(&outcome.stats.logs)
                {
                    // A guest's panic hook logs the panic message when its
                    // stderr does not carry it: that says why it trapped.
                    failed.detail = format!("{}; plugin log: {why}", failed.detail);
                }
                Err(failed)
            }
        };
        let code = outcome.as_ref().err().map(|error| error.code);
        tracing::info!(
            block = %block.name,
            plugin = %block.plugin,
            ok = outcome.is_ok(),
            code = ?code,
            requests = requests.counts.made,
            requests_over_cap = requests.counts.over_cap,
            duration_ms = millis(started.elapsed()),
            "block run"
        );
        Ok(BlockRun {
            block: block.name.clone(),
            outcome,
            requests,
        })
    }

    /// Runs `blocks` in order; each sees `input.data` plus the data of the
    /// blocks before it. Stops at the first failure.
    pub async fn run_chain(
        &self,
        blocks: &[Block],
        input: BlockInput,
    ) -> Result<WorkflowResult, NotRun> {
        let mut data = match input.data {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        let mut steps = Vec::with_capacity(blocks.len());
        let mut failed_block = None;
        for block in blocks {
            let step_input = BlockInput {
                event: input.event.clone(),
                contact: input.contact.clone(),
                data: Value::Object(data.clone()),
            };
            let run = self.run(block, step_input).await?;
            let result = run.invoke_result();
            steps.push(result);
            match run.outcome {
                Ok(value) => {
                    data.insert(block.name.to_string(), value);
                }
                Err(_) => {
                    failed_block = Some(block.name.clone());
                    break;
                }
            }
        }
        Ok(WorkflowResult {
            ok: failed_block.is_none(),
            data: Value::Object(data),
            steps,
            failed_block,
        })
    }
}

/// The error code of a failed call, decided from what the host saw: the
/// last request's outcome explains a plugin error or timeout that followed
/// it; otherwise the call error itself does.
pub fn classify(error: &CallError, last: Option<&Exchange>) -> BlockError {
    let plain = |code| BlockError {
        code,
        detail: error.to_string(),
        status: None,
    };
    match error {
        CallError::Plugin { .. } => match last {
            Some(exchange) => match (&exchange.failure, &exchange.response) {
                (Some(failure), _) => match transport_code(failure.kind) {
                    Some(code) => BlockError {
                        code,
                        detail: format!("{}: {}", exchange.target, failure.detail),
                        status: None,
                    },
                    None => plain(ErrorCode::PluginError),
                },
                (None, Some(response)) if !(200..300).contains(&response.status) => BlockError {
                    code: ErrorCode::UpstreamStatus,
                    detail: format!(
                        "{} answered HTTP {}: {}",
                        exchange.target,
                        response.status,
                        excerpt(&response.body)
                    ),
                    status: Some(response.status),
                },
                _ => plain(ErrorCode::PluginError),
            },
            None => plain(ErrorCode::PluginError),
        },
        // The run's deadline came while a request was still unanswered.
        CallError::Timeout {
            during: CallPhase::HttpSend { target },
            ..
        } => BlockError {
            code: ErrorCode::UpstreamTimeout,
            detail: format!("{target}: no answer before the block's deadline"),
            status: None,
        },
        CallError::Timeout { .. } => match last.and_then(|exchange| exchange.failure.as_ref()) {
            Some(failure) if failure.kind == FailureKind::Timeout => BlockError {
                code: ErrorCode::UpstreamTimeout,
                detail: format!("{}: {}", last.map_or("", |e| &e.target), failure.detail),
                status: None,
            },
            _ => plain(ErrorCode::PluginTimeout),
        },
        CallError::Trap { .. } | CallError::MemoryLimit { .. } | CallError::OutOfFuel { .. } => {
            plain(ErrorCode::PluginTrap)
        }
        CallError::OutputTooLarge { .. }
        | CallError::TooManyEvents { .. }
        | CallError::BadOutput { .. }
        | CallError::WrongWorld { .. }
        | CallError::Overloaded { .. }
        | CallError::Instantiate { .. } => plain(ErrorCode::PluginError),
    }
}

/// The last error-level line a plugin logged, if any.
fn last_error_log(logs: &[(LogLevel, String)]) -> Option<&str> {
    logs.iter()
        .rev()
        .find(|(level, _)| *level == LogLevel::Error)
        .map(|(_, line)| line.as_str())
}

/// The code of a request failure; `None` for a malformed request, which is
/// the plugin's own fault.
fn transport_code(kind: FailureKind) -> Option<ErrorCode> {
    match kind {
        FailureKind::Refused => Some(ErrorCode::TargetRefused),
        FailureKind::Timeout => Some(ErrorCode::UpstreamTimeout),
        FailureKind::Connection => Some(ErrorCode::ConnectionFailed),
        FailureKind::TooLarge => Some(ErrorCode::ResponseTooLarge),
        FailureKind::InvalidRequest => None,
    }
}

/// The first characters of a body on one line, for an error's detail.
fn excerpt(body: &[u8]) -> String {
    const MAX_CHARS: usize = 200;
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests;
