//! Webhooks and their deliveries in the SQLite catalog: records as JSON, with the columns
//! lookups need beside them (times as fixed-format UTC text, which sorts as time does).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};

use super::lease_time;
use crate::Result;
use crate::model::{Delivery, Webhook};

pub(super) fn put_webhook(conn: &Connection, hook: &Webhook) -> Result<()> {
    conn.execute(
        "INSERT INTO webhooks (id, organization, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET organization = excluded.organization, record = excluded.record",
        params![hook.id, hook.organization, serde_json::to_string(hook)?],
    )?;
    Ok(())
}

pub(super) fn webhooks_of(conn: &Connection, organization: &str) -> Result<Vec<Webhook>> {
    let mut stmt = conn.prepare_cached("SELECT record FROM webhooks WHERE organization = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([organization], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|json| Ok(serde_json::from_str(json)?)).collect()
}

pub(super) fn remove_webhook(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    tx.execute("DELETE FROM deliveries WHERE webhook = ?1", [id])?;
    Ok(tx.execute("DELETE FROM webhooks WHERE id = ?1", [id])? > 0)
}

pub(super) fn put_delivery(conn: &Connection, d: &Delivery) -> Result<()> {
    conn.execute(
        "INSERT INTO deliveries (id, webhook, status, due_at, created_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, due_at = excluded.due_at, record = excluded.record",
        params![
            d.id,
            d.webhook,
            d.status.as_str(),
            lease_time(d.due_at),
            lease_time(d.created_at),
            serde_json::to_string(d)?
        ],
    )?;
    Ok(())
}

pub(super) fn due(conn: &Connection, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record FROM deliveries WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![lease_time(now), i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|json| Ok(serde_json::from_str(json)?)).collect()
}

pub(super) fn of(conn: &Connection, webhook: &str, limit: usize) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record FROM deliveries WHERE webhook = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![webhook, i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|json| Ok(serde_json::from_str(json)?)).collect()
}
