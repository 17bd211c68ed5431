//! The SSRF guard: which URLs and addresses an outbound request may reach.
//!
//! Three checks, applied to the first request and again to every redirect hop:
//! 1. the scheme is https (http only where the configuration allows it; never a
//!    downgrade from https), and the host is one of the configured forge hosts;
//! 2. a host written as an IP literal is checked against the refused ranges directly
//!    (the HTTP client never asks a resolver about literals);
//! 3. names are resolved by [`GuardedResolver`], which refuses the whole answer if ANY
//!    address is in a refused range, so a name answering with one public and one private
//!    address cannot be used to reach the private one.
//!
//! Refused ranges: every row of the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (loopback, private-use, CGNAT, link-local with the 169.254.169.254
//! metadata address, documentation, benchmarking, the NAT64, 6to4, Teredo and
//! IPv4-mapped forms, ...), multicast, and every IPv6 address outside the global unicast
//! space 2000::/3. IPv6 forms that carry an IPv4 address are judged by the IPv4 table
//! as well. `allow_private_for_tests` turns range checks off; `exempt_addrs` exempts
//! single addresses (a test server, an operator's internal forge). A deployment behind
//! DNS64 (IPv6-only, forges reached through 64:ff9b::/96) must exempt those addresses:
//! the translation prefix is refused whole, as the registries list it.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use url::Url;

use crate::error::IngestError;

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

/// The IANA IPv4 Special-Purpose Address Registry, every row (as of 2025), most
/// specific first so a refusal names the narrowest row; then multicast, which that
/// registry leaves to its own. Rows marked globally reachable (the anycast services,
/// AS112) are refused too: a forge is never one of them.
const V4_REFUSED: &[(u32, u8, &str)] = &[
    (0x0000_0000, 32, "\"this host on this network\" 0.0.0.0/32"),
    (0x0000_0000, 8, "\"this network\" 0.0.0.0/8"),
    (0x0a00_0000, 8, "private-use 10.0.0.0/8"),
    (
        0x6440_0000,
        10,
        "shared address space (CGNAT) 100.64.0.0/10",
    ),
    (0x7f00_0000, 8, "loopback 127.0.0.0/8"),
    (
        0xa9fe_0000,
        16,
        "link-local 169.254.0.0/16 (cloud metadata)",
    ),
    (0xac10_0000, 12, "private-use 172.16.0.0/12"),
    (
        0xc000_0000,
        29,
        "IPv4 service continuity prefix 192.0.0.0/29",
    ),
    (0xc000_0008, 32, "IPv4 dummy address 192.0.0.8/32"),
    (0xc000_0009, 32, "PCP anycast 192.0.0.9/32"),
    (0xc000_000a, 32, "TURN anycast 192.0.0.10/32"),
    (0xc000_00aa, 32, "NAT64/DNS64 discovery 192.0.0.170/32"),
    (0xc000_00ab, 32, "NAT64/DNS64 discovery 192.0.0.171/32"),
    (0xc000_0000, 24, "IETF protocol assignments 192.0.0.0/24"),
    (0xc000_0200, 24, "documentation (TEST-NET-1) 192.0.2.0/24"),
    (0xc01f_c400, 24, "AS112-v4 192.31.196.0/24"),
    (0xc034_c100, 24, "AMT 192.52.193.0/24"),
    (0xc058_6302, 32, "6a44-relay anycast 192.88.99.2/32"),
    (
        0xc058_6300,
        24,
        "deprecated 6to4 relay anycast 192.88.99.0/24",
    ),
    (0xc0a8_0000, 16, "private-use 192.168.0.0/16"),
    (
        0xc0af_3000,
        24,
        "direct delegation AS112 service 192.175.48.0/24",
    ),
    (0xc612_0000, 15, "benchmarking 198.18.0.0/15"),
    (
        0xc633_6400,
        24,
        "documentation (TEST-NET-2) 198.51.100.0/24",
    ),
    (0xcb00_7100, 24, "documentation (TEST-NET-3) 203.0.113.0/24"),
    (0xffff_ffff, 32, "limited broadcast 255.255.255.255/32"),
    (0xf000_0000, 4, "reserved 240.0.0.0/4"),
    (0xe000_0000, 4, "multicast 224.0.0.0/4"),
];

