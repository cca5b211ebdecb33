//! How much a dataset is used: counts per day, with nothing about who.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// What readers did with a dataset in some period (a UTC day, or the sum of several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Its pages seen in a browser: the dataset page and its embeds.
    pub views: u64,
    /// Whole files taken: table downloads, documents, originals and change sets.
    pub downloads: u64,
    /// Other API reads: metadata, rows, reports.
    pub api_calls: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.views.saturating_add(self.downloads).saturating_add(self.api_calls)
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.views = self.views.saturating_add(other.views);
        self.downloads = self.downloads.saturating_add(other.downloads);
        self.api_calls = self.api_calls.saturating_add(other.api_calls);
    }
}

/// One dataset's usage on one day, as flushed to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    pub dataset: String,
    pub day: chrono::NaiveDate,
    pub usage: Usage,
}
