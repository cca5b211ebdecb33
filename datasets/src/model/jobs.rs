//! Work the portal queues: uploads and harvests, with the leases nodes run them under.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ColumnType;

/// Where an ingest job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// An upload being ingested as a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub dataset: String,
    pub table: String,
    pub user: String,
    /// The token that queued the job: it must still be live when the job runs.
    #[serde(default)]
    pub token: Option<String>,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The version published, or the current one when the upload changed nothing.
    pub version: Option<u32>,
    /// Why it failed, in the publisher's terms.
    pub error: Option<String>,
    /// What to ingest, for whichever node runs the job.
    #[serde(default)]
    pub input: Option<JobInput>,
    /// The node running the job, and until when: a node that dies stops renewing it, and
    /// another node takes the job over when it runs out.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Times a node started the job.
    #[serde(default)]
    pub attempts: u32,
    /// For a harvest rather than an upload: the namespace of the [`HarvestSource`] to
    /// harvest (`dataset` and `table` are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harvest: Option<String>,
}

impl Job {
    /// A job that waits in the queue for a node to take it.
    pub fn queued(id: String, dataset: String, table: String, user: String) -> Self {
        Job {
            id,
            dataset,
            table,
            user,
            token: None,
            status: JobStatus::Queued,
            created_at: Utc::now(),
            finished_at: None,
            version: None,
            error: None,
            input: None,
            lease: None,
            attempts: 0,
            harvest: None,
        }
    }
}

/// An upload waiting in the data folder for its ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInput {
    /// The uploaded file, relative to the data folder.
    pub upload: String,
    /// The name the publisher gave it (its extension tells the format).
    pub file_name: String,
    /// The table's title, when the upload named one.
    pub table_title: Option<String>,
    /// Kept as a draft for review instead of published.
    #[serde(default)]
    pub draft: bool,
    /// `upload` is a kept original (a draft read again), not an upload: it stays after the
    /// job.
    #[serde(default)]
    pub original: bool,
    /// How to read the file, where its publisher corrected what the ingest guessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixes: Option<ReadFixes>,
}

/// What a publisher corrected about how their file is read, applied when it is read again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadFixes {
    /// A WHATWG encoding label (`windows-1251`, `utf-16le`).
    #[serde(default)]
    pub encoding: Option<String>,
    /// One character, or `tab`.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// The 1-based row that holds the column names; 0 for none.
    #[serde(default)]
    pub header_row: Option<usize>,
    /// Only this sheet of a workbook.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Column types to use instead of the inferred ones, by column name.
    #[serde(default)]
    pub types: std::collections::BTreeMap<String, ColumnType>,
    /// Values that mean "no value" in this file, beside the usual ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub null_markers: Vec<String>,
}

/// Another portal whose catalog this one harvests on a schedule: any node's job runner
/// harvests it when the maintainer queues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarvestSource {
    /// Its organizations and datasets get ids `<namespace>--<id>` here.
    pub namespace: String,
    pub protocol: HarvestProtocol,
    pub url: String,
    /// Metadata only: no data is downloaded.
    pub metadata_only: bool,
    /// Hours from one harvest to the next.
    pub every_hours: u32,
    /// When the maintainer queues the next harvest.
    pub next_run: DateTime<Utc>,
    /// The job of the last harvest queued, which tells how it went.
    pub last_job: Option<String>,
}

/// How a [`HarvestSource`] publishes its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HarvestProtocol {
    /// CKAN's Action API.
    Ckan,
    /// A DCAT-AP catalog in JSON-LD.
    Dcat,
}

/// A node's claim on a running job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub node: String,
    pub until: DateTime<Utc>,
}
