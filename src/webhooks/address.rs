//! Which receivers the service will call. A webhook URL is chosen by the
//! integrator, so without a rule it would let anyone holding an admin token
//! make the service call its own network: the database, a cloud metadata
//! service, an admin port on loopback (server-side request forgery). The rule
//! is checked at registration and again on every delivery, against the
//! addresses the name resolves to at that moment (a name can be re-pointed
//! after registration).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// What the service may call.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Loopback receivers (and plain http to them) are allowed: for tests
    /// and for a receiver on the same host.
    pub allow_loopback: bool,
}

/// Why a URL or an address is refused, in words for the integrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be an absolute https URL")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must name a host")]
    NoHost,
    #[error("{0} is a loopback, private, link-local, multicast or otherwise internal address")]
    Internal(IpAddr),
    #[error("the host name does not resolve")]
    Unresolved,
}

impl AddressPolicy {
    /// Whether the service may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => !internal_v4(v4),
            IpAddr::V6(v6) => !internal_v6(v6),
        }
    }

    /// Checks a URL's form and, when its host is an address, that address.
    /// Host names are checked once resolved ([`check_resolved`](Self::check_resolved)).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let host = url.host().ok_or(Refusal::NoHost)?;
        let literal = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        };
        let loopback_here =
            self.allow_loopback && (literal.is_some_and(|ip| ip.is_loopback()) || url.host_str() == Some("localhost"));
        match url.scheme() {
            "https" => {}
            "http" if loopback_here => {}
            _ => return Err(Refusal::NotHttps),
        }
        match literal {
            Some(ip) if !self.allows(ip) => Err(Refusal::Internal(ip)),
            _ => Ok(()),
        }
    }

    /// Checks every address a name resolved to: one internal address is
    /// enough to refuse, since the connection may pick any of them.
    pub fn check_resolved(&self, addresses: &[IpAddr]) -> Result<(), Refusal> {
        if addresses.is_empty() {
            return Err(Refusal::Unresolved);
        }
        match addresses.iter().find(|ip| !self.allows(**ip)) {
            Some(ip) => Err(Refusal::Internal(*ip)),
            None => Ok(()),
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, cloud metadata among it
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local() // fc00::/7, fd00:ec2::254 (a metadata address) among it
        || ip.is_unicast_link_local()
        || (first & 0xffc0) == 0xfec0 // deprecated site-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64 onto any IPv4 address
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> Option<Refusal> {
        AddressPolicy::default().check_url(&Url::parse(url).unwrap()).err()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://224.0.0.1/",
            "https://[ff02::1]/",
        ] {
            assert!(matches!(refused(url), Some(Refusal::Internal(_))), "{url} must be refused");
        }
    }

    #[test]
    fn public_https_urls_pass_and_other_forms_do_not() {
        assert_eq!(refused("https://hooks.example.org/attune"), None);
        assert_eq!(refused("https://93.184.215.14:8443/x"), None);
        assert_eq!(refused("https://[2606:4700::1111]/"), None);
        assert_eq!(refused("http://hooks.example.org/"), Some(Refusal::NotHttps));
        assert_eq!(refused("ftp://hooks.example.org/"), Some(Refusal::NotHttps));
        assert_eq!(refused("https://user:pw@hooks.example.org/"), Some(Refusal::Credentials));
    }

    #[test]
    fn names_are_judged_by_what_they_resolve_to() {
        let policy = AddressPolicy::default();
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(policy.check_resolved(&[public]), Ok(()));
        assert_eq!(policy.check_resolved(&[public, private]), Err(Refusal::Internal(private)));
        assert_eq!(policy.check_resolved(&[]), Err(Refusal::Unresolved));
    }

    #[test]
    fn the_test_setting_opens_loopback_and_nothing_else() {
        let policy = AddressPolicy { allow_loopback: true };
        assert_eq!(policy.check_url(&Url::parse("http://127.0.0.1:9000/hook").unwrap()), Ok(()));
        assert_eq!(policy.check_url(&Url::parse("http://[::1]:9000/hook").unwrap()), Ok(()));
        assert_eq!(policy.check_url(&Url::parse("http://hooks.example.org/").unwrap()), Err(Refusal::NotHttps));
        assert!(policy.check_url(&Url::parse("https://10.0.0.1/").unwrap()).is_err());
        assert!(policy.check_url(&Url::parse("https://169.254.169.254/").unwrap()).is_err());
    }
}
