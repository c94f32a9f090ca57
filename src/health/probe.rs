//! `attune healthcheck`: one `GET /healthz` to the local service, for a
//! container's HEALTHCHECK. Plain std networking keeps the runtime image free
//! of curl and the probe free of the async runtime.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};

/// Where to probe a service bound to `bind`: its own address, or loopback of
/// the same family when it listens on every interface.
pub fn probe_address(bind: &str) -> anyhow::Result<SocketAddr> {
    let mut addr =
        bind.to_socket_addrs().with_context(|| format!("resolving {bind}"))?.next().context("no address to probe")?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(addr)
}

/// Succeeds when `/healthz` answers 200 within `timeout`.
pub fn check(bind: &str, timeout: Duration) -> anyhow::Result<()> {
    let addr = probe_address(bind)?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).context("reading the status line")?;
    let status_line = String::from_utf8_lossy(&head);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        bail!("/healthz answered {status_line:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_host_is_probed_on_loopback() {
        assert_eq!(probe_address("0.0.0.0:9090").unwrap(), "127.0.0.1:9090".parse().unwrap());
        assert_eq!(probe_address("[::]:9090").unwrap(), "[::1]:9090".parse().unwrap());
        assert_eq!(probe_address("127.0.0.2:80").unwrap(), "127.0.0.2:80".parse().unwrap());
    }

    #[test]
    fn a_closed_port_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(check(&format!("127.0.0.1:{port}"), Duration::from_millis(500)).is_err());
    }
}
