//! Which network addresses outbound requests may reach: every special-purpose
//! range (loopback, private, link-local, CGNAT, multicast, documentation, ...)
//! is refused unless the operator's allowlist names the address, its network
//! or the host name. The decision is pure; the outbound client applies it to
//! IP-literal URLs and to every address its resolver returns.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is refused: the special-purpose range it falls in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is {reason} and not in the outbound allowlist")]
pub struct Refusal {
    /// The address refused, as it was resolved or written.
    pub address: IpAddr,
    /// The range it belongs to, e.g. `loopback` or `private (RFC 1918)`.
    pub reason: &'static str,
}

/// An operator allowlist entry that is neither an IP address, a CIDR nor a
/// host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound allowlist entry {entry:?} {problem}")]
pub struct AllowlistError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// The allow/deny decision on outbound addresses: special ranges refused,
/// the operator's allowlist (networks and host names) let through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    networks: Vec<IpNet>,
    hosts: Vec<String>,
}

impl AddressPolicy {
    #[cfg(test)]
    /// A policy that refuses every special range, with nothing allowlisted.
    pub fn deny_special() -> Self {
        AddressPolicy::default()
    }

    /// Parses the operator's allowlist: CIDRs (`127.0.0.0/8`, `fd00::/8`),
    /// single addresses (`10.1.2.3`, `::1`, `[::1]`) or host names
    /// (`localhost`, `receiver.internal`). The error names the bad entry.
    pub fn from_allowlist<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        let mut policy = AddressPolicy::default();
        for entry in entries {
            match parse_entry(entry.as_ref())? {
                AllowlistEntry::Network(network) => policy.networks.push(network),
                AllowlistEntry::Host(host) => policy.hosts.push(host),
            }
        }
        Ok(policy)
    }

    /// Whether `address` may be connected to: allowed when it is in no
    /// special range or when the allowlist covers it.
    pub fn check_ip(&self, address: IpAddr) -> Result<(), Refusal> {
        let Some(reason) = special_range(address) else {
            return Ok(());
        };
        if self.network_allowlisted(address) {
            return Ok(());
        }
        Err(Refusal { address, reason })
    }

    /// Whether the host name (as it appears in a URL) is allowlisted, in
    /// which case every address it resolves to may be connected to.
    pub fn host_allowlisted(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.hosts.contains(&host)
    }

    /// The refusal a URL's target always gets, known before any lookup: an
    /// IP literal in a special range, or `localhost` (which never resolves
    /// anywhere but loopback), unless allowlisted. Host names are judged
    /// only when a request resolves them (their addresses may change), so
    /// this is `Ok` for them.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refusal> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(url::Host::Domain(name)) => {
                let name = normalise_host(name);
                let local = name == "localhost" || name.ends_with(".localhost");
                if !local || self.host_allowlisted(&name) {
                    return Ok(());
                }
                self.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    .map_err(|refusal| Refusal {
                        reason: "loopback (localhost)",
                        ..refusal
                    })
            }
            None => Ok(()),
        }
    }

    fn network_allowlisted(&self, address: IpAddr) -> bool {
        let canonical = canonical(address);
        self.networks
            .iter()
            .any(|network| network.contains(&address) || network.contains(&canonical))
    }
}

/// The special-purpose range `address` belongs to, if any; `None` for a
/// globally routable unicast address. IPv4-mapped IPv6 addresses are judged
/// by the IPv4 address they carry.
pub fn special_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for, so an
/// allowlisted `127.0.0.1/32` also covers `::ffff:127.0.0.1`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

/// IANA's IPv4 special-purpose ranges that must not be reached from a
/// public-facing server; the more specific entries come first so the reason
/// is the most precise one.
const SPECIAL_V4: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 32), "unspecified"),
    (v4(0, 0, 0, 0, 8), "\"this network\" (0.0.0.0/8)"),
    (v4(10, 0, 0, 0, 8), "private (RFC 1918)"),
    (
        v4(100, 64, 0, 0, 10),
        "shared address space (CGNAT, RFC 6598)",
    ),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), "private (RFC 1918)"),
    (v4(192, 0, 0, 0, 24), "IETF protocol assignments"),
    (v4(192, 0, 2, 0, 24), "documentation (TEST-NET-1)"),
    (v4(192, 88, 99, 0, 24), "6to4 relay anycast"),
    (v4(192, 168, 0, 0, 16), "private (RFC 1918)"),
    (v4(198, 18, 0, 0, 15), "benchmarking"),
    (v4(198, 51, 100, 0, 24), "documentation (TEST-NET-2)"),
    (v4(203, 0, 113, 0, 24), "documentation (TEST-NET-3)"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved (240.0.0.0/4)"),
];

