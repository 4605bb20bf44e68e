//! What a run keeps of its requests for the API's answer, bounded whatever
//! the block does: the first [`KEPT_EXCHANGES`] exchanges with short
//! excerpts, the latest one (which explains a failure that follows it),
//! and counts of everything — so a block sending 10,000 requests costs the
//! same few kilobytes as one sending 20, and the answer says what it left out.

use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

use super::caps::{MAX_HEADERS, cut};
use super::{Exchange, FailureKind, ReceivedResponse, SHOWN_BODY_BYTES};

/// Exchanges a run keeps in order (the first ones); later ones are counted.
pub const KEPT_EXCHANGES: usize = 20;

/// Bytes of a body kept in a record (the latest response keeps
/// [`SHOWN_BODY_BYTES`], for `test` to show).
pub const KEPT_BODY_BYTES: usize = 4 << 10;

/// Bytes of a header value kept in a record.
pub const KEPT_HEADER_VALUE_BYTES: usize = 256;

/// Bytes of a header name kept in a record.
const KEPT_HEADER_NAME_BYTES: usize = 64;

/// How many requests a run made and how many its answer leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RequestCounts {
    /// Requests the block asked the host for, refused ones included.
    pub made: u64,
    /// Of those, not sent: refused by the host's checks (method, sizes,
    /// target, connector) or over the cap.
    pub refused: u64,
    /// Of those, refused at once because the run's request cap was
    /// reached: not sent, not recorded.
    pub over_cap: u64,
    /// Of those, not listed in `requests` (only the first 20 are).
    pub not_shown: u64,
    /// The run's request cap: the plugin's `max_http_requests` limit.
    pub cap: u64,
}

/// What a run kept of its requests.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The first [`KEPT_EXCHANGES`] exchanges, in order, bodies cut to
    /// [`KEPT_BODY_BYTES`].
    pub kept: Vec<Exchange>,
    /// The latest exchange recorded (kept or not), its response body cut to
    /// [`SHOWN_BODY_BYTES`].
    pub last: Option<Exchange>,
    /// The counts.
    pub counts: RequestCounts,
}

/// Why a request was not admitted: the run's cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverCap {
    /// The cap.
    pub cap: u64,
    /// Whether this is the first request over it.
    pub first: bool,
}

/// The record of one run, shared by its requests.
#[derive(Debug)]
pub struct Recorder {
    state: Mutex<Recorded>,
}

