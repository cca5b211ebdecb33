//! Downloading URL sources for `ingest`: size, time and redirect limits, and conditional
//! requests so an unchanged source costs one round trip.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use opendata_datasets::{FetchState, StagedFile, Store};

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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(limits.timeout_secs)))
        .max_redirects(limits.max_redirects)
        .http_status_as_error(false)
        .user_agent(concat!("opendata/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
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
