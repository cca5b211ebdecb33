//! Who a request comes from: the peer address, or behind a trusted proxy (HAProxy, nginx, a
//! cloud balancer) the address that proxy reports in `X-Forwarded-For`. Rate limits and the
//! per-client cap on exports count by it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Request};

/// An address or a network (`10.0.0.0/8`, `fd00::/8`) whose forwarding headers are believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an IP address or network (such as 10.0.0.0/8)");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let base: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Network { base, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let keep = |bits: u32, width: u32| if self.prefix == 0 { 0 } else { bits >> (width - u32::from(self.prefix)) };
        match (self.base, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => self.prefix == 0 || keep(u32::from(a), 32) == keep(u32::from(b), 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let shift = 128 - u32::from(self.prefix);
                self.prefix == 0 || u128::from(a).checked_shr(shift) == u128::from(b).checked_shr(shift)
            }
            _ => false,
        }
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Addresses left of
/// it were written by the client and prove nothing. None for a request with no peer (the
/// router called in-process).
pub fn address<B>(request: &Request<B>, trusted: &[Network]) -> Option<IpAddr> {
    address_of(request.extensions(), request.headers(), trusted)
}

fn address_of(extensions: &Extensions, headers: &HeaderMap, trusted: &[Network]) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer))
}

/// The client's address as a handler argument: none when the router runs in-process.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub Option<IpAddr>);

impl FromRequestParts<crate::AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::AppState) -> Result<Self, Self::Rejection> {
        Ok(Client(address_of(&parts.extensions, &parts.headers, &state.trusted_proxies)))
    }
}

/// At most `max` of something (downloads) at once per client address.
#[derive(Debug)]
pub struct PerClient {
    max: usize,
    running: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One client's share, given back when dropped.
#[derive(Debug)]
pub struct Share {
    running: Arc<Mutex<HashMap<IpAddr, usize>>>,
    client: IpAddr,
}

impl PerClient {
    pub fn new(max: usize) -> Self {
        Self { max, running: Arc::default() }
    }

    /// A share for `client`, or none when it holds `max` already. A request with no address
    /// (in-process) is not counted.
    pub fn take(&self, client: Option<IpAddr>) -> Option<Option<Share>> {
        let Some(client) = client else { return Some(None) };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let n = running.entry(client).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Some(Share { running: self.running.clone(), client }))
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = running.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> Request<()> {
        let mut r = Request::builder();
        if let Some(f) = forwarded {
            r = r.header("x-forwarded-for", f);
        }
        let mut r = r.body(()).unwrap();
        r.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
        r
    }

    #[test]
    fn only_trusted_proxies_say_who_the_client_is() {
        let trusted: Vec<Network> = ["10.0.0.0/8", "::1"].iter().map(|n| n.parse().unwrap()).collect();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // A client that is no proxy cannot name another address.
        assert_eq!(address(&request("203.0.113.9", Some("1.2.3.4")), &trusted), ip("203.0.113.9"));
        // Through one proxy, and through two, whatever the client wrote on the left.
        assert_eq!(address(&request("10.1.2.3", Some("198.51.100.7")), &trusted), ip("198.51.100.7"));
        assert_eq!(
            address(&request("10.1.2.3", Some("6.6.6.6, 198.51.100.7, 10.9.9.9")), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(address(&request("::1", Some("2001:db8::5")), &trusted), ip("2001:db8::5"));
        // A proxy that forwards nothing is the client.
        assert_eq!(address(&request("10.1.2.3", None), &trusted), ip("10.1.2.3"));
        assert!("10.0.0.0/33".parse::<Network>().is_err() && "x".parse::<Network>().is_err());
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()) && !all.contains("::1".parse().unwrap()));
    }

    #[test]
    fn shares_are_counted_per_client_and_given_back() {
        let per = PerClient::new(2);
        let (a, b) = (Some("10.0.0.1".parse().unwrap()), Some("10.0.0.2".parse().unwrap()));
        let first = per.take(a).unwrap();
        let second = per.take(a).unwrap();
        assert!(per.take(a).is_none(), "a third at once is refused");
        assert!(per.take(b).is_some(), "another client has its own");
        drop(first);
        assert!(per.take(a).is_some());
        drop(second);
        assert!(per.take(None).is_some(), "in-process requests are not counted");
    }
}
