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
//! Refused ranges: loopback, RFC 1918 private, CGNAT 100.64/10, link-local (including
//! the 169.254.169.254 metadata address), unspecified, multicast, broadcast and the
//! other special-purpose blocks, IPv6 ULA fc00::/7, and IPv6 forms that embed an IPv4
//! address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16), judged by
//! the embedded address. `allow_private_for_tests` turns range checks off; `exempt_addrs`
//! exempts single addresses (a test server, an operator's internal forge).

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

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified or this-network 0.0.0.0/8",
        (127, _, _) => "loopback 127.0.0.0/8",
        (10, _, _) => "private 10.0.0.0/8",
        (172, 16..=31, _) => "private 172.16.0.0/12",
        (192, 168, _) => "private 192.168.0.0/16",
        (100, 64..=127, _) => "carrier-grade NAT 100.64.0.0/10",
        (169, 254, _) => "link-local 169.254.0.0/16",
        (192, 0, 0) => "IETF protocol assignments 192.0.0.0/24",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation range",
        (198, 18..=19, _) => "benchmarking 198.18.0.0/15",
        (224..=239, _, _) => "multicast 224.0.0.0/4",
        (240..=255, _, _) => "reserved or broadcast 240.0.0.0/4",
        _ => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified ::");
    }
    if ip.is_loopback() {
        return Some("loopback ::1");
    }
    let seg = ip.segments();
    // Forms that carry an IPv4 address: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4).map(|_| "IPv4-mapped address in a refused IPv4 range");
    }
    if seg[..6] == [0; 6] {
        // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks).
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return refused_v4(v4).map(|_| "IPv4-compatible address in a refused IPv4 range");
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return refused_v4(v4).map(|_| "NAT64 address in a refused IPv4 range");
    }
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return refused_v4(v4).map(|_| "6to4 address in a refused IPv4 range");
    }
    Some(match seg[0] {
        s if s & 0xfe00 == 0xfc00 => "unique local fc00::/7",
        s if s & 0xffc0 == 0xfe80 => "link-local fe80::/10",
        s if s & 0xffc0 == 0xfec0 => "site-local fec0::/10",
        s if s & 0xff00 == 0xff00 => "multicast ff00::/8",
        0x2001 if seg[1] == 0x0db8 => "documentation 2001:db8::/32",
        0x0100 if seg[1..4] == [0, 0, 0] => "discard 100::/64",
        _ => return None,
    })
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

    #[test]
    fn refused_and_public_addresses() {
        let refused = [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.7",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
            "fec0::1",
        ];
        for s in refused {
            let ip: IpAddr = s.parse().unwrap();
            assert!(refused_range(ip).is_some(), "{s} must be refused");
        }
        let public = [
            "140.82.112.3",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for s in public {
            let ip: IpAddr = s.parse().unwrap();
            assert_eq!(refused_range(ip), None, "{s} must be allowed");
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
