//! Claims: which node attempts which delivery, without a leader. A claim
//! is one transaction per endpoint: it takes a transaction-scoped advisory
//! lock on the endpoint (a node finding it taken leaves the endpoint to the
//! other node this round), counts the endpoint's unexpired leases across
//! every node against its cap (one for `endpoint` ordering), paces a
//! rate-limited endpoint by the earliest next start kept in
//! `endpoint_pace`, picks due deliveries with `FOR UPDATE SKIP LOCKED`
//! (rows an attempt is being recorded for are passed over) and leases them
//! to this node. A rate limit counts, across nodes, the requests in flight
//! and those answered within the last second, as the embedded engine does
//! (see [`crate::delivery::rate`]). Recording the attempt ends the lease; a node that dies
//! leaves its leases to run out, after which any node takes the deliveries
//! over. Lease and pace times are the database's clock, so the nodes'
//! clocks need not agree.

use super::PgStore;
use super::deliveries::KEY_HEAD;
use super::rows;
use crate::domain::endpoint::{Endpoint, OrderingMode};
use crate::ids::DeliveryId;
use crate::store::{Claimed, Due, StoreError};

/// The advisory lock class of claims (the second key is the endpoint's).
const CLAIM_LOCK_CLASS: i32 = 0x7768_6b01;

/// The window a rate limit counts requests in, ms.
const WINDOW_MS: i64 = crate::delivery::rate::WINDOW_MS as i64;

/// How soon to look again at an endpoint another node is claiming, ms.
const BUSY_RETRY_MS: u64 = 20;

/// How far back a late claim's pace slot may lie (µs): lateness up to this
/// (at most two intervals) is made up, idle time is not.
const PACE_SLACK_US: i64 = 100_000;

/// The database's clock, µs since the epoch.
const DB_NOW_US: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8";

/// The second advisory-lock key of `endpoint`: the random tail of its id
/// (two endpoints sharing one only take turns claiming).
fn lock_key(endpoint: &Endpoint) -> i32 {
    let bytes = endpoint.id.to_bytes();
    i32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]])
}

