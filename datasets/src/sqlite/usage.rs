//! Usage counts in the SQLite catalog: one row per dataset and day, days as ISO text
//! (which sorts as dates do).

use chrono::NaiveDate;
use rusqlite::{Connection, Transaction, params};

use crate::Result;
use crate::model::{DailyUsage, Usage};

pub(super) fn add(tx: &Transaction<'_>, counts: &[DailyUsage]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage (dataset, day, views, downloads, api_calls) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (dataset, day) DO UPDATE SET views = views + excluded.views,
             downloads = downloads + excluded.downloads, api_calls = api_calls + excluded.api_calls",
    )?;
    for c in counts {
        let u = c.usage;
        stmt.execute(params![c.dataset, c.day.to_string(), count(u.views), count(u.downloads), count(u.api_calls)])?;
    }
    Ok(())
}

pub(super) fn of(conn: &Connection, dataset: &str, from: NaiveDate) -> Result<Vec<(NaiveDate, Usage)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, views, downloads, api_calls FROM usage WHERE dataset = ?1 AND day >= ?2 ORDER BY day",
    )?;
    let rows = stmt
        .query_map(params![dataset, from.to_string()], |r| Ok((day(r, 0)?, usage(r, 1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn most_used(conn: &Connection, from: NaiveDate, limit: usize) -> Result<Vec<(String, Usage)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT dataset, sum(views), sum(downloads), sum(api_calls) FROM usage WHERE day >= ?1
         GROUP BY dataset ORDER BY sum(views) + sum(downloads) + sum(api_calls) DESC, dataset LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![from.to_string(), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get::<_, String>(0)?, usage(r, 1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn day(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<NaiveDate> {
    let text = r.get::<_, String>(at)?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, Box::new(e)))
}

fn usage(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Usage> {
    let n = |i: usize| r.get::<_, i64>(at + i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(Usage { views: n(0)?, downloads: n(1)?, api_calls: n(2)? })
}

/// SQLite's integers are signed; a count past i64::MAX cannot happen, but must not wrap.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
