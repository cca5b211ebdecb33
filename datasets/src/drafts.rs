//! Versions reviewed before release. A draft's file is stored like a version's, but only
//! the draft names it; readers see nothing until it is published, by its publisher or, at
//! the time they chose, by the maintainer.

use chrono::{DateTime, Utc};

use crate::catalog::{Draft, NewVersion};
use crate::model::TableVersion;
use crate::store::{StagedFile, Store};
use crate::{Error, Result};

impl Store {
    /// Stores `staged` as the draft of its table, numbered as the version it would be now,
    /// in place of any draft the table had.
    pub fn keep_draft(&self, staged: StagedFile, new: NewVersion) -> Result<Draft> {
        let number = self.latest_number(&new.dataset.id, &new.table)? + 1;
        let new = NewVersion { file: self.place(staged, &new)?, ..new };
        let draft = Draft { number, new, created_at: Utc::now(), publish_at: None };
        if let Err(e) = self.catalog().put_draft(&draft) {
            self.unplace(&draft.new.file);
            return Err(e);
        }
        Ok(draft)
    }

    /// Publishes draft `number` of `dataset/table` as its next version. A draft that a newer
    /// version overtook is stale: it is dropped, and publishing it fails. A draft that would
    /// remove or retype columns readers rely on needs `confirmed`.
    pub fn publish_draft(&self, dataset: &str, table: &str, number: u32, confirmed: bool) -> Result<TableVersion> {
        let draft = self.catalog().draft(dataset, table)?.filter(|d| d.number == number);
        let draft = draft.ok_or_else(|| Error::DraftNotFound(format!("{dataset}/{table} has no draft {number}")))?;
        self.check_breaking(&draft, confirmed)?;
        if self.latest_number(dataset, table)? >= number {
            self.catalog().remove_draft(dataset, table)?;
            return Err(Error::DraftNotFound(format!(
                "{dataset}/{table}: a newer version was published after draft {number}; upload it again"
            )));
        }
        // The dataset may have been edited since the upload: its metadata now stands.
        let version = self.catalog().add_version(&draft.new)?;
        self.catalog().remove_draft(dataset, table)?;
        self.log_version(&draft.new);
        self.announce(&draft.new, &version);
        Ok(version)
    }

    /// Schedules draft `number` to be published at `at` by the maintainer; confirming a
    /// breaking change is asked now, since nobody is there at release time.
    pub fn schedule_draft(
        &self,
        dataset: &str,
        table: &str,
        number: u32,
        at: DateTime<Utc>,
        confirmed: bool,
    ) -> Result<Draft> {
        let draft = self.catalog().draft(dataset, table)?.filter(|d| d.number == number);
        let draft = draft.ok_or_else(|| Error::DraftNotFound(format!("{dataset}/{table} has no draft {number}")))?;
        self.check_breaking(&draft, confirmed)?;
        let draft = Draft { publish_at: Some(at), ..draft };
        self.catalog().put_draft(&draft)?;
        Ok(draft)
    }

    /// What a draft would break for the table's readers: columns it removes, and columns
    /// whose type it changes (a query or a program that reads them would fail).
    pub fn breaking_changes(&self, draft: &Draft) -> Result<Vec<String>> {
        let current = match self.catalog().dataset(&draft.new.dataset.id) {
            Ok(d) => d.tables.iter().find(|t| t.name == draft.new.table).map(|t| t.latest().clone()),
            Err(e) if e.is_missing_dataset() => None,
            Err(e) => return Err(e),
        };
        let Some(current) = current else { return Ok(Vec::new()) };
        Ok(current
            .columns
            .iter()
            .filter_map(|c| match draft.new.columns.iter().find(|n| n.name == c.name) {
                None => Some(format!("`{}` is removed", c.name)),
                Some(n) if n.kind != c.kind => Some(format!("`{}` changes from {} to {}", c.name, c.kind, n.kind)),
                Some(_) => None,
            })
            .collect())
    }

    fn check_breaking(&self, draft: &Draft, confirmed: bool) -> Result<()> {
        let breaking = self.breaking_changes(draft)?;
        if breaking.is_empty() || confirmed { Ok(()) } else { Err(Error::BreakingChange(breaking.join("; "))) }
    }

    /// The latest published version's number of a table; 0 for a table not published yet.
    fn latest_number(&self, dataset: &str, table: &str) -> Result<u32> {
        match self.catalog().dataset(dataset) {
            Ok(d) => Ok(d.tables.iter().find(|t| t.name == table).map_or(0, |t| t.latest().version)),
            Err(e) if e.is_missing_dataset() => Ok(0),
            Err(e) => Err(e),
        }
    }
}