impl Recorder {
    /// An empty record of a run that may make `cap` requests.
    pub fn new(cap: u64) -> Self {
        Recorder {
            state: Mutex::new(Recorded {
                counts: RequestCounts {
                    cap,
                    ..RequestCounts::default()
                },
                ..Recorded::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one request; refuses it when the run already made `cap`.
    pub fn admit(&self) -> Result<(), OverCap> {
        let mut state = self.state();
        let counts = &mut state.counts;
        counts.made += 1;
        if counts.made > counts.cap {
            counts.refused += 1;
            counts.over_cap += 1;
            counts.not_shown += 1;
            return Err(OverCap {
                cap: counts.cap,
                first: counts.over_cap == 1,
            });
        }
        Ok(())
    }

    /// Records an admitted request's exchange: kept (cut) while fewer than
    /// [`KEPT_EXCHANGES`] are, counted otherwise; always the latest.
    pub fn record(&self, exchange: Exchange) {
        let mut state = self.state();
        let not_sent = exchange.failure.as_ref().is_some_and(|failure| {
            matches!(
                failure.kind,
                FailureKind::Refused | FailureKind::InvalidRequest
            )
        });
        if not_sent {
            state.counts.refused += 1;
        }
        if state.kept.len() < KEPT_EXCHANGES {
            state.kept.push(trimmed(&exchange, KEPT_BODY_BYTES));
        } else {
            state.counts.not_shown += 1;
        }
        state.last = Some(trimmed(&exchange, SHOWN_BODY_BYTES));
    }

    /// What was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.state().clone()
    }
}

/// A copy of `exchange` with its response body cut to `body_bytes` and its
/// response headers to what a record keeps; nothing longer is copied. (The
/// shown request is bounded already.)
fn trimmed(exchange: &Exchange, body_bytes: usize) -> Exchange {
    Exchange {
        request: exchange.request.clone(),
        target: exchange.target.clone(),
        response: exchange.response.as_ref().map(|response| ReceivedResponse {
            status: response.status,
            headers: kept_headers(&response.headers),
            body: response.body[..response.body.len().min(body_bytes)].to_vec(),
        }),
        failure: exchange.failure.clone(),
        duration: exchange.duration,
    }
}

/// At most [`MAX_HEADERS`] headers, names and values cut, for a record.
pub fn kept_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            (
                cut(name, KEPT_HEADER_NAME_BYTES),
                cut(value, KEPT_HEADER_VALUE_BYTES),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::ShownRequest;
    use super::*;

    fn exchange(index: usize, body_bytes: usize) -> Exchange {
        Exchange {
            request: ShownRequest {
                method: "GET".into(),
                url: format!("https://x.example/{index}"),
                headers: Vec::new(),
                body: None,
            },
            target: format!("GET https://x.example/{index}"),
            response: Some(ReceivedResponse {
                status: 200,
                headers: vec![("x-long".into(), "v".repeat(10_000))],
                body: vec![b'a'; body_bytes],
            }),
            failure: None,
            duration: Duration::from_millis(1),
        }
    }

    #[test]
    fn requests_past_the_cap_are_refused_and_counted() {
        let recorder = Recorder::new(3);
        for _ in 0..3 {
            assert_eq!(recorder.admit(), Ok(()));
        }
        assert_eq!(
            recorder.admit(),
            Err(OverCap {
                cap: 3,
                first: true
            })
        );
        assert_eq!(
            recorder.admit(),
            Err(OverCap {
                cap: 3,
                first: false
            })
        );
        let counts = recorder.snapshot().counts;
        assert_eq!(
            counts,
            RequestCounts {
                made: 5,
                refused: 2,
                over_cap: 2,
                not_shown: 2,
                cap: 3
            }
        );
    }

    #[test]
    fn only_the_first_exchanges_are_kept_and_the_last_is_remembered() {
        let recorder = Recorder::new(100);
        for index in 0..30 {
            recorder.admit().unwrap();
            recorder.record(exchange(index, 100_000));
        }
        let recorded = recorder.snapshot();
        assert_eq!(recorded.kept.len(), KEPT_EXCHANGES);
        assert_eq!(recorded.kept[0].request.url, "https://x.example/0");
        assert_eq!(recorded.kept[19].request.url, "https://x.example/19");
        assert_eq!(recorded.counts.made, 30);
        assert_eq!(recorded.counts.not_shown, 10);
        let last = recorded.last.expect("the last exchange");
        assert_eq!(last.request.url, "https://x.example/29");
        // Bodies and header values are excerpts.
        let kept = recorded.kept[0].response.as_ref().unwrap();
        assert_eq!(kept.body.len(), KEPT_BODY_BYTES);
        assert!(kept.headers[0].1.len() <= KEPT_HEADER_VALUE_BYTES + '…'.len_utf8());
        assert_eq!(last.response.as_ref().unwrap().body.len(), SHOWN_BODY_BYTES);
    }

    #[test]
    fn requests_the_host_did_not_send_are_counted_as_refused() {
        let recorder = Recorder::new(10);
        for kind in [
            Some(FailureKind::InvalidRequest),
            Some(FailureKind::Refused),
            Some(FailureKind::Timeout),
            None,
        ] {
            recorder.admit().unwrap();
            let mut exchange = exchange(0, 10);
            exchange.failure = kind.map(|kind| super::super::Failure {
                kind,
                detail: "why".into(),
            });
            recorder.record(exchange);
        }
        let counts = recorder.snapshot().counts;
        assert_eq!((counts.made, counts.refused), (4, 2));
    }

    #[test]
    fn at_most_the_header_cap_is_kept() {
        let headers = vec![("a".repeat(1000), "b".to_owned()); 1000];
        let kept = kept_headers(&headers);
        assert_eq!(kept.len(), MAX_HEADERS);
        assert!(kept[0].0.len() <= KEPT_HEADER_NAME_BYTES + '…'.len_utf8());
    }
}
