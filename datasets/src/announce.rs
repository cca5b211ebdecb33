//! Telling webhooks of a new version: one pending delivery per webhook that follows the
//! dataset, written to the catalog after the version is; the server's delivery task sends
//! them (`opendata_server::webhooks`). A CLI ingest announces as the server does.

use chrono::Utc;

use crate::catalog::NewVersion;
use crate::model::{Delivery, DeliveryStatus, TableVersion};
use crate::store::Store;

impl Store {
    /// Queues the event of `version` for every webhook that follows its dataset. A failure
    /// is logged, not returned: the version is published whatever its announcement does.
    pub(crate) fn announce(&self, new: &NewVersion, version: &TableVersion) {
        if let Err(e) = self.queue_deliveries(new, version) {
            tracing::warn!(dataset = new.dataset.id, table = new.table, %e, "webhooks were not told of this version");
        }
    }

    fn queue_deliveries(&self, new: &NewVersion, version: &TableVersion) -> crate::Result<()> {
        // The dataset's organization as the catalog has it: the version's metadata only
        // creates a dataset, it never moves one.
        let organization = self.catalog().dataset(&new.dataset.id)?.meta.organization.clone();
        let hooks = self.catalog().webhooks_of(&organization)?;
        let dataset = new.dataset.id.as_str();
        let table = format!("/api/v1/datasets/{dataset}/tables/{}", new.table);
        let event = serde_json::json!({
            "event": "version.published",
            "dataset": dataset,
            "organization": organization,
            "table": new.table,
            "version": version.version,
            "rows": version.row_count,
            "created_at": version.created_at,
            "changes": version.changes,
            "links": {
                "dataset": format!("/api/v1/datasets/{dataset}"),
                "csv": format!("{table}/data.csv?version={}", version.version),
                "parquet": format!("{table}/data.parquet?version={}", version.version),
                "changes": (version.version > 1).then(|| format!("{table}/versions/{}/changes.csv", version.version)),
            },
        });
        let now = Utc::now();
        for (n, hook) in hooks.iter().filter(|h| h.follows(dataset)).enumerate() {
            let delivery = Delivery {
                id: delivery_id(n),
                webhook: hook.id.clone(),
                event: event.clone(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                due_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
            };
            self.catalog().put_delivery(&delivery)?;
        }
        Ok(())
    }
}

/// Unique across processes (a CLI ingest and servers queue into one catalog) and sorted by
/// time: the microsecond, the process and a counter.
fn delivery_id(n: usize) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let micros = Utc::now().timestamp_micros();
    format!("{micros:014x}-{:x}-{seq:x}-{n:x}", std::process::id())
}
