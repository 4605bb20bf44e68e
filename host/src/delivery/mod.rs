//! The delivery engine: turns accepted events into signed HTTP requests to
//! endpoints and sends them, at least once, through one guarded outbound
//! client.

pub mod address_policy;
pub mod outbound;
pub mod probe;
pub mod retry;
pub mod signing;

mod attempt;
pub mod clock;
pub mod engine;
pub mod fan_out;
pub mod rate;
pub mod request;

pub use clock::{Clock, ScaledClock, SystemClock};
pub use engine::{DeliveryEngine, EngineConfig};