/// A network from the eight groups of its IPv6 address, as written.
const fn v6(groups: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = groups;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IANA's IPv6 special-purpose ranges (IPv4-mapped addresses are handled
/// before this table, by their IPv4 address).
const SPECIAL_V6: &[(Ipv6Net, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (
        v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-compatible (deprecated)",
    ),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), "local-use NAT64"),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "Teredo"),
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), "benchmarking"),
    (v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), "ORCHID"),
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), "ORCHIDv2"),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), "documentation"),
    (
        v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        "6to4 (embeds an IPv4 address)",
    ),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), "documentation"),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "unique local (ULA)"),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (deprecated)",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// The well-known NAT64 prefix: its addresses reach the IPv4 address in
/// their last 32 bits, so they are judged by that address.
const NAT64_WELL_KNOWN: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

fn special_v4(address: Ipv4Addr) -> Option<&'static str> {
    SPECIAL_V4
        .iter()
        .find(|(network, _)| network.contains(&address))
        .map(|(_, reason)| *reason)
}

fn special_v6(address: Ipv6Addr) -> Option<&'static str> {
    if NAT64_WELL_KNOWN.contains(&address) {
        let [.., a, b, c, d] = address.octets();
        return special_v4(Ipv4Addr::new(a, b, c, d))
            .map(|_| "NAT64 translation of a special-purpose IPv4 address");
    }
    SPECIAL_V6
        .iter()
        .find(|(network, _)| network.contains(&address))
        .map(|(_, reason)| *reason)
}

enum AllowlistEntry {
    Network(IpNet),
    Host(String),
}

fn parse_entry(raw: &str) -> Result<AllowlistEntry, AllowlistError> {
    let bad = |problem| AllowlistError {
        entry: raw.to_owned(),
        problem,
    };
    let entry = raw.trim();
    if entry.is_empty() {
        return Err(bad("is empty"));
    }
    if entry.contains('/') {
        let network: IpNet = entry
            .parse()
            .map_err(|_| bad("is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)"))?;
        return Ok(AllowlistEntry::Network(network.trunc()));
    }
    let unbracketed = entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(entry);
    if let Ok(address) = unbracketed.parse::<IpAddr>() {
        return Ok(AllowlistEntry::Network(IpNet::from(address)));
    }
    let host = normalise_host(entry);
    if is_host_name(&host) {
        Ok(AllowlistEntry::Host(host))
    } else {
        Err(bad(
            "is not an IP address, CIDR or host name (no scheme, port or path)",
        ))
    }
}

/// Host names compare case-insensitively and without the root's trailing dot.
fn normalise_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn is_host_name(host: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    // An all-numeric dotted name would be an IPv4 address that failed to
    // parse (e.g. `10.0.0.256`): a typo, not a host name.
    let numeric = host
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.');
    !host.is_empty() && host.len() <= 253 && !numeric && host.split('.').all(label_ok)
}

