//! What several resources' handlers share: the `limit` of a listing page,
//! and the answer for accepted events (a vendor callback, a publish, a
//! retried rejected callback).

use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use crate::store::Inserted;

/// The default page size.
const DEFAULT_PAGE_LIMIT: usize = 100;

/// The largest page.
const MAX_PAGE_LIMIT: usize = 1000;

/// Checks a `limit` parameter: 1–1000, default 100.
pub(super) fn page_limit(limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(n @ 1..=MAX_PAGE_LIMIT) => Ok(n),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 1000",
        )),
    }
}

/// What a vendor (or a publisher) gets back for accepted events.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// One per event, in the mapper's (or the publisher's) order.
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
