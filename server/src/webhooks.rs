//! Webhook deliveries: the events the store queues for each new version
//! (`opendata_datasets::Store::announce`), POSTed to their receivers, signed, and retried
//! with backoff.
//!
//! One node at a time delivers (a lease in the catalog, as the maintainer's), so a
//! receiver gets each event once from the cluster, or more than once only when a node dies
//! between its POST and recording it. Each request is signed with the webhook's secret:
//! `X-Opendata-Signature: sha256=<hex HMAC-SHA256 of the body>`, so a receiver can tell the
//! portal's requests from anyone else's. Receivers are reached through the same address
//! fence as URL sources (`crate::fetch`): public addresses only, checked at each connection,
//! no redirects.

use std::time::Duration;

use chrono::Utc;
use hmac::{KeyInit, Mac};
use opendata_datasets::{Delivery, DeliveryStatus, Webhook};

use crate::state::AppState;

/// How often the delivering node looks for due deliveries, and how many it sends a round.
const ROUND: Duration = Duration::from_secs(1);
const PER_ROUND: usize = 20;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: u64 = 6 * 3600;

/// Delivers until `stop` resolves.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let round = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || deliver_due(&state))
        };
        match round.await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(deliveries = n, "webhook deliveries attempted"),
            Ok(Err(e)) => tracing::warn!(%e, "webhook deliveries failed"),
            Err(e) => tracing::warn!(%e, "webhook round panicked"),
        }
        tokio::select! {
            () = tokio::time::sleep(ROUND) => {}
            () = &mut stop => return,
        }
    }
}

/// One round on this node, if it leads: the due deliveries, each attempted once. Blocking.
fn deliver_due(state: &AppState) -> anyhow::Result<usize> {
    let catalog = state.store.catalog();
    // A read first: most rounds find nothing due, and need not write a lease to learn it.
    if catalog.due_deliveries(Utc::now(), 1)?.is_empty()
        || !catalog.lead("webhooks", &state.node, Utc::now() + chrono::Duration::seconds(60))?
    {
        return Ok(0);
    }
    let due = catalog.due_deliveries(Utc::now(), PER_ROUND)?;
    let agent = agent(state)?;
    for mut delivery in due.iter().cloned() {
        let organization = delivery.event["organization"].as_str().unwrap_or_default().to_owned();
        let Some(hook) = catalog.webhooks_of(&organization)?.into_iter().find(|h| h.id == delivery.webhook) else {
            // Its webhook was removed since: nobody is waiting for it.
            delivery.status = DeliveryStatus::Failed;
            delivery.last_error = Some("the webhook was removed".into());
            catalog.put_delivery(&delivery)?;
            continue;
        };
        attempt(&agent, &hook, &mut delivery, &state.config.webhooks);
        catalog.put_delivery(&delivery)?;
    }
    Ok(due.len())
}

/// The client deliveries go through: `[fetch]`'s fence with the webhooks' networks, their
/// timeout, and no redirects (a redirect could point anywhere).
fn agent(state: &AppState) -> anyhow::Result<ureq::Agent> {
    let w = &state.config.webhooks;
    crate::fetch::agent(&crate::config::Fetch {
        max_bytes: 0,
        timeout_secs: w.timeout_secs,
        max_redirects: 0,
        allow_networks: w.allow_networks.clone(),
    })
}

/// POSTs the event once and records how it went: delivered, due again later, or failed.
fn attempt(agent: &ureq::Agent, hook: &Webhook, d: &mut Delivery, settings: &crate::config::Webhooks) {
    let body = serde_json::to_vec(&d.event).unwrap_or_default();
    d.attempts += 1;
    let sent = agent
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-opendata-event", d.event["event"].as_str().unwrap_or("event"))
        .header("x-opendata-delivery", &d.id)
        .header("x-opendata-signature", &signature(&hook.secret, &body))
        .send(&body[..]);
    match sent {
        Ok(res) if res.status().is_success() => {
            d.status = DeliveryStatus::Delivered;
            d.last_status = Some(res.status().as_u16());
            d.last_error = None;
            d.delivered_at = Some(Utc::now());
            return;
        }
        Ok(res) => {
            d.last_status = Some(res.status().as_u16());
            d.last_error = Some(format!("the receiver answered {}", res.status()));
        }
        Err(e) => {
            d.last_status = None;
            d.last_error = Some(e.to_string());
        }
    }
    if d.attempts >= settings.max_attempts {
        d.status = DeliveryStatus::Failed;
    } else {
        d.due_at = Utc::now() + chrono::Duration::seconds(backoff(settings.retry_secs, d.attempts) as i64);
    }
}

/// Seconds before the attempt after `attempts` failed ones: doubling from `first`, capped.
fn backoff(first: u64, attempts: u32) -> u64 {
    first.saturating_mul(1u64 << attempts.saturating_sub(1).min(32)).min(MAX_BACKOFF_SECS)
}

/// `sha256=<hex>` of the body under the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", crate::auth::hex(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_stops_growing() {
        assert_eq!((1..=4).map(|n| backoff(30, n)).collect::<Vec<_>>(), [30, 60, 120, 240]);
        assert_eq!(backoff(30, 20), MAX_BACKOFF_SECS);
        assert_eq!(backoff(30, u32::MAX), MAX_BACKOFF_SECS);
    }
}