impl fmt::Display for AddressPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self
            .networks
            .iter()
            .map(ToString::to_string)
            .chain(self.hosts.iter().cloned())
            .collect();
        if entries.is_empty() {
            formatter.write_str("no special-range target allowlisted")
        } else {
            write!(formatter, "allowlisted: {}", entries.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn refused_reason(policy: &AddressPolicy, text: &str) -> &'static str {
        match policy.check_ip(ip(text)) {
            Err(refusal) => refusal.reason,
            Ok(()) => panic!("{text} should be refused"),
        }
    }

    #[test]
    fn special_ranges_are_refused_with_their_reason() {
        let policy = AddressPolicy::deny_special();
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared address space (CGNAT, RFC 6598)"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "\"this network\" (0.0.0.0/8)"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.251", "multicast"),
            ("240.1.1.1", "reserved (240.0.0.0/4)"),
            ("192.0.2.10", "documentation (TEST-NET-1)"),
            ("198.51.100.7", "documentation (TEST-NET-2)"),
            ("203.0.113.99", "documentation (TEST-NET-3)"),
            ("198.19.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private (RFC 1918)"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "IPv4-compatible (deprecated)"),
            (
                "64:ff9b::a00:1",
                "NAT64 translation of a special-purpose IPv4 address",
            ),
            ("fd12:3456::1", "unique local (ULA)"),
            ("fc00::1", "unique local (ULA)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2002:7f00:1::", "6to4 (embeds an IPv4 address)"),
            ("2001::1", "Teredo"),
        ];
        for (address, reason) in cases {
            assert_eq!(refused_reason(&policy, address), reason, "{address}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let policy = AddressPolicy::deny_special();
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2606:4700:4700::1111",
        ] {
            assert_eq!(policy.check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_refusal_names_the_address_and_why() {
        let refusal = AddressPolicy::deny_special()
            .check_ip(ip("169.254.169.254"))
            .expect_err("metadata address refused");
        assert_eq!(
            refusal.to_string(),
            "169.254.169.254 is link-local and not in the outbound allowlist"
        );
    }

    #[test]
    fn allowlisted_networks_and_addresses_are_allowed() {
        let policy = AddressPolicy::from_allowlist(&["127.0.0.1/32", "10.0.0.0/8", "[fd00::7]"])
            .expect("valid allowlist");
        assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(policy.check_ip(ip("10.200.3.4")), Ok(()));
        assert_eq!(policy.check_ip(ip("fd00::7")), Ok(()));
        assert_eq!(refused_reason(&policy, "127.0.0.2"), "loopback");
        assert_eq!(refused_reason(&policy, "::1"), "loopback");
        assert_eq!(refused_reason(&policy, "fd00::8"), "unique local (ULA)");
        assert_eq!(refused_reason(&policy, "169.254.169.254"), "link-local");
    }

    #[test]
    fn host_names_match_case_insensitively_without_the_root_dot() {
        let policy =
            AddressPolicy::from_allowlist(&["LocalHost", "receiver.internal."]).expect("valid");
        assert!(policy.host_allowlisted("localhost"));
        assert!(policy.host_allowlisted("localhost."));
        assert!(policy.host_allowlisted("Receiver.Internal"));
        assert!(!policy.host_allowlisted("evil.receiver.internal"));
        assert!(!policy.host_allowlisted("example.com"));
        // A host name entry never allows an address by itself.
        assert_eq!(refused_reason(&policy, "127.0.0.1"), "loopback");
    }

    #[test]
    fn bad_entries_are_named() {
        for entry in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "http://localhost",
            "localhost:8080",
            "10.0.0.256",
            "bad host",
            "-leading.example",
        ] {
            let error = AddressPolicy::from_allowlist(&["127.0.0.1", entry])
                .expect_err("bad entry refused");
            assert_eq!(error.entry, entry);
            assert!(error.to_string().contains(&format!("{entry:?}")), "{error}");
        }
    }

    #[test]
    fn cidr_host_bits_are_ignored() {
        let policy = AddressPolicy::from_allowlist(&["192.168.1.77/24"]).expect("valid");
        assert_eq!(policy.check_ip(ip("192.168.1.3")), Ok(()));
        assert_eq!(policy.to_string(), "allowlisted: 192.168.1.0/24");
    }

    #[test]
    fn urls_whose_target_is_always_refused_are_known_before_any_lookup() {
        let deny = AddressPolicy::deny_special();
        let url = |text: &str| url::Url::parse(text).expect("test url");
        for (text, reason) in [
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://127.0.0.1:9000/hook", "loopback"),
            ("https://[::1]/hook", "loopback"),
            ("https://10.1.2.3/hook", "private (RFC 1918)"),
            ("http://localhost:8080/x", "loopback (localhost)"),
            ("http://api.LOCALHOST./x", "loopback (localhost)"),
        ] {
            let refusal = deny.check_url(&url(text)).expect_err(text);
            assert_eq!(refusal.reason, reason, "{text}");
        }
        // Names are judged when resolved; public addresses always pass.
        assert_eq!(deny.check_url(&url("https://hooks.example.com/x")), Ok(()));
        assert_eq!(deny.check_url(&url("https://93.184.216.34/x")), Ok(()));
        // The allowlist opens them, by network or by name.
        let allow = AddressPolicy::from_allowlist(&["127.0.0.1/32", "localhost"]).unwrap();
        assert_eq!(allow.check_url(&url("https://127.0.0.1:9000/hook")), Ok(()));
        assert_eq!(allow.check_url(&url("http://localhost:8080/x")), Ok(()));
    }
}
