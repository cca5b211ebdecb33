//! Webhooks: an organization's subscriptions to its datasets' new versions, and each
//! delivery of one, kept for its history and its retries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an organization wants to hear of new versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub organization: String,
    /// Where each event is POSTed.
    pub url: String,
    /// The HMAC-SHA256 key deliveries are signed with; shown to its creator once.
    pub secret: String,
    /// The datasets followed; empty for every dataset of the organization.
    #[serde(default)]
    pub datasets: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn follows(&self, dataset: &str) -> bool {
        self.datasets.is_empty() || self.datasets.iter().any(|d| d == dataset)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry, at `due_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

impl DeliveryStatus {
    /// Its name, as it is serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One event sent (or to be sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub webhook: String,
    /// What happened, as the body says it (`{"event": "version.published", ...}`).
    pub event: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (for a pending delivery).
    pub due_at: DateTime<Utc>,
    /// The receiver's last HTTP status, if it answered.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
}
