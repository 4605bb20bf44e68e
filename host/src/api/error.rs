//! The one mapping from errors to HTTP: every failure becomes a status and a
//! `{code, detail}` body. A server fault logs its whole chain and answers a
//! generic 500, so internals never leak to a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;
use crate::registry::RegistryError;
use crate::runtime::LoadError;
use crate::store::{ConfigRefusal, StoreError};

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable, stable: `not_found`, `invalid_json`, `conflict`…
    pub code: String,
    /// For people: what was wrong, naming the field or resource.
    pub detail: String,
}

/// The `Retry-After` of every 503 and 429, in seconds: long enough for a
/// burst to drain, short enough that a vendor's resend comes soon.
pub const RETRY_AFTER_SECS: u32 = 1;

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's code.
    pub code: &'static str,
    /// The body's detail.
    pub detail: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 422 with `code`.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 403 with `code`: the caller is known but may not do this.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 500: logs `error` with its sources, answers a generic body.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_owned(),
            detail: self.detail,
        };
        let mut response = (self.status, Json(body)).into_response();
        // A client told "not now" is told when to come back: vendors resend
        // on a 503 or 429, sooner or later depending on this header.
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        // The rest of a body that came too slowly is not waited for: the
        // connection closes after the answer.
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ),
            // The disk's doing (full, failing): nothing was stored, and a
            // retry may well succeed, so 503 with `Retry-After`, never 500.
            // Why is the operator's business: logged, and on `/readyz`.
            other if other.is_io() => {
                log_refused_write(&other);
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the server cannot store this right now; nothing was stored, retry later",
                )
            }
            other => Self::internal(&other),
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(error: LoadError) -> Self {
        let code = match &error {
            LoadError::TooLarge { .. } => {
                return Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    error.to_string(),
                );
            }
            LoadError::NotWasm => "not_wasm",
            LoadError::CoreModule => "core_module",
            LoadError::Precompiled => "precompiled",
            LoadError::Invalid { .. } => "invalid_component",
            LoadError::UnknownWorld { .. } => "unknown_world",
            LoadError::AmbiguousWorld { .. } => "ambiguous_world",
            LoadError::ExportType { .. } => "export_type",
            LoadError::UnsatisfiedImport { .. } => "unsatisfied_import",
            LoadError::Link { .. } => "link_failed",
            LoadError::LimitTooHigh { .. } => "limit_too_high",
            LoadError::OverBudget { code, .. } => code,
            LoadError::CompileTimeout { .. } => "compile_timeout",
            LoadError::CompileMemory { .. } => "compile_memory",
            LoadError::CompileFailed { .. } => "compile_failed",
            LoadError::CompileBusy { .. } => {
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "compile_busy",
                    error.to_string(),
                );
            }
            LoadError::CompilerUnavailable { .. } => return Self::internal(&error),
        };
        Self::invalid(code, error.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::NotFound(_) | RegistryError::NoVersion { .. } => {
                Self::not_found(error.to_string())
            }
            RegistryError::Load(load) => load.into(),
            RegistryError::WorldMismatch(detail) => Self::conflict(detail),
            RegistryError::SharedPlugin(detail) => Self::forbidden("operator_only", detail),
            RegistryError::NameTaken(detail) => {
                Self::new(StatusCode::CONFLICT, "name_taken", detail)
            }
            RegistryError::MissingBytes(_) => Self::internal(&error),
            RegistryError::Store(store) => store.into(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Refused(refusal) => refusal.into(),
            AdminError::Invalid(_) => Self::invalid("invalid_field", error.to_string()),
            AdminError::TargetRefused { .. } => Self::invalid("target_refused", error.to_string()),
            AdminError::MapperRefusedConfig(_) => {
                Self::invalid("invalid_config", error.to_string())
            }
            AdminError::NoDelivery(_) => Self::not_found(error.to_string()),
            AdminError::TenantState(_) => Self::conflict(error.to_string()),
            AdminError::DeliverySucceeded(_) | AdminError::DeliveryNotHeld { .. } => {
                Self::conflict(error.to_string())
            }
            AdminError::Registry(error) => error.into(),
            AdminError::Store(error) => error.into(),
            AdminError::Task(error) => Self::internal(&error),
        }
    }
}

impl From<ConfigRefusal> for ApiError {
    fn from(refusal: ConfigRefusal) -> Self {
        match refusal {
            ConfigRefusal::NoPlugin(_)
            | ConfigRefusal::NoSource(_)
            | ConfigRefusal::NoEndpoint(_)
            | ConfigRefusal::NoConnector(_)
            | ConfigRefusal::NoBlock(_)
            | ConfigRefusal::NoTenant(_)
            | ConfigRefusal::NoKey(_) => Self::not_found(refusal.to_string()),
            ConfigRefusal::QuotaExceeded { .. } => {
                Self::forbidden("quota_exceeded", refusal.to_string())
            }
            ConfigRefusal::SourceExists(_)
            | ConfigRefusal::TenantExists(_)
            | ConfigRefusal::ConnectorNameTaken { .. }
            | ConfigRefusal::BlockExists(_)
            | ConfigRefusal::DeletedBlockExists(_)
            | ConfigRefusal::BlockDeleted(_)
            | ConfigRefusal::BlockAlreadyDeleted(_)
            | ConfigRefusal::BlockNotDeleted(_)
            | ConfigRefusal::PluginInUse { .. }
            | ConfigRefusal::ConnectorInUse { .. }
            | ConfigRefusal::ConnectorNamedByBlocks { .. } => Self::conflict(refusal.to_string()),
            ConfigRefusal::MissingPlugin { .. }
            | ConfigRefusal::WrongWorld { .. }
            | ConfigRefusal::MissingConnector { .. }
            | ConfigRefusal::MissingConnectorName { .. } => {
                Self::invalid("invalid_field", refusal.to_string())
            }
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Logs a write the store refused, at most once a second with how many
/// went unlogged since: while a database is down every callback is
/// refused, and a line each would flood the log with the same news.
fn log_refused_write(error: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOGGED_MS: AtomicU64 = AtomicU64::new(0);
    static UNLOGGED: AtomicU64 = AtomicU64::new(0);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    let due = now_ms.saturating_sub(last) >= 1000
        && LAST_LOGGED_MS
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
    if !due {
        UNLOGGED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let also = UNLOGGED.swap(0, Ordering::Relaxed);
    if matches!(error, StoreError::Unavailable { .. }) {
        tracing::warn!(error = %error, refused_since_last_line = also, "write refused");
    } else {
        tracing::error!(error = %error, refused_since_last_line = also, "store write failed");
    }
}
