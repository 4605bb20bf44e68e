//! `POST|GET /ingest/{source}`: vendor callbacks. Reads the request (its
//! content type, its body, decompressed) and answers; the ingest service
//! does the rest (the source's token, its mapper, storage). Answered 202
//! only once the events are on disk. A callback the mapper refuses or fails
//! on is kept as a rejected callback and answered 4xx when the vendor's
//! body is at fault, 500 when the server's side is, so nothing a vendor
//! sent is lost.

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
use super::shared::Accepted;
use crate::ids::RejectedId;
use crate::ingest::encoding::{self, DecodeError};
use crate::ingest::{self, CallbackOutcome, Fault, IngestError};
use crate::telemetry;

pub(super) fn router(max_ingest_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_post, ingest_get))
        .layer(DefaultBodyLimit::max(max_ingest_bytes))
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
        (status = 403, description = "The source's tenant is disabled (`tenant_disabled`)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within the body timeout", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, description = "A body no mapper reads (`unsupported_media_type`: not JSON, XML, a URL-encoded form or text; `multipart/form-data` included) or an unsupported `Content-Encoding` (`unsupported_encoding`)", body = ErrorBody),
        (status = 422, description = "The mapper refused the body as something it does not handle; kept as rejected (resending will not help)", body = Rejected),
        (status = 429, description = "The source's tenant is over its callbacks-a-second quota (`over_quota`); nothing was stored. Retry after `Retry-After`", body = ErrorBody),
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
        (status = 400, body = Rejected), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = Rejected), (status = 429, body = ErrorBody), (status = 500, body = Rejected),
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
                429 => "over_quota",
                403 => "tenant_disabled",
                503 if error.code == "storage_unavailable" => "storage_unavailable",
                503 => "busy",
                _ => "error",
            };
            let tenant = state
                .store
                .source(&source_name)
                .map(|source| source.tenant.to_string())
                .unwrap_or_default();
            telemetry::ingest(&tenant, &source_name, outcome);
            error.into_response()
        }
    }
}

async fn ingest_callback(
    state: &AppState,
    source_name: &str,
    mut request: Request,
) -> Result<Response, ApiError> {
    // The headers are taken, not copied: the body extractor needs only the
    // request's extensions (its size limit).
    let mut headers = std::mem::take(request.headers_mut());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    ingest::check_content_type(content_type).map_err(|error| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            error.to_string(),
        )
    })?;
    let body = read_body(request, &()).await?;
    let body = decoded_body(&mut headers, body, state.config.max_ingest_bytes)?;
    let received = ingest::receive(
        method.as_str(),
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        uri.query(),
        body,
    );
    match state.ingest.accept_callback(source_name, received).await? {
        CallbackOutcome::Stored {
            reply: Some(reply), ..
        } => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            let content_type = HeaderValue::from_str(&reply.content_type)
                .unwrap_or(HeaderValue::from_static("text/plain"));
            Ok((status, [(header::CONTENT_TYPE, content_type)], reply.body).into_response())
        }
        CallbackOutcome::Stored { inserted, .. } => {
            Ok((StatusCode::ACCEPTED, Json(Accepted::new(inserted))).into_response())
        }
        CallbackOutcome::Rejected { rejected, fault } => Ok((
            rejection_status(fault),
            Json(Rejected {
                code: rejected.error.code,
                detail: rejected.error.detail,
                rejected_id: rejected.id,
            }),
        )
            .into_response()),
    }
}

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

/// The status a vendor reads whose fault a failed mapping is: 400 when the
/// body is malformed, 422 when it is well-formed input the mapper does not
/// handle (resending will not help), 500 for the server's side (a call out
/// of time too: it may fit on a resend, which a 500 asks for).
fn rejection_status(fault: Fault) -> StatusCode {
    match fault {
        Fault::Malformed => StatusCode::BAD_REQUEST,
        Fault::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
        Fault::Server => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Unauthorized(failure) => ApiError::unauthorized(failure.to_string()),
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
            IngestError::TenantDisabled => ApiError::forbidden(
                "tenant_disabled",
                "this source's account is disabled; it takes no callbacks",
            ),
            IngestError::OverQuota { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_quota",
                error.to_string(),
            ),
            IngestError::Store(store) => store.into(),
        }
    }
}
