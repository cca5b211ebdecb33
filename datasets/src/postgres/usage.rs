//! Usage counts in the PostgreSQL catalog: one row per dataset and day.

use chrono::NaiveDate;
use deadpool_postgres::Object;

use crate::Result;
use crate::model::{DailyUsage, Usage};

pub(super) async fn add(mut c: Object, counts: Vec<DailyUsage>) -> Result<()> {
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare(
            "INSERT INTO usage (dataset, day, views, downloads, api_calls) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (dataset, day) DO UPDATE SET views = usage.views + excluded.views,
                 downloads = usage.downloads + excluded.downloads, api_calls = usage.api_calls + excluded.api_calls",
        )
        .await?;
    for c in &counts {
        let u = c.usage;
        tx.execute(&stmt, &[&c.dataset, &c.day, &count(u.views), &count(u.downloads), &count(u.api_calls)]).await?;
    }
    Ok(tx.commit().await?)
}

pub(super) async fn of(c: Object, dataset: String, from: NaiveDate) -> Result<Vec<(NaiveDate, Usage)>> {
    let rows = c
        .query(
            "SELECT day, views, downloads, api_calls FROM usage WHERE dataset = $1 AND day >= $2 ORDER BY day",
            &[&dataset, &from],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), usage(r, 1))).collect())
}

pub(super) async fn most_used(c: Object, from: NaiveDate, limit: usize) -> Result<Vec<(String, Usage)>> {
    let rows = c
        .query(
            "SELECT dataset, sum(views)::BIGINT, sum(downloads)::BIGINT, sum(api_calls)::BIGINT FROM usage
             WHERE day >= $1 GROUP BY dataset
             ORDER BY sum(views) + sum(downloads) + sum(api_calls) DESC, dataset LIMIT $2",
            &[&from, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), usage(r, 1))).collect())
}

fn usage(r: &tokio_postgres::Row, at: usize) -> Usage {
    let n = |i: usize| u64::try_from(r.get::<_, i64>(at + i)).unwrap_or(0);
    Usage { views: n(0), downloads: n(1), api_calls: n(2) }
}

/// PostgreSQL's integers are signed; a count past i64::MAX cannot happen, but must not wrap.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
