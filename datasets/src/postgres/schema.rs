//! Numbered migrations of the PostgreSQL catalog. Each runs once, in order, in one
//! transaction with the others that are due, under an advisory lock so that nodes starting
//! together do not race; `schema_migrations` records which ran.

use tokio_postgres::Client;

use crate::Result;

/// Step `i` brings the schema from version `i` to `i + 1`. Steps are only ever appended.
const MIGRATIONS: &[&str] = &[
    // 1: the catalog as the SQLite one has it, with the change feed.
    "CREATE TABLE organizations (
         id TEXT PRIMARY KEY,
         title TEXT NOT NULL,
         title_en TEXT,
         description TEXT NOT NULL DEFAULT '',
         url TEXT
     );
     CREATE TABLE datasets (
         id TEXT PRIMARY KEY,
         organization TEXT NOT NULL REFERENCES organizations(id),
         meta TEXT NOT NULL,
         created_at TIMESTAMPTZ NOT NULL,
         updated_at TIMESTAMPTZ NOT NULL
     );
     CREATE TABLE tables (
         ord BIGSERIAL,
         dataset TEXT NOT NULL REFERENCES datasets(id),
         name TEXT NOT NULL,
         title TEXT NOT NULL,
         settings TEXT,
         sql_name TEXT NOT NULL UNIQUE,
         PRIMARY KEY (dataset, name)
     );
     CREATE TABLE versions (
         dataset TEXT NOT NULL,
         tbl TEXT NOT NULL,
         version INTEGER NOT NULL,
         created_at TIMESTAMPTZ NOT NULL,
         row_count BIGINT NOT NULL,
         byte_size BIGINT NOT NULL,
         file TEXT NOT NULL,
         columns TEXT NOT NULL,
         source TEXT NOT NULL,
         content_hash TEXT NOT NULL DEFAULT '',
         changes TEXT,
         report TEXT,
         PRIMARY KEY (dataset, tbl, version),
         FOREIGN KEY (dataset, tbl) REFERENCES tables(dataset, name)
     );
     CREATE TABLE users (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         site_admin BOOLEAN NOT NULL DEFAULT false,
         created_at TIMESTAMPTZ NOT NULL,
         disabled BOOLEAN NOT NULL DEFAULT false
     );
     CREATE TABLE memberships (
         user_id TEXT NOT NULL REFERENCES users(id),
         organization TEXT NOT NULL REFERENCES organizations(id),
         role TEXT NOT NULL,
         PRIMARY KEY (user_id, organization)
     );
     CREATE TABLE tokens (
         ord BIGSERIAL,
         id TEXT PRIMARY KEY,
         user_id TEXT NOT NULL REFERENCES users(id),
         hash TEXT NOT NULL UNIQUE,
         record TEXT NOT NULL
     );
     CREATE TABLE audit (
         seq BIGSERIAL PRIMARY KEY,
         entry TEXT NOT NULL
     );
     CREATE TABLE jobs (
         id TEXT PRIMARY KEY,
         job TEXT NOT NULL
     );
     CREATE TABLE changes (
         seq BIGSERIAL PRIMARY KEY,
         at TIMESTAMPTZ NOT NULL DEFAULT now(),
         dataset TEXT,
         organization TEXT
     );",
    // 2: jobs get the columns a node claims them by.
    "ALTER TABLE jobs ADD COLUMN ord BIGSERIAL,
                     ADD COLUMN status TEXT NOT NULL DEFAULT 'queued',
                     ADD COLUMN lease_until TIMESTAMPTZ;
     UPDATE jobs SET status = job::json->>'status';
     CREATE INDEX jobs_status ON jobs(status);",
    // 3: who leads each maintenance role.
    "CREATE TABLE leaders (role TEXT PRIMARY KEY, node TEXT NOT NULL, until TIMESTAMPTZ NOT NULL);",
    // 4: sources harvested on a schedule.
    "CREATE TABLE harvest_sources (namespace TEXT PRIMARY KEY, source TEXT NOT NULL);",
    // 5: passwords and browser sessions.
    "CREATE TABLE passwords (\"user\" TEXT PRIMARY KEY REFERENCES users(id), phc TEXT NOT NULL);
     CREATE TABLE sessions (hash TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL, session TEXT NOT NULL);",
    // 6: versions waiting for review.
    "CREATE TABLE drafts (dataset TEXT NOT NULL, tbl TEXT NOT NULL, draft TEXT NOT NULL, PRIMARY KEY (dataset, tbl));",
    // 7: why datasets were withdrawn.
    "CREATE TABLE withdrawals (id TEXT PRIMARY KEY, record TEXT NOT NULL);",
    // 8: private datasets; withdrawn ones kept for a restore; files and links that are not tables.
    "ALTER TABLE datasets ADD COLUMN withdrawn BOOLEAN NOT NULL DEFAULT false,
                         ADD COLUMN private BOOLEAN NOT NULL DEFAULT false;
     CREATE TABLE resources (
         dataset TEXT NOT NULL REFERENCES datasets(id),
         id TEXT NOT NULL,
         record TEXT NOT NULL,
         ord BIGSERIAL,
         PRIMARY KEY (dataset, id)
     );",
    // 9: usage per dataset and day (no foreign key: a count flushed after its dataset was
    // withdrawn must not fail the flush).
    "CREATE TABLE usage (
         dataset TEXT NOT NULL,
         day DATE NOT NULL,
         views BIGINT NOT NULL DEFAULT 0,
         downloads BIGINT NOT NULL DEFAULT 0,
         api_calls BIGINT NOT NULL DEFAULT 0,
         PRIMARY KEY (dataset, day)
     );
     CREATE INDEX usage_by_day ON usage (day);",
    // 10: webhooks, and their deliveries: pending ones by when they are due, a webhook's by age.
    "CREATE TABLE webhooks (id TEXT PRIMARY KEY, organization TEXT NOT NULL, record TEXT NOT NULL, ord BIGSERIAL);
     CREATE INDEX webhooks_of ON webhooks (organization);
     CREATE TABLE deliveries (
         id TEXT PRIMARY KEY,
         webhook TEXT NOT NULL,
         status TEXT NOT NULL,
         due_at TIMESTAMPTZ NOT NULL,
         created_at TIMESTAMPTZ NOT NULL,
         record TEXT NOT NULL
     );
     CREATE INDEX deliveries_due ON deliveries (status, due_at);
     CREATE INDEX deliveries_of ON deliveries (webhook, created_at);",
    // 11: the search glossary as a site admin edited it.
    "CREATE TABLE glossary (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         text TEXT NOT NULL,
         updated_at TIMESTAMPTZ NOT NULL,
         updated_by TEXT NOT NULL
     );",
];

/// Arbitrary, fixed: the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6f70_656e_6461_7461;

/// Runs the migrations that are due; returns the schema version.
pub(super) async fn migrate(client: &mut Client) -> Result<usize> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let done: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        tx.batch_execute(step).await?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&(i as i32 + 1)]).await?;
    }
    tx.commit().await?;
    Ok(MIGRATIONS.len())
}