/// The IANA IPv6 Special-Purpose Address Registry, every row (as of 2025), most
/// specific first, then the blocks outside it that are never a forge (multicast,
/// deprecated site-local and IPv4-compatible). Anything outside the global unicast
/// space 2000::/3 is refused as well (see [`refused_v6`]).
const V6_REFUSED: &[(u128, u8, &str)] = &[
    (
        0x0000_0000_0000_0000_0000_0000_0000_0001,
        128,
        "loopback ::1/128",
    ),
    (0, 128, "unspecified ::/128"),
    (
        0x0000_0000_0000_0000_0000_ffff_0000_0000,
        96,
        "IPv4-mapped ::ffff:0:0/96",
    ),
    (
        0x0064_ff9b_0000_0000_0000_0000_0000_0000,
        96,
        "IPv4-IPv6 translation 64:ff9b::/96",
    ),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        "local-use IPv4-IPv6 translation 64:ff9b:1::/48",
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        "discard-only 100::/64",
    ),
    (
        0x0100_0000_0000_0001_0000_0000_0000_0000,
        64,
        "dummy IPv6 prefix 100:0:0:1::/64",
    ),
    (
        0x2001_0001_0000_0000_0000_0000_0000_0001,
        128,
        "PCP anycast 2001:1::1/128",
    ),
    (
        0x2001_0001_0000_0000_0000_0000_0000_0002,
        128,
        "TURN anycast 2001:1::2/128",
    ),
    (
        0x2001_0001_0000_0000_0000_0000_0000_0003,
        128,
        "DNS-SD SRP anycast 2001:1::3/128",
    ),
    (
        0x2001_0002_0000_0000_0000_0000_0000_0000,
        48,
        "benchmarking 2001:2::/48",
    ),
    (
        0x2001_0003_0000_0000_0000_0000_0000_0000,
        32,
        "AMT 2001:3::/32",
    ),
    (
        0x2001_0004_0112_0000_0000_0000_0000_0000,
        48,
        "AS112-v6 2001:4:112::/48",
    ),
    (
        0x2001_0010_0000_0000_0000_0000_0000_0000,
        28,
        "deprecated ORCHID 2001:10::/28",
    ),
    (
        0x2001_0020_0000_0000_0000_0000_0000_0000,
        28,
        "ORCHIDv2 2001:20::/28",
    ),
    (
        0x2001_0030_0000_0000_0000_0000_0000_0000,
        28,
        "drone remote ID DETs 2001:30::/28",
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        32,
        "Teredo 2001::/32",
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        23,
        "IETF protocol assignments 2001::/23",
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        "documentation 2001:db8::/32",
    ),
    (
        0x2002_0000_0000_0000_0000_0000_0000_0000,
        16,
        "6to4 2002::/16",
    ),
    (
        0x2620_004f_8000_0000_0000_0000_0000_0000,
        48,
        "direct delegation AS112 service 2620:4f:8000::/48",
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        "documentation 3fff::/20",
    ),
    (
        0x5f00_0000_0000_0000_0000_0000_0000_0000,
        16,
        "segment routing SIDs 5f00::/16",
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        "unique local fc00::/7",
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        "link-local fe80::/10",
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        "deprecated site-local fec0::/10",
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        "multicast ff00::/8",
    ),
    (0, 96, "deprecated IPv4-compatible ::/96"),
];

fn in_v4(ip: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    ip & mask == net & mask
}

fn in_v6(ip: u128, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    ip & mask == net & mask
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let ip = u32::from(ip);
    V4_REFUSED
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

/// The IPv4 address an IPv6 form carries, by the form's rules: IPv4-mapped and
/// IPv4-compatible (low 32 bits), NAT64 64:ff9b::/96 (RFC 6052, low 32 bits) and
/// 64:ff9b:1::/48 (RFC 8215; RFC 6052's /48 layout: bits 48..64 and 72..88), 6to4
/// (bits 16..48), Teredo (the client's address, bits 96..128 inverted).
fn embedded_v4(ip: u128) -> Option<Ipv4Addr> {
    let low = ip as u32;
    let pick = |shift: u32| Ipv4Addr::from((ip >> shift) as u32);
    if in_v6(ip, 0xffff_0000_0000, 96) || in_v6(ip, 0, 96) || in_v6(ip, 0x0064_ff9b_u128 << 96, 96)
    {
        Some(Ipv4Addr::from(low))
    } else if in_v6(ip, (0x0064_ff9b_0001_u128) << 80, 48) {
        let hi = ((ip >> 64) & 0xffff) as u32;
        let lo = ((ip >> 40) & 0xffff) as u32;
        Some(Ipv4Addr::from((hi << 16) | lo))
    } else if in_v6(ip, 0x2002_u128 << 112, 16) {
        Some(pick(80))
    } else if in_v6(ip, 0x2001_0000_u128 << 96, 32) {
        Some(Ipv4Addr::from(!low))
    } else {
        None
    }
}

/// IPv6: every row of the special-purpose registry, and everything outside 2000::/3
/// (the only space IANA allocates as global unicast). A form carrying an IPv4
/// address is also judged by the IPv4 table, and the refusal names the IPv4 range
/// when it is the more telling reason (`64:ff9b::7f00:1` is loopback).
fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    if let Some(v4) = embedded_v4(bits) {
        if let Some(why) = refused_v4(v4) {
            return Some(why);
        }
    }
    if let Some((_, _, why)) = V6_REFUSED
        .iter()
        .find(|(net, len, _)| in_v6(bits, *net, *len))
    {
        return Some(why);
    }
    if !in_v6(bits, 0x2000_u128 << 112, 3) {
        return Some("outside the global unicast space 2000::/3");
    }
    None
}

