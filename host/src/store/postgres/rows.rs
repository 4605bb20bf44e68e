//! How values travel between records and columns: records as their serde
//! JSON text, ids as their 16 bytes, times as signed milliseconds, states
//! as their serde names.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;

use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::rejected::RejectedState;
use crate::store::StoreError;

/// The JSON text of `value`: the same bytes the embedded store keeps.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        what: "encoding a record",
        detail: error.to_string(),
    })
}

/// A record back from its JSON text; `what` names it in the error.
pub(super) fn decode<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what,
        detail: error.to_string(),
    })
}

/// Decodes column `index` of `row` (the record's text).
pub(super) fn record<T: DeserializeOwned>(
    what: &'static str,
    row: &Row,
    index: usize,
) -> Result<T, StoreError> {
    decode(what, row.try_get::<_, &str>(index)?)
}

/// Decodes the first column of every row.
pub(super) fn records<T: DeserializeOwned>(
    what: &'static str,
    rows: &[Row],
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|row| record(what, row, 0)).collect()
}

/// The 16 id bytes in column `index` of `row`.
pub(super) fn id_at(row: &Row, index: usize) -> Result<[u8; 16], StoreError> {
    let bytes: &[u8] = row.try_get(index)?;
    <[u8; 16]>::try_from(bytes).map_err(|_| StoreError::Corrupt {
        what: "an id column",
        detail: format!("{} bytes, not 16", bytes.len()),
    })
}

/// Milliseconds as Postgres' bigint.
pub(super) fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Back from [`ms`].
pub(super) fn from_ms(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(super) fn delivery_state(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Succeeded => "succeeded",
        DeliveryState::Failed => "failed",
    }
}

pub(super) fn rejected_state(state: RejectedState) -> &'static str {
    match state {
        RejectedState::Pending => "pending",
        RejectedState::Resolved => "resolved",
    }
}

/// Whether `delivery` holds a place in its endpoint's (or key's) order:
/// pending, or failed and holding what is behind it.
pub(super) fn waiting(delivery: &Delivery) -> bool {
    match delivery.state {
        DeliveryState::Pending => delivery.next_attempt_at.is_some(),
        DeliveryState::Failed => delivery.held,
        DeliveryState::Succeeded => false,
    }
}
