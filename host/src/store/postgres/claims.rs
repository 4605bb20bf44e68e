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
//! (see [`crate::delivery::rate`]); an answer counts from when the node had
//! it, not from when its record was committed. Recording the attempt ends
//! the lease; a node that dies leaves its leases to run out, after which
//! any node takes the deliveries over. Lease and pace times are the
//! database's clock, so the nodes' clocks need not agree.

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
                // Statements are prepared once per connection: a claim is
                // on the path of every delivery, and an unprepared one
                // costs a round trip and a plan each time.
                let lock = tx.prepare_cached(TRY_LOCK).await?;
                let locked: bool = tx
                    .query_one(&lock, &[&CLAIM_LOCK_CLASS, &lock_key(endpoint)])
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
                let paced = endpoint.config.rate_limit.is_some();
                // Read after the lock is held (a statement sees what was
                // committed when it began): another node's claim that
                // ended just before is counted.
                let state = tx.prepare_cached(ENDPOINT_STATE).await?;
                let state = tx.query_one(&state, &[&id, &paced, &WINDOW_MS]).await?;
                let db_now_us: i64 = state.try_get(0)?;
                let db_now_ms = db_now_us / 1000;
                let in_flight: i64 = state.try_get(1)?;
                let answered: i64 = state.try_get(2)?;
                let oldest_answer: Option<i64> = state.try_get(3)?;
                let pace_slot: Option<i64> = state.try_get(4)?;
                let strict = endpoint.config.ordering.mode == OrderingMode::Endpoint;
                let cap = if strict { 1 } else { cap.max(1) };
                let mut room =
                    limit.min(cap.saturating_sub(usize::try_from(in_flight).unwrap_or(cap)));
                if room == 0 {
                    return Ok(Claimed::default());
                }
                if let Some(per_second) = endpoint.config.rate_limit {
                    // As the receiver may see them (the rule of
                    // `delivery::rate`): requests in flight and those
                    // answered within the last second count against the
                    // limit, however late they arrived.
                    if in_flight + answered >= i64::from(per_second.max(1)) {
                        // An answer to come wakes the engine; an old one
                        // ages out of the window at a time.
                        let ages_out = oldest_answer.map(|at| {
                            now_ms + u64::try_from(at + WINDOW_MS + 1 - db_now_ms).unwrap_or(1)
                        });
                        return Ok(Claimed {
                            due: Vec::new(),
                            look_again_at: ages_out,
                        });
                    }
                    if let Some(next) = pace_slot.filter(|next| *next > db_now_us) {
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
                let lease_until = db_now_ms + rows::ms(self.lease_ms);
                let picked = if strict {
                    let Some(head) = self
                        .lease_strict_head(&tx, id, now_ms, db_now_ms, lease_until)
                        .await?
                    else {
                        return Ok(Claimed::default());
                    };
                    match head {
                        StrictHead::Leased(picked) => vec![picked],
                        StrictHead::DueAt(at) => {
                            return Ok(Claimed {
                                due: Vec::new(),
                                look_again_at: Some(at),
                            });
                        }
                        StrictHead::Held => Vec::new(),
                    }
                } else {
                    let pick = tx.prepare_cached(&pick_and_lease_sql()).await?;
                    let rows = tx
                        .query(
                            &pick,
                            &[
                                &id,
                                &rows::ms(now_ms),
                                &db_now_ms,
                                &(room as i64),
                                &self.node,
                                &lease_until,
                            ],
                        )
                        .await?;
                    let mut picked = rows
                        .iter()
                        .map(|row| {
                            Ok((
                                DeliveryId::from_bytes(rows::id_at(row, 0)?),
                                rows::from_ms(row.try_get(1)?),
                                row.try_get::<_, bool>(2)?,
                            ))
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    // RETURNING keeps no order: earliest due first again.
                    picked.sort_by_key(|(id, at, _)| (*at, id.to_bytes()));
                    picked
                };
                if picked.is_empty() {
                    tx.commit().await?;
                    let look_again_at = self
                        .next_due_at(endpoint.id)
                        .await?
                        .filter(|at| *at > now_ms);
                    return Ok(Claimed {
                        due: Vec::new(),
                        look_again_at,
                    });
                }
                // A lease still on a delivery that is claimable ran out:
                // its node died or stalled.
                let taken_over = picked.iter().filter(|(_, _, leased)| *leased).count();
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
                    let pace = tx.prepare_cached(SET_PACE).await?;
                    tx.execute(&pace, &[&id, &next]).await?;
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

    /// Leases the strict endpoint's head (its waiting delivery of the
    /// earliest event) if it is pending, due and not leased; says when it
    /// is due if not yet; [`StrictHead::Held`] when it is failed and
    /// holding the rest, or in flight. `None`: nothing waits.
    async fn lease_strict_head(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: &[u8],
        now_ms: u64,
        db_now_ms: i64,
        lease_until: i64,
    ) -> Result<Option<StrictHead>, StoreError> {
        let head = tx.prepare_cached(STRICT_HEAD).await?;
        let Some(head) = tx.query_opt(&head, &[&id]).await? else {
            return Ok(None);
        };
        let state: &str = head.try_get(1)?;
        let due: Option<i64> = head.try_get(2)?;
        let leased: Option<i64> = head.try_get(3)?;
        let Some(at) =
            due.filter(|_| state == "pending" && leased.is_none_or(|until| until <= db_now_ms))
        else {
            return Ok(Some(StrictHead::Held));
        };
        if rows::from_ms(at) > now_ms {
            return Ok(Some(StrictHead::DueAt(rows::from_ms(at))));
        }
        let delivery = rows::id_at(&head, 0)?;
        let lease = tx.prepare_cached(LEASE).await?;
        tx.execute(&lease, &[&&delivery[..], &self.node, &lease_until])
            .await?;
        Ok(Some(StrictHead::Leased((
            DeliveryId::from_bytes(delivery),
            rows::from_ms(at),
            leased.is_some(),
        ))))
    }
}

/// What became of a strict endpoint's head.
enum StrictHead {
    /// Leased to this node: (delivery, due at, whether a lease ran out).
    Leased((DeliveryId, u64, bool)),
    /// Pending, due at this time (node clock, ms).
    DueAt(u64),
    /// Failed and holding what is behind it, or in flight.
    Held,
}

const TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1, $2)";

/// The endpoint's claim state in one statement: the database's clock (µs),
/// its unexpired leases, and — when it is rate limited ($2) — its answers
/// within the window ($3 ms) with the oldest of them, and its next start.
const ENDPOINT_STATE: &str = "
    WITH now AS (SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::int8 AS us)
    SELECT now.us,
        (SELECT count(*) FROM deliveries
         WHERE endpoint = $1 AND lease_until > now.us / 1000),
        answers.count, answers.oldest,
        (SELECT next_start_us FROM endpoint_pace WHERE $2 AND endpoint = $1)
    FROM now, LATERAL (
        SELECT count(*) AS count, min(answered_at) AS oldest FROM deliveries
        WHERE $2 AND endpoint = $1 AND answered_at > now.us / 1000 - $3
    ) answers";

/// Picks up to $4 of endpoint $1's due deliveries (due by $2, node clock;
/// unleased or with a lease run out by $3, database clock; heads of their
/// keys), passing over rows locked by a recording attempt, and leases them
/// to node $5 until $6 — one statement.
fn pick_and_lease_sql() -> String {
    format!(
        "WITH picked AS (
             SELECT d.id, d.next_attempt_at, d.lease_until IS NOT NULL AS leased
             FROM deliveries d
             WHERE d.endpoint = $1 AND d.state = 'pending'
                 AND d.next_attempt_at <= $2
                 AND (d.lease_until IS NULL OR d.lease_until <= $3)
                 AND {KEY_HEAD}
             ORDER BY d.next_attempt_at, d.id LIMIT $4
             FOR UPDATE OF d SKIP LOCKED)
         UPDATE deliveries SET lease_node = $5, lease_until = $6
         FROM picked WHERE deliveries.id = picked.id
         RETURNING picked.id, picked.next_attempt_at, picked.leased"
    )
}

const STRICT_HEAD: &str = "SELECT id, state, next_attempt_at, lease_until FROM deliveries
     WHERE endpoint = $1 AND waiting
     ORDER BY event LIMIT 1 FOR UPDATE SKIP LOCKED";

const LEASE: &str = "UPDATE deliveries SET lease_node = $2, lease_until = $3 WHERE id = $1";

const SET_PACE: &str = "INSERT INTO endpoint_pace (endpoint, next_start_us) VALUES ($1, $2)
     ON CONFLICT (endpoint) DO UPDATE SET next_start_us = EXCLUDED.next_start_us";
