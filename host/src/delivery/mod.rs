//! The delivery engine: turns accepted events into signed HTTP requests to
//! endpoints and sends them, at least once, through the shared guarded
//! outbound client ([`crate::outbound`]). Every request to an endpoint — an
//! attempt or an operator's test send — is prepared one way ([`prepare`]).

pub mod retry;
pub mod signing;
pub mod test_send;

mod attempt;
pub mod clock;
pub mod engine;
pub mod fan_out;
pub mod field_template;
pub mod prepare;
pub mod rate;
pub mod request;

pub use clock::{Clock, ScaledClock, SystemClock};
pub use engine::{DeliveryEngine, EngineConfig};
