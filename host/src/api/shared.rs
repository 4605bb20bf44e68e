//! What several resources' handlers share: the `limit` of a listing page,
//! the answer for accepted events (a vendor callback, a publish, a retried
//! rejected callback), and finding a block by the name in a path (blocks'
//! own routes and their invocations).

use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::domain::Name;
use crate::domain::block::{Block, BlockName};
use crate::store::ConfigRefusal;
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

/// A block name from a path: 404 when it cannot be one.
pub(super) fn parse_block_name(name: &str) -> ApiResult<BlockName> {
    name.parse()
        .map_err(|_| ApiError::not_found(format!("no block named `{name}`")))
}

/// `tenant`'s block by name, live or soft-deleted; 404 when there is none.
pub(super) async fn lookup_block(state: &AppState, tenant: &Name, name: &str) -> ApiResult<Block> {
    state
        .store
        .block(tenant, &parse_block_name(name)?)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no block named `{name}`")))
}

/// `tenant`'s live block by name: 404 when there is none, 409 when it is
/// deleted.
pub(super) async fn lookup_live_block(
    state: &AppState,
    tenant: &Name,
    name: &str,
) -> ApiResult<Block> {
    let block = lookup_block(state, tenant, name).await?;
    if block.is_deleted() {
        return Err(block_deleted(&block.name));
    }
    Ok(block)
}

/// 409: the block is deleted, so it cannot be changed or run.
pub(super) fn block_deleted(name: &BlockName) -> ApiError {
    ConfigRefusal::BlockDeleted(name.clone()).into()
}
