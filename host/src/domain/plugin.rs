//! Plugins as the registry keeps them: a name, its immutable versions (the
//! component's hash, world, size, upload time) and which version is active.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Name;
use crate::runtime::{LimitsOverride, World};

/// The world a plugin targets, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginWorld {
    /// Vendor callback → canonical events.
    Mapper,
    /// Template + data → request body.
    Renderer,
    /// Workflow block that may call out over HTTP.
    Block,
}

impl From<World> for PluginWorld {
    fn from(world: World) -> Self {
        match world {
            World::Mapper => PluginWorld::Mapper,
            World::Renderer => PluginWorld::Renderer,
            World::Block => PluginWorld::Block,
        }
    }
}

impl PluginWorld {
    /// The world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginWorld::Mapper => "mapper",
            PluginWorld::Renderer => "renderer",
            PluginWorld::Block => "block",
        }
    }
}

/// One uploaded version of a plugin. Never changes once stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PluginVersion {
    /// 1, 2, 3… in upload order.
    pub version: u32,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// The world it targets.
    pub world: PluginWorld,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// Upload time, epoch ms.
    pub created_at: u64,
}

/// A plugin: its name, world, versions and the active one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PluginRecord {
    /// The plugin's name.
    pub name: Name,
    /// The world every version targets.
    pub world: PluginWorld,
    /// The version calls use.
    pub active_version: u32,
    /// The highest version uploaded.
    pub latest_version: u32,
    /// First upload, epoch ms.
    pub created_at: u64,
    /// Last upload or activation, epoch ms.
    pub updated_at: u64,
    /// Block plugins: the hosts their requests may target (`PUT
    /// /v1/plugins/{name}/settings`). Kept across versions; empty means no
    /// outbound HTTP. Bundled first-party blocks start with `*`.
    #[serde(default)]
    pub allowed_hosts: Vec<HostPattern>,
    /// Changes to the server's default per-call limits for this plugin
    /// (`PUT /v1/plugins/{name}/settings`); kept across versions. `{}`
    /// keeps every default.
    #[serde(default)]
    pub limits: LimitsOverride,
    /// The tenant a private plugin belongs to; absent for the operator's
    /// shared plugins, which every tenant may use. Set by the first upload
    /// and never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Name>,
}

impl PluginRecord {
    /// Whether `tenant`'s sources, endpoints and blocks may name this
    /// plugin (and its keys see it): a shared plugin, or its own.
    pub fn usable_by(&self, tenant: &Name) -> bool {
        self.owner.as_ref().is_none_or(|owner| owner == tenant)
    }
}

/// One entry of a block plugin's allowed hosts: which targets its requests
/// may name. The outbound address rules (no private or loopback targets
/// unless the operator allowlists them) apply on top, whatever the entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: any host.
    Any,
    /// `*.example.com`: any subdomain of the domain (not the domain itself).
    /// Holds the domain with its leading dot, lower case.
    Subdomains(String),
    /// `example.com`, `127.0.0.1`, `[::1]`, optionally with `:port`.
    Host {
        /// The host, lower case (IPv6 in brackets, as URLs write it).
        host: String,
        /// The only port allowed; any port when `None`.
        port: Option<u16>,
    },
}

/// Why an allowed-hosts entry does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not a host pattern: use `host`, `host:port`, `*.domain` or `*` ({reason})")]
pub struct HostPatternError {
    /// The entry as given (truncated).
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl HostPattern {
    /// Whether a URL's `host` (as `url::Url::host_str` gives it) and `port`
    /// match this entry.
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            HostPattern::Any => true,
            // `domain` is stored with its leading dot (`.example.com`).
            HostPattern::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|head| !head.is_empty()),
            HostPattern::Host {
                host: wanted,
                port: wanted_port,
            } => *wanted == host && wanted_port.is_none_or(|wanted| Some(wanted) == port),
        }
    }
}

impl std::str::FromStr for HostPattern {
    type Err = HostPatternError;

    fn from_str(entry: &str) -> Result<Self, HostPatternError> {
        let fail = |reason| HostPatternError {
            entry: entry.chars().take(80).collect(),
            reason,
        };
        let text = entry.trim().to_ascii_lowercase();
        if text == "*" {
            return Ok(HostPattern::Any);
        }
        if let Some(domain) = text.strip_prefix("*.") {
            return match url::Host::parse(domain) {
                Ok(url::Host::Domain(_)) if is_plain_domain(domain) => {
                    Ok(HostPattern::Subdomains(format!(".{domain}")))
                }
                _ => Err(fail("`*.` must be followed by a domain name")),
            };
        }
        let (host, port) = if text.starts_with('[') {
            let end = text.find(']').ok_or_else(|| fail("unclosed `[`"))?;
            let rest = &text[end + 1..];
            let port = match rest {
                "" => None,
                _ => Some(
                    rest.strip_prefix(':')
                        .ok_or_else(|| fail("text after `]`"))?,
                ),
            };
            (&text[..=end], port)
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text.as_str(), None),
            }
        };
        let port = port
            .map(|port| match port.parse::<u16>() {
                Ok(number) if number > 0 => Ok(number),
                _ => Err(fail("the port must be a number from 1 to 65535")),
            })
            .transpose()?;
        let valid_host = match url::Host::parse(host) {
            Ok(url::Host::Domain(_)) => is_plain_domain(host),
            Ok(_) => true,
            Err(_) => false,
        };
        if !valid_host {
            return Err(fail("not a host name or IP address"));
        }
        Ok(HostPattern::Host {
            host: host.to_owned(),
            port,
        })
    }
}

/// Letters, digits, `-` and `.` in non-empty labels: what a host pattern
/// may hold (no wildcards in the middle, no paths).
fn is_plain_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Subdomains(domain) => write!(f, "*{domain}"),
            HostPattern::Host { host, port: None } => f.write_str(host),
            HostPattern::Host {
                host,
                port: Some(port),
            } => write!(f, "{host}:{port}"),
        }
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for HostPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .examples([serde_json::json!("api.example.com:443")])
            .into()
    }
}

impl ToSchema for HostPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        text.parse().unwrap()
    }

    #[test]
    fn host_patterns_parse_and_match() {
        assert!(pattern("*").matches("anything.example", Some(1)));
        let subdomains = pattern("*.Example.com");
        assert_eq!(subdomains.to_string(), "*.example.com");
        assert!(subdomains.matches("api.example.com", Some(443)));
        assert!(subdomains.matches("a.b.example.com", None));
        assert!(!subdomains.matches("example.com", Some(443)));
        assert!(!subdomains.matches("badexample.com", Some(443)));
        let exact = pattern("api.example.com");
        assert!(exact.matches("API.example.com", Some(8443)));
        assert!(!exact.matches("x.api.example.com", Some(443)));
        let with_port = pattern("127.0.0.1:8080");
        assert!(with_port.matches("127.0.0.1", Some(8080)));
        assert!(!with_port.matches("127.0.0.1", Some(8081)));
        let v6 = pattern("[::1]:9000");
        assert_eq!(v6.to_string(), "[::1]:9000");
        assert!(v6.matches("[::1]", Some(9000)));
    }

    #[test]
    fn bad_host_patterns_are_refused() {
        for bad in [
            "", "a/b", "*.", "a*.b", "x:0", "x:70000", "x:y", "[::1", "[::1]x", "a b", "http://x",
        ] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad:?} accepted");
        }
        assert!(serde_json::from_str::<HostPattern>("\"*.example.com\"").is_ok());
    }
}