impl PgStore {
    /// Ends the leases this node holds (it is stopping: the deliveries it
    /// did not finish go to the other nodes at once rather than when the
    /// leases run out).
    pub(super) async fn release_leases(&self) -> Result<u64, StoreError> {
        let client = self.shared.client().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET lease_node = NULL, lease_until = NULL
                 WHERE lease_node = $1",
                &[&self.node],
            )
            .await?)
    }

    /// Takes up to `limit` of `endpoint`'s due deliveries for this node,
    /// leased until the lease time from now, keeping at most `cap` of the
    /// endpoint's deliveries in flight across every node (one with
    /// `endpoint` ordering) and one start per `1/rate` s across every node
    /// under a rate limit.
    pub async fn claim_due(
        &self,
        endpoint: &Endpoint,
        now_ms: u64,
        limit: usize,
        cap: usize,
    ) -> Result<Claimed, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = client.transaction().await?;
                let locked: bool = tx
                    .query_one(
                        "SELECT pg_try_advisory_xact_lock($1, $2)",
                        &[&CLAIM_LOCK_CLASS, &lock_key(endpoint)],
                    )
                    .await?
                    .try_get(0)?;
                if !locked {
                    return Ok(Claimed {
                        due: Vec::new(),
                        look_again_at: Some(now_ms + BUSY_RETRY_MS),
                    });
                }
                let id = endpoint.id.to_bytes();
                let id = &id[..];
                let db_now_us: i64 = tx.query_one(DB_NOW_US, &[]).await?.try_get(0)?;
                let db_now_ms = db_now_us / 1000;
                let in_flight: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM deliveries
                         WHERE endpoint = $1 AND lease_until > $2",
                        &[&id, &db_now_ms],
                    )
                    .await?
                    .try_get(0)?;
                let strict = endpoint.config.ordering.mode == OrderingMode::Endpoint;
                let cap = if strict { 1 } else { cap.max(1) };
                let mut room = limit.min(cap.saturating_sub(usize::try_from(in_flight).unwrap_or(cap)));
                if room == 0 {
                    return Ok(Claimed::default());
                }
                let mut pace_slot: Option<i64> = None;
                if let Some(per_second) = endpoint.config.rate_limit {
                    // As the receiver may see them (the rule of
                    // `delivery::rate`): requests in flight and those
                    // answered within the last second count against the
                    // limit, however late they arrived.
                    let recent = tx
                        .query_one(
                            "SELECT count(*), min(answered_at) FROM deliveries
                             WHERE endpoint = $1 AND answered_at > $2",
                            &[&id, &(db_now_ms - WINDOW_MS)],
                        )
                        .await?;
                    let answered: i64 = recent.try_get(0)?;
                    let oldest: Option<i64> = recent.try_get(1)?;
                    if in_flight + answered >= i64::from(per_second.max(1)) {
                        // An answer to come wakes the engine; an old one
                        // ages out of the window at a time.
                        let ages_out = oldest.map(|at| {
                            now_ms + u64::try_from(at + WINDOW_MS + 1 - db_now_ms).unwrap_or(1)
                        });
                        return Ok(Claimed {
                            due: Vec::new(),
                            look_again_at: ages_out,
                        });
                    }
                    let next_start: Option<i64> = tx
                        .query_opt(
                            "SELECT next_start_us FROM endpoint_pace WHERE endpoint = $1",
                            &[&id],
                        )
                        .await?
                        .map(|row| row.try_get(0))
                        .transpose()?;
                    pace_slot = next_start;
                    if let Some(next) = next_start.filter(|next| *next > db_now_us) {
                        let wait_ms = u64::try_from((next - db_now_us) / 1000 + 1).unwrap_or(1);
                        return Ok(Claimed {
                            due: Vec::new(),
                            look_again_at: Some(now_ms + wait_ms),
                        });
                    }
                    // Evenly spaced starts, 1/per_second apart: one per
                    // claim, nothing saved up while idle.
                    room = 1;
                }
                let picked = if strict {
                    let head = tx
                        .query_opt(
                            "SELECT id, state, next_attempt_at, lease_until FROM deliveries
                             WHERE endpoint = $1 AND waiting
                             ORDER BY event LIMIT 1 FOR UPDATE SKIP LOCKED",
                            &[&id],
                        )
                        .await?;
                    let Some(head) = head else {
                        return Ok(Claimed::default());
                    };
                    let state: &str = head.try_get(1)?;
                    let due: Option<i64> = head.try_get(2)?;
                    let leased: Option<i64> = head.try_get(3)?;
                    match due {
                        Some(at) if state == "pending" && leased.is_none_or(|until| until <= db_now_ms) => {
                            if rows::from_ms(at) > now_ms {
                                return Ok(Claimed {
                                    due: Vec::new(),
                                    look_again_at: Some(rows::from_ms(at)),
                                });
                            }
                            vec![(
                                DeliveryId::from_bytes(rows::id_at(&head, 0)?),
                                rows::from_ms(at),
                                leased.is_some(),
                            )]
                        }
                        _ => Vec::new(),
                    }
                } else {
                    let rows = tx
                        .query(
                            &format!(
                                "SELECT d.id, d.next_attempt_at, d.lease_until IS NOT NULL
                                 FROM deliveries d
                                 WHERE d.endpoint = $1 AND d.state = 'pending'
                                     AND d.next_attempt_at <= $2
                                     AND (d.lease_until IS NULL OR d.lease_until <= $3)
                                     AND {KEY_HEAD}
                                 ORDER BY d.next_attempt_at, d.id LIMIT $4
                                 FOR UPDATE OF d SKIP LOCKED"
                            ),
                            &[&id, &rows::ms(now_ms), &db_now_ms, &(room as i64)],
                        )
                        .await?;
                    rows.iter()
                        .map(|row| {
                            Ok((
                                DeliveryId::from_bytes(rows::id_at(row, 0)?),
                                rows::from_ms(row.try_get(1)?),
                                row.try_get::<_, bool>(2)?,
                            ))
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?
                };
                if picked.is_empty() {
                    tx.commit().await?;
                    let look_again_at = self.next_due_at(endpoint.id).await?.filter(|at| *at > now_ms);
                    return Ok(Claimed { due: Vec::new(), look_again_at });
                }
                let id_bytes: Vec<Vec<u8>> =
                    picked.iter().map(|(id, _, _)| id.to_bytes().to_vec()).collect();
                // A lease still on a delivery that is claimable ran out:
                // its node died or stalled.
                let taken_over = picked.iter().filter(|(_, _, leased)| *leased).count();
                tx.execute(
                    "UPDATE deliveries SET lease_node = $2, lease_until = $3
                     WHERE id = ANY($1)",
                    &[&id_bytes, &self.node, &(db_now_ms + rows::ms(self.lease_ms))],
                )
                .await?;
                // The pace's next start, GCRA-style: one interval after the
                // previous start's slot, so a claim that comes late (a busy
                // machine, a slow round trip) is made up for instead of
                // lost — but never from further back than PACE_SLACK_US,
                // so an idle endpoint saves up no burst. The window count
                // above still caps any second at the limit.
                let mut next_start_at_us = None;
                if let Some(per_second) = endpoint.config.rate_limit {
                    let interval = 1_000_000 / i64::from(per_second.max(1));
                    let slot = pace_slot.map_or(db_now_us, |previous| {
                        previous.max(db_now_us - PACE_SLACK_US.min(interval * 2))
                    });
                    let next = slot + interval;
                    next_start_at_us = Some(next);
                    tx.execute(
                        "INSERT INTO endpoint_pace (endpoint, next_start_us) VALUES ($1, $2)
                         ON CONFLICT (endpoint) DO UPDATE SET next_start_us = EXCLUDED.next_start_us",
                        &[&id, &next],
                    )
                    .await?;
                }
                tx.commit().await?;
                if taken_over > 0 {
                    crate::telemetry::lease_takeovers(taken_over);
                }
                // Paced: back when the next start is allowed, not only
                // when an answer wakes the engine.
                let look_again_at = next_start_at_us.map(|next| {
                    now_ms + u64::try_from((next - db_now_us).max(0) / 1000).unwrap_or(0)
                });
                Ok(Claimed {
                    due: picked
                        .into_iter()
                        .map(|(id, at_ms, _)| Due {
                            at_ms,
                            id,
                            endpoint: endpoint.id,
                        })
                        .collect(),
                    look_again_at,
                })
            }
            .await,
        )
    }
}
