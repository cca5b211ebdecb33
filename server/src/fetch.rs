//! Downloading URL sources for `ingest` and `harvest`: size, time and redirect limits,
//! conditional requests so an unchanged source costs one round trip, and a fence around the
//! addresses a download may reach.

use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use opendata_datasets::{FetchState, StagedFile, Store};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::client::Network;
use crate::config::Fetch;

/// The result of a fetch.
#[derive(Debug)]
pub enum Fetched {
    /// The server says the source has not changed since `state` was recorded.
    NotModified,
    /// Downloaded into the staging area, with the validators to send next time.
    File { file: StagedFile, state: FetchState },
}

/// Fetches `url` into the staging area, sending the validators of the last download of the
/// same URL. A download cut short or over the limit never reaches ingest.
pub fn fetch(store: &Store, url: &str, previous: Option<&FetchState>, limits: &Fetch) -> anyhow::Result<Fetched> {
    let agent = agent(limits)?;
    let mut request = agent.get(url);
    if let Some(prev) = previous.filter(|p| p.url == url) {
        if let Some(etag) = &prev.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(modified) = &prev.last_modified {
            request = request.header("If-Modified-Since", modified);
        }
    }
    let response = request.call().with_context(|| format!("cannot fetch {url}"))?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(Fetched::NotModified);
    }
    if !(200..300).contains(&status) {
        bail!("cannot fetch {url}: the server answered HTTP {status}");
    }
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let state = FetchState { url: url.to_owned(), etag: header("etag"), last_modified: header("last-modified") };
    if let Some(len) = header("content-length").and_then(|l| l.parse::<u64>().ok())
        && len > limits.max_bytes
    {
        bail!("{url} is {len} bytes, over the {} byte limit (fetch.max_bytes)", limits.max_bytes);
    }
    let file = store.stage("download");
    let mut out = std::fs::File::create(file.path())?;
    let mut body = response.into_body().into_reader().take(limits.max_bytes + 1);
    let n = std::io::copy(&mut body, &mut out).with_context(|| format!("download of {url} failed"))?;
    if n > limits.max_bytes {
        bail!("{url} is over the {} byte limit (fetch.max_bytes)", limits.max_bytes);
    }
    Ok(Fetched::File { file, state })
}

/// A download for table `dataset/table`: `None` when the source says it is unchanged since
/// the table's last download. The name is the URL's last segment, whose extension tells the
/// format.
pub fn table_source(
    store: &Store,
    dataset: &str,
    table: &str,
    url: &str,
    limits: &Fetch,
) -> anyhow::Result<Option<(StagedFile, String, FetchState)>> {
    let previous = store.catalog().table_settings(dataset, table).ok().and_then(|s| s.fetched);
    match fetch(store, url, previous.as_ref(), limits)? {
        Fetched::NotModified => Ok(None),
        Fetched::File { file, state } => {
            let name = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned();
            Ok(Some((file, name, state)))
        }
    }
}

/// Keeps a download's validators on the tables published from it, for the next
/// conditional request.
pub fn remember(store: &Store, dataset: &str, tables: &[&str], state: &FetchState) -> anyhow::Result<()> {
    let catalog = store.catalog();
    for table in tables {
        let mut settings = catalog.table_settings(dataset, table)?;
        settings.fetched = Some(state.clone());
        catalog.set_table_settings(dataset, table, &settings)?;
    }
    Ok(())
}

/// The HTTP client every download uses: the limits of `[fetch]`, and the address fence.
pub fn agent(limits: &Fetch) -> anyhow::Result<ureq::Agent> {
    let allowed = networks(&limits.allow_networks, "fetch.allow_networks")?;
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(limits.timeout_secs)))
        .max_redirects(limits.max_redirects)
        .http_status_as_error(false)
        // A proxy would be reached instead of the host, and the fence would check the proxy.
        .proxy(None)
        .user_agent(concat!("opendata/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(ureq::Agent::with_parts(config, DefaultConnector::default(), Fenced { allowed }))
}

/// Resolves host names as usual, then keeps only public addresses (and those in
/// `fetch.allow_networks`). Every connection resolves through it, every redirect's included,
/// and the connection goes to the address it kept: a name that resolves to a public address
/// for the check and a private one for the connection (DNS rebinding) gets nowhere.
#[derive(Debug)]
struct Fenced {
    allowed: Vec<Network>,
}

impl Resolver for Fenced {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = DefaultResolver::default().resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in found.iter().filter(|a| reachable(a.ip(), &self.allowed)) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            let host = uri.host().unwrap_or_default();
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{host} is a loopback, private or link-local address; downloads reach public addresses only \
                     (fetch.allow_networks lists exceptions)"
                ),
            )));
        }
        Ok(kept)
    }
}

/// The networks a setting lists, parsed; an error names the setting.
pub fn networks(list: &[String], setting: &str) -> anyhow::Result<Vec<Network>> {
    list.iter().map(|n| n.parse().map_err(|e: String| anyhow::anyhow!("{setting}: {e}"))).collect()
}

/// Whether an outgoing connection may go to `ip`: a public address, or one of `allowed`.
pub fn reachable(ip: IpAddr, allowed: &[Network]) -> bool {
    is_public(ip) || allowed.iter().any(|n| n.contains(ip))
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared (CGNAT),
/// multicast, documentation, benchmarking or reserved, also when written as an IPv4 address
/// inside an IPv6 one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(IpAddr::V4(std::net::Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]))));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass_the_fence() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "202.131.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