/// Resolves host names to addresses. The production implementation asks the system
/// resolver; tests substitute a [`StaticResolver`] so no real DNS is ever queried.
pub trait Resolver: Send + Sync + 'static {
    /// All addresses for `host` (the port is filled in by the caller).
    fn resolve(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static>>;
}

/// The system resolver (`getaddrinfo` on a blocking thread, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names to addresses; unknown names fail to resolve.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the addresses of `host`.
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.table.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static>> {
        let found = self.table.get(&host.to_ascii_lowercase()).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host}: not in the static resolver table"),
                )
            })
        })
    }
}

/// The network policy every request is checked against.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    /// Lowercase host names (or IP literals) requests may go to.
    pub allowed_hosts: Vec<String>,
    /// Turns the address-range checks off (loopback test servers).
    pub allow_private_for_tests: bool,
    /// Single addresses allowed despite being in a refused range.
    pub exempt_addrs: Vec<IpAddr>,
    /// Allows plain http (never as a downgrade from https on a redirect).
    pub allow_http: bool,
}

impl NetPolicy {
    /// Checks a URL before it is requested; `previous` is the URL that redirected here.
    pub fn check_url(&self, url: &Url, previous: Option<&Url>) -> Result<(), IngestError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http && previous.is_none_or(|p| p.scheme() == "http") => {}
            other => {
                return Err(IngestError::SchemeNotAllowed {
                    expected: if self.allow_http {
                        "https, or http without a downgrade from https"
                    } else {
                        "https"
                    },
                    found: other.to_owned(),
                })
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(IngestError::Config {
                detail: format!("url {} carries credentials", redact(url)),
            });
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => {
                return Err(IngestError::Config {
                    detail: format!("url {} has no host", redact(url)),
                })
            }
        };
        if !self.allowed_hosts.contains(&host) {
            return Err(IngestError::HostNotAllowed {
                host,
                allowed: self.allowed_hosts.clone(),
            });
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            self.check_addr(&host, ip)?;
        }
        Ok(())
    }

    /// Checks one resolved (or literal) address.
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), IngestError> {
        if self.allow_private_for_tests || self.exempt_addrs.contains(&ip) {
            return Ok(());
        }
        match refused_range(ip) {
            Some(range) => Err(IngestError::AddressForbidden {
                host: host.to_owned(),
                addr: ip,
                range,
            }),
            None => Ok(()),
        }
    }
}

/// A URL for messages: without query string or credentials (queries can carry tokens).
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The resolver handed to the HTTP client: resolves through a [`Resolver`] and refuses
/// the answer if any address is in a refused range.
pub(crate) struct GuardedResolver {
    pub(crate) inner: Arc<dyn Resolver>,
    pub(crate) policy: Arc<NetPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.inner.resolve(&host);
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs = lookup.await?;
            if addrs.is_empty() {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host}: no addresses"),
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            for ip in &addrs {
                policy
                    .check_addr(&host, *ip)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            }
            let out: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(out)
        })
    }
}

