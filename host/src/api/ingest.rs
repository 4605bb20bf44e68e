//! `POST|GET /ingest/{source}`: vendor callbacks. Authenticated by the
//! source's token; mapped by its mapper; answered 202 only once the events
//! are on disk. A callback the mapper refuses or fails on is kept as a
//! rejected callback and answered 4xx, so nothing a vendor sent is lost.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::read_body;
use crate::domain::rejected::{RejectedCallback, RejectedState, RejectionError, StoredCallback};
use crate::ids::{RejectedId, now_ms};
use crate::ingest::{self, IngestError, MapOutcome};
use crate::runtime::CallError;
use crate::store::Inserted;
use crate::telemetry;

pub(super) fn router(max_ingest_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_post, ingest_get))
        .layer(DefaultBodyLimit::max(max_ingest_bytes))
}

/// What a vendor gets back for an accepted callback.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// One per mapped event, in the mapper's order.
    pub events: Vec<Inserted>,
    /// Events newly stored.
    pub accepted: usize,
    /// Events that were resends of stored ones.
    pub duplicates: usize,
}

impl Accepted {
    pub(super) fn new(events: Vec<Inserted>) -> Self {
        let duplicates = events.iter().filter(|e| e.duplicate).count();
        Accepted {
            accepted: events.len() - duplicates,
            duplicates,
            events,
        }
    }
}

/// A refused callback's answer: why, and where it was kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rejected {
    /// `plugin_error`, `plugin_trapped`, `plugin_timeout`, …
    pub code: String,
    /// The plugin's or runtime's message.
    pub detail: String,
    /// The kept callback: `GET /v1/sources/{source}/rejected`.
    pub rejected_id: RejectedId,
}

/// A vendor callback (POST: JSON, form, XML or text body).
#[utoipa::path(post, path = "/ingest/{source}", tag = "ingest",
    params(("source" = String, Path, description = "Source name"),
        ("token" = Option<String>, Query, description = "The source's ingest token, unless sent as `X-Wasmhook-Token` or `Authorization: Bearer`")),
    request_body(content = String, description = "The vendor's payload, as sent",
        content_type = "application/json"),
    responses(
        (status = 202, description = "Events durably stored", body = Accepted),
        (status = 400, description = "The mapper found the body malformed; kept as rejected", body = Rejected),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "The mapper refused or failed; kept as rejected", body = Rejected),
        (status = 503, description = "Busy; retry", body = ErrorBody)))]
async fn ingest_post(state: State<AppState>, source: Path<String>, request: Request) -> Response {
    handle(state, source, request).await
}

/// A vendor callback carried in the query string (Gupshup SMS, Vonage, Kaleyra DLRs).
#[utoipa::path(get, path = "/ingest/{source}", tag = "ingest",
    params(("source" = String, Path, description = "Source name"),
        ("token" = Option<String>, Query, description = "The source's ingest token")),
    responses(
        (status = 202, description = "Events durably stored", body = Accepted),
        (status = 400, body = Rejected), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = Rejected)))]
async fn ingest_get(state: State<AppState>, source: Path<String>, request: Request) -> Response {
    handle(state, source, request).await
}

async fn handle(
    State(state): State<AppState>,
    Path(source_name): Path<String>,
    request: Request,
) -> Response {
    tracing::Span::current().record("source", tracing::field::display(&source_name));
    let result = ingest_callback(&state, &source_name, request).await;
    match result {
        Ok(response) => response,
        Err(error) => {
            let outcome = match error.status.as_u16() {
                401 => "unauthorized",
                404 => "unknown_source",
                413 => "too_large",
                415 => "unsupported_media_type",
                503 => "busy",
                _ => "error",
            };
            telemetry::ingest(&source_name, outcome);
            error.into_response()
        }
    }
}

async fn ingest_callback(
    state: &AppState,
    source_name: &str,
    mut request: Request,
) -> Result<Response, ApiError> {
    let Some(source) = state.store.source(source_name) else {
        return Err(ApiError::not_found(format!(
            "no source named `{source_name}`"
        )));
    };
    tracing::Span::current().record("plugin", tracing::field::display(&source.mapper));
    // The headers are taken, not copied: the body extractor needs only the
    // request's extensions (its size limit).
    let headers = std::mem::take(request.headers_mut());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !ingest::readable_content_type(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type `{}` is not a callback body a mapper reads (JSON, XML, form, text)",
                content_type.unwrap_or_default()
            ),
        ));
    }
    let body = read_body(request, &()).await?;
    let received = ingest::receive(&method, &headers, uri.query(), Vec::from(body));
    match received.token.as_deref() {
        Some(token) if source.ingest_token.matches(token) => {}
        Some(_) => {
            return Err(ApiError::unauthorized(
                "the ingest token is wrong for this source",
            ));
        }
        None => {
            return Err(ApiError::unauthorized(
                "missing ingest token: send `X-Wasmhook-Token`, `Authorization: Bearer`, or `?token=`",
            ));
        }
    }
    let callback = received.callback;
    let received_at = now_ms();
    match ingest::map_and_store(state, &source, callback).await {
        Ok(MapOutcome::Stored { inserted, reply }) => {
            let accepted = Accepted::new(inserted);
            let outcome = if accepted.events.is_empty() {
                "empty"
            } else if accepted.accepted == 0 {
                "duplicate"
            } else {
                "accepted"
            };
            telemetry::ingest(source_name, outcome);
            if let Some(reply) = reply {
                let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
                let content_type = HeaderValue::from_str(&reply.content_type)
                    .unwrap_or(HeaderValue::from_static("text/plain"));
                return Ok(
                    (status, [(header::CONTENT_TYPE, content_type)], reply.body).into_response()
                );
            }
            Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
        }
        Ok(MapOutcome::Failed {
            error,
            detail,
            version,
            callback,
        }) => {
            let rejected = RejectedCallback {
                id: RejectedId::new(received_at),
                source: source.name.clone(),
                received_at,
                callback: StoredCallback::from(&callback),
                error: RejectionError {
                    code: telemetry::call_error_code(&error).to_owned(),
                    detail,
                    plugin_version: version,
                },
                attempts: 1,
                state: RejectedState::Pending,
                event_ids: Vec::new(),
            };
            state.store.put_rejected(&rejected)?;
            state.store.durable().await?;
            telemetry::ingest(source_name, "rejected");
            tracing::info!(rejected_id = %rejected.id, error = %error, "callback rejected by the mapper");
            let status = rejection_status(&error);
            Ok((
                status,
                Json(Rejected {
                    code: rejected.error.code,
                    detail: rejected.error.detail,
                    rejected_id: rejected.id,
                }),
            )
                .into_response())
        }
        Err(error) => Err(ingest_error(error)),
    }
}

/// 400 when the mapper says the input is malformed, 422 for any other
/// refusal or failure of the mapper.
pub(super) fn rejection_status(error: &CallError) -> StatusCode {
    match error {
        CallError::Plugin { error, .. } if error.kind == wasmhook_sdk::ErrorKind::InvalidInput => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub(super) fn ingest_error(error: IngestError) -> ApiError {
    match error {
        IngestError::Mapper {
            error: crate::registry::RegistryError::Store(store),
            ..
        } => store.into(),
        IngestError::Mapper { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mapper_unavailable",
            error.to_string(),
        ),
        IngestError::Busy(call) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", call.to_string())
        }
        IngestError::Store(store) => store.into(),
    }
}
