//! `POST|GET /ingest/{source}`: vendor callbacks. Authenticated by the
//! source's token; mapped by its mapper; answered 202 only once the events
//! are on disk. A callback the mapper refuses or fails on is kept as a
//! rejected callback and answered 4xx when the vendor's body is at fault,
//! 500 when the server's side is, so nothing a vendor sent is lost.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
use crate::ingest::encoding::{self, DecodeError};
use crate::ingest::{self, AuthFailure, IngestError, MapOutcome};
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
        (status = 401, description = "Missing or wrong token, or no such source (answered alike)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within the body timeout", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "The mapper refused the body as something it does not handle; kept as rejected (resending will not help)", body = Rejected),
        (status = 500, description = "The mapper failed on the server's side (a limit, a plugin bug, its config, its deadline); kept as rejected, the operator can replay it", body = Rejected),
        (status = 503, description = "Busy (`busy`), the mapper is not loaded, or the store cannot take writes now (`storage_unavailable`: low disk space, a failed write); nothing was stored. Retry after `Retry-After`", body = ErrorBody)))]
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
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = Rejected), (status = 500, body = Rejected),
        (status = 503, description = "Busy, or the store cannot take writes now (`storage_unavailable`); retry after `Retry-After`", body = ErrorBody)))]
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
                408 => "timeout",
                413 => "too_large",
                415 => "unsupported_media_type",
                503 if error.code == "storage_unavailable" => "storage_unavailable",
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
    // An unknown source is answered exactly like a wrong token, after the
    // same checks: source names cannot be discovered by probing.
    let source = state.store.source(source_name);
    if let Some(source) = &source {
        tracing::Span::current().record("plugin", tracing::field::display(&source.mapper));
    }
    // The headers are taken, not copied: the body extractor needs only the
    // request's extensions (its size limit).
    let mut headers = std::mem::take(request.headers_mut());
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
    let body = decoded_body(&mut headers, body, state.config.max_ingest_bytes)?;
    let received = ingest::receive(&method, &headers, uri.query(), body);
    let accepts = |token: &str| {
        source
            .as_ref()
            .is_some_and(|source| source.ingest_token.matches(token))
    };
    let callback = match received.authenticate(accepts) {
        Ok(callback) => callback,
        Err(AuthFailure::Wrong) => return Err(ApiError::unauthorized(WRONG_TOKEN)),
        Err(AuthFailure::Missing) => {
            return Err(ApiError::unauthorized(
                "missing ingest token: send `X-Wasmhook-Token`, `Authorization: Bearer`, or `?token=`",
            ));
        }
    };
    // No token is accepted for an unknown source, so this is only a
    // formality.
    let Some(source) = source else {
        return Err(ApiError::unauthorized(WRONG_TOKEN));
    };
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

/// The answer to a wrong token and to an unknown source alike.
const WRONG_TOKEN: &str = "the ingest token is wrong for this source (or there is no such source)";

/// The body the mapper gets: decoded when the vendor compressed it (the
/// encoding headers then go, since they no longer describe it).
fn decoded_body(
    headers: &mut HeaderMap,
    body: axum::body::Bytes,
    max_bytes: usize,
) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    match encoding::decode(encoding.as_deref(), &body, max_bytes) {
        Ok(None) => Ok(Vec::from(body)),
        Ok(Some(decoded)) => {
            headers.remove(header::CONTENT_ENCODING);
            headers.remove(header::CONTENT_LENGTH);
            Ok(decoded)
        }
        Err(error @ DecodeError::TooLarge { .. }) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            error.to_string(),
        )),
        Err(error @ DecodeError::Unsupported(_)) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            error.to_string(),
        )),
        Err(error @ DecodeError::Corrupt { .. }) => {
            Err(ApiError::bad_request("bad_encoding", error.to_string()))
        }
    }
}

/// Whose fault a failed mapping is, as the vendor reads the status: 400
/// when the mapper says the input is malformed and 422 when it refuses
/// well-formed input it does not handle (resending will not help); the
/// server's side otherwise (its limits, the plugin's bugs, its config): 500.
/// for the rest. Either way the callback is kept as a rejected callback the
/// operator can replay, so a vendor's resend only adds a copy. (A call out
/// of time is answered 500 too: it may fit on a resend, which a 500 asks
/// for.)
pub(super) fn rejection_status(error: &CallError) -> StatusCode {
    use wasmhook_sdk::ErrorKind;
    match error {
        CallError::Plugin { error, .. } => match error.kind {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::InvalidConfig | ErrorKind::Upstream | ErrorKind::Internal => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        },
        _ => StatusCode::INTERNAL_SERVER_ERROR,
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