/// Finds a guard refusal inside a transport error's source chain (the resolver's error
/// travels through the HTTP client boxed).
pub(crate) fn guard_refusal(err: &(dyn std::error::Error + 'static)) -> Option<IngestError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(IngestError::AddressForbidden { host, addr, range }) =
            e.downcast_ref::<IngestError>()
        {
            return Some(IngestError::AddressForbidden {
                host: host.clone(),
                addr: *addr,
                range,
            });
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of both IANA special-purpose registries (and the other refused
    /// blocks): the row, one address inside it, the address just outside it, and
    /// whether that outside address is refused by another row. Written out by hand,
    /// independently of the tables above.
    const ROWS: &[(&str, &str, &str, bool)] = &[
        // IPv4 Special-Purpose Address Registry.
        ("0.0.0.0/8", "0.255.255.255", "1.0.0.0", false),
        ("0.0.0.0/32", "0.0.0.0", "0.0.0.1", true),
        ("10.0.0.0/8", "10.255.255.255", "11.0.0.0", false),
        ("100.64.0.0/10", "100.127.255.255", "100.128.0.0", false),
        (
            "100.64.0.0/10 (below)",
            "100.64.0.0",
            "100.63.255.255",
            false,
        ),
        ("127.0.0.0/8", "127.255.255.255", "128.0.0.0", false),
        ("169.254.0.0/16", "169.254.169.254", "169.255.0.0", false),
        ("172.16.0.0/12", "172.31.255.255", "172.32.0.0", false),
        (
            "172.16.0.0/12 (below)",
            "172.16.0.0",
            "172.15.255.255",
            false,
        ),
        ("192.0.0.0/24", "192.0.0.255", "192.0.1.0", false),
        ("192.0.0.0/29", "192.0.0.7", "192.0.0.8", true),
        ("192.0.0.8/32", "192.0.0.8", "192.0.0.9", true),
        ("192.0.0.9/32", "192.0.0.9", "192.0.0.10", true),
        ("192.0.0.10/32", "192.0.0.10", "192.0.0.11", true),
        ("192.0.0.170/32", "192.0.0.170", "192.0.0.169", true),
        ("192.0.0.171/32", "192.0.0.171", "192.0.0.172", true),
        ("192.0.2.0/24", "192.0.2.255", "192.0.3.0", false),
        ("192.31.196.0/24", "192.31.196.255", "192.31.197.0", false),
        ("192.52.193.0/24", "192.52.193.255", "192.52.194.0", false),
        ("192.88.99.0/24", "192.88.99.255", "192.88.100.0", false),
        ("192.88.99.2/32", "192.88.99.2", "192.88.99.3", true),
        ("192.168.0.0/16", "192.168.255.255", "192.169.0.0", false),
        ("192.175.48.0/24", "192.175.48.255", "192.175.49.0", false),
        ("198.18.0.0/15", "198.19.255.255", "198.20.0.0", false),
        ("198.51.100.0/24", "198.51.100.255", "198.51.101.0", false),
        ("203.0.113.0/24", "203.0.113.255", "203.0.114.0", false),
        ("240.0.0.0/4", "255.255.255.254", "239.255.255.255", true),
        (
            "255.255.255.255/32",
            "255.255.255.255",
            "255.255.255.254",
            true,
        ),
        (
            "224.0.0.0/4 (multicast)",
            "224.0.0.0",
            "223.255.255.255",
            false,
        ),
        // IPv6 Special-Purpose Address Registry.
        ("::1/128", "::1", "::2", true),
        ("::/128", "::", "::1", true),
        ("::ffff:0:0/96", "::ffff:8.8.8.8", "::1:0:0:0", true),
        ("64:ff9b::/96", "64:ff9b::808:808", "64:ff9b::1:0:0", true),
        ("64:ff9b:1::/48", "64:ff9b:1:ffff::1", "64:ff9b:2::", true),
        ("100::/64", "100::ffff", "100:0:0:1::", true),
        ("100:0:0:1::/64", "100:0:0:1::1", "100:0:0:2::", true),
        ("2001::/23", "2001:1ff:ffff::1", "2001:200::", false),
        (
            "2001::/32",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:1::",
            true,
        ),
        ("2001:1::1/128", "2001:1::1", "2001:1::", true),
        ("2001:1::2/128", "2001:1::2", "2001:1::4", true),
        ("2001:1::3/128", "2001:1::3", "2001:1::4", true),
        ("2001:2::/48", "2001:2:0:ffff::1", "2001:2:1::", true),
        ("2001:3::/32", "2001:3:ffff::1", "2001:4::", true),
        (
            "2001:4:112::/48",
            "2001:4:112:ffff::1",
            "2001:4:113::",
            true,
        ),
        ("2001:10::/28", "2001:1f:ffff::1", "2001:20::", true),
        ("2001:20::/28", "2001:2f:ffff::1", "2001:30::", true),
        ("2001:30::/28", "2001:3f:ffff::1", "2001:40::", true),
        ("2001:db8::/32", "2001:db8:ffff::1", "2001:db9::", false),
        ("2002::/16", "2002:808:808::1", "2003::", false),
        (
            "2620:4f:8000::/48",
            "2620:4f:8000:ffff::1",
            "2620:4f:8001::",
            false,
        ),
        ("3fff::/20", "3fff:fff:ffff::1", "3fff:1000::", false),
        ("5f00::/16", "5f00::1", "5f01::", true),
        ("fc00::/7", "fdff::1", "fe00::", true),
        ("fe80::/10", "febf::1", "fec0::", true),
        // Outside the registry, never a forge.
        ("fec0::/10", "fec0::1", "ff00::", true),
        ("ff00::/8", "ff02::1", "feff::", true),
        ("::/96 (IPv4-compatible)", "::8.8.8.8", "::1:0:0", true),
        ("outside 2000::/3", "4000::1", "3fff:ffff::1", false),
    ];

    #[test]
    fn every_special_purpose_row_refused_with_its_neighbour_checked() {
        for (row, inside, outside, outside_refused) in ROWS {
            let ip: IpAddr = inside.parse().unwrap();
            assert!(
                refused_range(ip).is_some(),
                "{row}: {inside} must be refused"
            );
            let ip: IpAddr = outside.parse().unwrap();
            assert_eq!(
                refused_range(ip).is_some(),
                *outside_refused,
                "{row}: just outside, {outside} -> {:?}",
                refused_range(ip)
            );
        }
    }

    /// Issue 13 item 11: the guard missed 64:ff9b:1::/48 and ::ffff:0:0/96, and judged
    /// embedded IPv4 addresses only in some forms. Every embedding is judged by the
    /// IPv4 table and named after the IPv4 range.
    #[test]
    fn ssrf_guard_misses_nat64_local_use_and_mapped_forms_regression() {
        for (addr, range) in [
            ("64:ff9b:1:808:8:800::", "64:ff9b:1::/48"),
            ("64:ff9b:1:7f00:0:100::", "loopback 127.0.0.0/8"),
            ("::ffff:0:0", "0.0.0.0/32"),
            ("::ffff:8.8.8.8", "IPv4-mapped ::ffff:0:0/96"),
            ("::ffff:169.254.169.254", "link-local 169.254.0.0/16"),
            ("64:ff9b::a00:1", "private-use 10.0.0.0/8"),
            ("2002:7f00:1::1", "loopback 127.0.0.0/8"),
            // Teredo carries the client's address inverted: !0x7f000001.
            ("2001:0:1:2:0:0:80ff:fffe", "loopback 127.0.0.0/8"),
            ("::ffff:0:7f00:1", "2000::/3"),
        ] {
            let why = refused_range(addr.parse().unwrap())
                .unwrap_or_else(|| panic!("{addr} must be refused"));
            assert!(why.contains(range), "{addr}: {why}");
        }
        for public in ["140.82.112.3", "8.8.8.8", "2606:4700::1111", "2a00:1450::1"] {
            assert_eq!(refused_range(public.parse().unwrap()), None, "{public}");
        }
    }

    fn policy(allow_http: bool) -> NetPolicy {
        NetPolicy {
            allowed_hosts: vec!["forge.example".into(), "169.254.169.254".into()],
            allow_private_for_tests: false,
            exempt_addrs: vec![],
            allow_http,
        }
    }

    #[test]
    fn url_checks() {
        let p = policy(false);
        let ok = Url::parse("https://forge.example/x").unwrap();
        p.check_url(&ok, None).unwrap();
        let e = p
            .check_url(&Url::parse("https://other.example/x").unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E003");
        let e = p
            .check_url(&Url::parse("http://forge.example/x").unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E005");
        let e = p
            .check_url(&Url::parse("file:///etc/passwd").unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E005");
        // A literal in an allowed-hosts entry is still range-checked.
        let e = p
            .check_url(&Url::parse("https://169.254.169.254/latest").unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E004");
        // http allowed, but never as a downgrade.
        let p = policy(true);
        p.check_url(&Url::parse("http://forge.example/x").unwrap(), None)
            .unwrap();
        let e = p
            .check_url(&Url::parse("http://forge.example/x").unwrap(), Some(&ok))
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E005");
        let e = p
            .check_url(&Url::parse("https://u:p@forge.example/x").unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "INGEST_E001");
    }
}
