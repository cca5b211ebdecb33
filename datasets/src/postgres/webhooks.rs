//! Webhooks and their deliveries in the PostgreSQL catalog: records as JSON, with the
//! columns lookups need beside them.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;

use crate::Result;
use crate::model::{Delivery, Webhook};

pub(super) async fn put_webhook(c: Object, hook: Webhook) -> Result<()> {
    c.execute(
        "INSERT INTO webhooks (id, organization, record) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET organization = excluded.organization, record = excluded.record",
        &[&hook.id, &hook.organization, &serde_json::to_string(&hook)?],
    )
    .await?;
    Ok(())
}

pub(super) async fn webhooks_of(c: Object, organization: String) -> Result<Vec<Webhook>> {
    let rows = c.query("SELECT record FROM webhooks WHERE organization = $1 ORDER BY ord", &[&organization]).await?;
    rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
}

pub(super) async fn remove_webhook(mut c: Object, id: String) -> Result<bool> {
    let tx = c.transaction().await?;
    tx.execute("DELETE FROM deliveries WHERE webhook = $1", &[&id]).await?;
    let removed = tx.execute("DELETE FROM webhooks WHERE id = $1", &[&id]).await? > 0;
    tx.commit().await?;
    Ok(removed)
}

pub(super) async fn put_delivery(c: Object, d: Delivery) -> Result<()> {
    c.execute(
        "INSERT INTO deliveries (id, webhook, status, due_at, created_at, record) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, due_at = excluded.due_at, record = excluded.record",
        &[&d.id, &d.webhook, &d.status.as_str(), &d.due_at, &d.created_at, &serde_json::to_string(&d)?],
    )
    .await?;
    Ok(())
}

pub(super) async fn due(c: Object, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>> {
    let rows = c
        .query(
            "SELECT record FROM deliveries WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2",
            &[&now, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
}

pub(super) async fn of(c: Object, webhook: String, limit: usize) -> Result<Vec<Delivery>> {
    let rows = c
        .query(
            "SELECT record FROM deliveries WHERE webhook = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            &[&webhook, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
}
