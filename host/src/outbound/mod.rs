//! Outbound HTTP, shared by the delivery engine and workflow blocks: the
//! one guarded client ([`client`]) and the address rules it applies
//! ([`address_policy`]), connectors' credentials as request headers
//! ([`credentials`]), the header names the host owns or treats as secret
//! ([`headers`]), and how secrets are masked where a request is shown
//! ([`masking`]).

pub mod address_policy;
pub mod client;
pub mod credentials;
pub mod headers;
pub mod masking;

pub use address_policy::AddressPolicy;
#[cfg(test)]
pub use address_policy::Refusal;
pub use client::{
    OutboundClient, OutboundConfig, OutboundError, OutboundRequest, OutboundSetupError, USER_AGENT,
    retry_after,
};
pub use credentials::Credential;
pub use masking::MASK;
