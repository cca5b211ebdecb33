//! One suite, every catalog backend: SQLite (the default) and PostgreSQL (for several
//! nodes). A behaviour one backend has and the other lacks fails here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use opendata_datasets::*;

use crate::common::postgres::Postgres;

fn sqlite() -> (tempfile::TempDir, Arc<dyn Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
    (dir, Arc::new(catalog))
}

fn postgres() -> Arc<dyn Catalog> {
    Arc::new(PostgresCatalog::connect(&Postgres::shared().database()).unwrap())
}

fn org(id: &str) -> Organization {
    Organization { id: id.into(), title: "ҮСХ".into(), title_en: None, description: String::new(), url: None }
}

fn meta(id: &str, org: &str) -> DatasetMeta {
    DatasetMeta {
        id: id.into(),
        organization: org.into(),
        title: id.into(),
        license: "CC-BY-4.0".into(),
        ..Default::default()
    }
}

fn version(dataset: &str, table: &str, rows: u64) -> NewVersion {
    NewVersion {
        dataset: meta(dataset, "nso"),
        create_dataset: true,
        table: table.into(),
        table_title: table.into(),
        row_count: rows,
        byte_size: 10,
        file: format!("tables/{dataset}/{table}/{rows}.parquet"),
        columns: vec![],
        source: SourceInfo::default(),
        content_hash: String::new(),
        changes: None,
        report: QualityReport::default(),
    }
}

fn entry(action: &str) -> AuditEntry {
    AuditEntry { at: Utc::now(), user: "bat".into(), action: action.into(), target: "d".into(), detail: String::new() }
}

fn job(id: &str, dataset: &str, status: JobStatus) -> Job {
    Job {
        id: id.into(),
        dataset: dataset.into(),
        table: "t".into(),
        user: "bat".into(),
        token: None,
        status,
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

/// Datasets, tables, versions and SQL names.
fn publishing(c: &dyn Catalog) {
    assert!(matches!(c.add_version(&version("pop", "main", 1)), Err(Error::OrganizationNotFound(_))));
    c.upsert_organization(&org("nso")).unwrap();
    assert_eq!(c.organizations().unwrap().len(), 1);
    assert!(matches!(c.organization("zz"), Err(Error::OrganizationNotFound(_))));
    for rows in 1..=3 {
        assert_eq!(c.add_version(&version("pop", "main", rows)).unwrap().version, rows as u32);
    }
    c.add_version(&version("pop", "extra", 7)).unwrap();
    let d = c.dataset("pop").unwrap();
    let names: Vec<_> = d.tables.iter().map(|t| (t.name.as_str(), t.sql_name.as_str(), t.versions.len())).collect();
    assert_eq!(names, [("main", "pop__main", 3), ("extra", "pop__extra", 1)], "tables in the order made");
    assert_eq!(d.tables[0].latest().row_count, 3);
    assert_eq!(c.totals().unwrap(), Totals { datasets: 1, organizations: 1, rows: 10 });

    // Names that map to one SQL name: the first keeps it.
    c.add_version(&version("air-quality", "main", 1)).unwrap();
    c.add_version(&version("air_quality", "main", 1)).unwrap();
    assert_eq!(c.dataset("air-quality").unwrap().tables[0].sql_name, "air_quality__main");
    assert_eq!(c.dataset("air_quality").unwrap().tables[0].sql_name, "air_quality__main_2");

    // A version never creates a dataset it may not, nor rewrites one that exists.
    let mut gone = version("gone", "main", 1);
    gone.create_dataset = false;
    assert!(matches!(c.add_version(&gone), Err(Error::DatasetNotFound(_))));
    let mut other = version("pop", "main", 4);
    other.dataset.title = "rewritten".into();
    c.add_version(&other).unwrap();
    assert_eq!(c.dataset("pop").unwrap().meta.title, "pop");

    let settings = TableSettings::default();
    c.set_table_settings("pop", "main", &settings).unwrap();
    assert_eq!(c.table_settings("pop", "main").unwrap(), settings);
    assert!(matches!(c.set_table_settings("pop", "nope", &settings), Err(Error::TableNotFound { .. })));
    assert!(matches!(c.set_columns("pop", "main", 99, &[]), Err(Error::VersionNotFound { .. })));
    assert_eq!(c.report("pop", "main", 1).unwrap(), QualityReport::default());
    assert!(matches!(c.report("pop", "main", 99), Err(Error::VersionNotFound { .. })));
    assert_eq!(c.datasets_of("nso").unwrap().len(), 3);

    c.withdraw_dataset("pop").unwrap();
    assert!(matches!(c.dataset("pop"), Err(Error::DatasetNotFound(_))), "no record of why: not found");
    let why = Withdrawal {
        dataset: "pop2".into(),
        organization: "nso".into(),
        title: "pop2".into(),
        reason: "counted twice".into(),
        at: Utc::now(),
        by: "bat".into(),
        private: false,
    };
    c.add_version(&version("pop2", "main", 3)).unwrap();
    c.audited(&Change::Withdraw(&why), &entry("dataset.withdraw")).unwrap();
    assert!(matches!(c.dataset("pop2"), Err(Error::DatasetWithdrawn { reason, .. }) if reason == "counted twice"));
    assert_eq!(c.withdrawal("pop2").unwrap(), Some(why));
    assert_eq!(c.withdrawal("pop").unwrap(), None);
    // Withdrawn, a dataset keeps its id and its versions, out of every listing, until restored.
    let again = c.add_version(&version("pop2", "main", 3));
    assert!(matches!(again, Err(Error::DatasetWithdrawn { .. })), "never made again: {again:?}");
    let withdrawn: Vec<String> = c.withdrawn_datasets().unwrap().into_iter().map(|d| d.meta.id).collect();
    assert_eq!(withdrawn, ["pop", "pop2"]);
    assert_eq!(c.totals().unwrap(), Totals { datasets: 2, organizations: 1, rows: 2 });
    c.audited(&Change::Restore("pop2"), &entry("dataset.restore")).unwrap();
    let back = c.dataset("pop2").unwrap();
    assert_eq!((back.tables[0].latest().version, back.tables[0].latest().row_count), (1, 3), "as it was");
    assert_eq!(c.withdrawal("pop2").unwrap(), None);
    assert!(matches!(c.audited(&Change::Restore("pop2"), &entry("x")), Err(Error::NothingToRestore(_))));
    assert_eq!(c.audit_log(10).unwrap().iter().filter(|e| e.action == "x").count(), 0, "a failed change logs nothing");
    c.withdraw_dataset("pop2").unwrap();
    assert!(matches!(c.withdraw_dataset("pop"), Err(Error::DatasetNotFound(_))));
    assert_eq!(c.datasets().unwrap().len(), 2);

    // A private dataset is in the catalog, and out of the public counts.
    let mut hidden = c.dataset("air-quality").unwrap().meta.clone();
    hidden.private = true;
    c.upsert_dataset(&hidden).unwrap();
    assert!(c.dataset("air-quality").unwrap().meta.private);
    assert_eq!(c.totals().unwrap(), Totals { datasets: 1, organizations: 1, rows: 1 });

    // Documents and links.
    let pdf = Resource {
        id: "a1b2c3d4".into(),
        dataset: "air_quality".into(),
        title: "Аргачлал".into(),
        description: String::new(),
        format: "PDF".into(),
        media_type: "application/pdf".into(),
        size: Some(10),
        file: Some("originals/ab/abc.pdf".into()),
        file_name: Some("method.pdf".into()),
        url: None,
        created_at: Utc::now(),
    };
    c.audited(&Change::AddResource(&pdf), &entry("resource.add")).unwrap();
    assert_eq!(c.dataset("air_quality").unwrap().resources, std::slice::from_ref(&pdf));
    let gone = Resource { dataset: "pop2".into(), ..pdf.clone() };
    assert!(matches!(c.audited(&Change::AddResource(&gone), &entry("x")), Err(Error::DatasetNotFound(_))));
    let remove = Change::RemoveResource { dataset: "air_quality", id: "a1b2c3d4" };
    c.audited(&remove, &entry("resource.remove")).unwrap();
    assert!(c.dataset("air_quality").unwrap().resources.is_empty());
    assert!(matches!(c.audited(&remove, &entry("x")), Err(Error::ResourceNotFound { .. })));
}

/// Users, roles, tokens, the audit log and jobs.
fn accounts(c: &dyn Catalog) {
    c.upsert_organization(&org("nso")).unwrap();
    let user = User {
        id: "bat".into(),
        name: "Бат".into(),
        site_admin: false,
        created_at: Utc::now(),
        memberships: vec![],
        disabled: false,
    };
    c.create_user(&user).unwrap();
    assert!(matches!(c.create_user(&user), Err(Error::UserExists(_))));
    // Passwords, replaced whole; only for users that exist.
    assert_eq!(c.password("bat").unwrap(), None);
    c.set_password("bat", "$argon2id$v=19$first").unwrap();
    c.set_password("bat", "$argon2id$v=19$second").unwrap();
    assert_eq!(c.password("bat").unwrap().as_deref(), Some("$argon2id$v=19$second"));
    assert!(c.set_password("nobody", "$argon2id$x").is_err());
    // Sessions: found by hash; signing out ends one, and clears every expired one.
    let now = Utc::now();
    let session =
        |csrf: &str, expires_at| Session { user: "bat".into(), csrf: csrf.into(), created_at: now, expires_at };
    let live = session("c1", now + chrono::Duration::hours(1));
    c.add_session(&live, "h1").unwrap();
    c.add_session(&session("c2", now - chrono::Duration::seconds(1)), "h2").unwrap();
    c.add_session(&session("c3", now + chrono::Duration::hours(1)), "h3").unwrap();
    assert_eq!(c.session("h1").unwrap(), Some(live));
    assert_eq!(c.session("nope").unwrap(), None);
    c.end_session("h1").unwrap();
    assert_eq!(c.session("h1").unwrap(), None);
    assert_eq!(c.session("h2").unwrap(), None, "expired, so cleared");
    assert!(c.session("h3").unwrap().is_some(), "another live session stays");
    c.set_membership("bat", "nso", Role::Editor).unwrap();
    c.set_membership("bat", "nso", Role::Admin).unwrap();
    assert_eq!(c.user("bat").unwrap().memberships, [("nso".to_owned(), Role::Admin)]);
    assert_eq!(c.members("nso").unwrap(), [("bat".to_owned(), Role::Admin)]);
    let leave = Change::Membership { user: "bat", organization: "nso", role: None };
    c.audited(&leave, &entry("member.remove")).unwrap();
    assert!(c.members("nso").unwrap().is_empty() && c.user("bat").unwrap().memberships.is_empty());
    let join = Change::Membership { user: "bat", organization: "nso", role: Some(Role::Admin) };
    c.audited(&join, &entry("member.set")).unwrap();
    assert_eq!(c.members("nso").unwrap(), [("bat".to_owned(), Role::Admin)]);
    c.set_user_disabled("bat", true).unwrap();
    assert!(c.user("bat").unwrap().disabled);
    assert!(matches!(c.set_user_disabled("nobody", true), Err(Error::UserNotFound(_))));

    for id in ["t1", "t2"] {
        let token = ApiToken {
            id: id.into(),
            user: "bat".into(),
            label: String::new(),
            created_at: Utc::now(),
            expires_at: None,
            revoked_at: None,
        };
        c.add_token(&token, &format!("hash-{id}")).unwrap();
    }
    assert!(c.token_by_hash("hash-t1").unwrap().unwrap().is_live(Utc::now()));
    assert!(c.token_by_hash("other").unwrap().is_none());
    c.revoke_token("t1").unwrap();
    assert!(!c.token("t1").unwrap().is_live(Utc::now()));
    assert!(matches!(c.revoke_token("t9"), Err(Error::TokenNotFound(_))));
    let ids: Vec<_> = c.tokens().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["t1", "t2"], "oldest first");

    // A change and its audit entry commit together, or neither does.
    c.audited(&Change::Dataset(&meta("d", "nso")), &entry("dataset.create")).unwrap();
    let nope = Withdrawal {
        dataset: "nope".into(),
        organization: "nso".into(),
        title: String::new(),
        reason: "none".into(),
        at: Utc::now(),
        by: "bat".into(),
        private: false,
    };
    assert!(c.audited(&Change::Withdraw(&nope), &entry("dataset.withdraw")).is_err());
    assert_eq!(c.withdrawal("nope").unwrap(), None, "the record of a withdrawal that failed is not kept");
    assert!(c.audited(&Change::Dataset(&meta("d", "no-such-org")), &entry("dataset.update")).is_err());
    c.audited(&Change::Job(&job("j0", "d", JobStatus::Queued)), &entry("version.upload")).unwrap();
    let actions: Vec<_> = c.audit_log(10).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        ["version.upload", "dataset.create", "member.set", "member.remove"],
        "newest first, no failed change"
    );
    assert_eq!(c.dataset("d").unwrap().meta.organization, "nso");

    c.put_job(&job("b", "d", JobStatus::Succeeded)).unwrap();
    c.put_job(&job("c", "other", JobStatus::Queued)).unwrap();
    assert_eq!(c.cancel_queued_jobs("d", "withdrawn").unwrap(), 1, "j0");
    assert_eq!(c.job("j0").unwrap().error.as_deref(), Some("withdrawn"));
    assert_eq!(c.job("b").unwrap().status, JobStatus::Succeeded);
    assert!(matches!(c.job("zz"), Err(Error::JobNotFound(_))));
}

/// Jobs are claimed under leases: one node at a time, taken over when a lease runs out,
/// failed after their last attempt.
fn leases(c: &dyn Catalog) {
    let later = Utc::now() + chrono::Duration::seconds(60);
    let past = Utc::now() - chrono::Duration::seconds(1);
    c.put_job(&job("done", "d", JobStatus::Succeeded)).unwrap();
    c.put_job(&job("first", "d", JobStatus::Queued)).unwrap();
    c.put_job(&job("second", "d", JobStatus::Queued)).unwrap();
    let claimed = c.claim_job("n1", later).unwrap().unwrap();
    assert_eq!((claimed.id.as_str(), claimed.status, claimed.attempts), ("first", JobStatus::Running, 1));
    assert_eq!(c.claim_job("n2", later).unwrap().unwrap().id, "second");
    assert!(c.claim_job("n3", later).unwrap().is_none(), "both are leased");
    let recent: Vec<String> = c.recent_jobs(2).unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(recent, ["second", "first"], "newest first, a claim does not reorder them");
    assert!(c.renew_job("first", "n1", later).unwrap());
    assert!(!c.renew_job("first", "n2", later).unwrap(), "not n2's");

    // n1 stalls past its lease: n3 takes the job over, and n1 can no longer finish it.
    assert!(c.renew_job("first", "n1", past).unwrap());
    let taken = c.claim_job("n3", later).unwrap().unwrap();
    assert_eq!((taken.id.as_str(), taken.attempts), ("first", 2));
    let ended = Job { status: JobStatus::Succeeded, version: Some(1), ..taken.clone() };
    assert!(!c.finish_job(&ended, "n1").unwrap());
    assert!(c.finish_job(&ended, "n3").unwrap());
    let stored = c.job("first").unwrap();
    assert_eq!((stored.status, stored.version, stored.lease), (JobStatus::Succeeded, Some(1), None));
    assert!(c.claim_job("n1", later).unwrap().is_none(), "a finished job is not claimed");

    // A job whose nodes keep dying fails after its last attempt.
    let mut holder = "n2".to_owned();
    for attempt in 2..=opendata_datasets::MAX_ATTEMPTS {
        assert!(c.renew_job("second", &holder, past).unwrap());
        holder = format!("m{attempt}");
        let again = c.claim_job(&holder, later).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), ("second", attempt));
    }
    assert!(c.renew_job("second", &holder, past).unwrap());
    assert!(c.claim_job("n9", later).unwrap().is_none());
    let failed = c.job("second").unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.unwrap().contains("interrupted"));
}

/// One node leads a role at a time; another takes over when its lead runs out.
fn leaders(c: &dyn Catalog) {
    let later = Utc::now() + chrono::Duration::seconds(60);
    assert!(c.lead("maintainer", "n1", later).unwrap());
    assert!(!c.lead("maintainer", "n2", later).unwrap(), "n1 leads");
    assert!(c.lead("maintainer", "n1", later).unwrap(), "renewed");
    assert!(c.lead("other", "n2", later).unwrap(), "roles are separate");
    assert!(c.lead("maintainer", "n1", Utc::now() - chrono::Duration::seconds(1)).unwrap());
    assert!(c.lead("maintainer", "n2", later).unwrap(), "n1's lead ran out");
    assert!(!c.lead("maintainer", "n1", later).unwrap());
}

/// Harvest sources are kept whole, replaced by namespace, and removed.
fn harvest_sources(c: &dyn Catalog) {
    let source = |namespace: &str, every_hours| HarvestSource {
        namespace: namespace.into(),
        protocol: HarvestProtocol::Ckan,
        url: format!("https://{namespace}.example/"),
        metadata_only: false,
        every_hours,
        next_run: Utc::now(),
        last_job: None,
    };
    assert_eq!(c.harvest_sources().unwrap(), []);
    let (b, a) = (source("b", 24), source("a", 6));
    c.put_harvest_source(&b).unwrap();
    c.put_harvest_source(&a).unwrap();
    assert_eq!(c.harvest_sources().unwrap(), [a.clone(), b.clone()], "by namespace");
    let b2 = HarvestSource { protocol: HarvestProtocol::Dcat, last_job: Some("j1".into()), ..b };
    c.put_harvest_source(&b2).unwrap();
    assert_eq!(c.harvest_sources().unwrap(), [a.clone(), b2]);
    assert!(c.remove_harvest_source("b").unwrap());
    assert!(!c.remove_harvest_source("b").unwrap(), "already gone");
    assert_eq!(c.harvest_sources().unwrap(), [a]);
}

/// A table's draft: one at a time, replaced whole, listed for the maintainer, removed.
fn drafts(c: &dyn Catalog) {
    c.upsert_organization(&org("nso")).unwrap();
    let draft = |table: &str, number, rows| Draft {
        number,
        new: version("d", table, rows),
        created_at: Utc::now(),
        publish_at: None,
    };
    assert!(c.draft("d", "t").unwrap().is_none());
    c.put_draft(&draft("t", 1, 5)).unwrap();
    c.put_draft(&draft("u", 1, 6)).unwrap();
    let replaced = Draft { publish_at: Some(Utc::now()), ..draft("t", 1, 7) };
    c.put_draft(&replaced).unwrap();
    let got = c.draft("d", "t").unwrap().unwrap();
    assert_eq!((got.new.row_count, got.publish_at.is_some()), (7, true), "replaced whole");
    let all: Vec<_> = c.drafts().unwrap().into_iter().map(|d| d.new.table).collect();
    assert_eq!(all, ["t", "u"]);
    assert!(c.datasets().unwrap().is_empty(), "a draft publishes nothing");
    assert!(c.remove_draft("d", "t").unwrap());
    assert!(!c.remove_draft("d", "t").unwrap());
    assert_eq!(c.drafts().unwrap().len(), 1);
}

/// Nodes claiming at once never get the same job.
fn concurrent_claims(catalogs: Vec<Arc<dyn Catalog>>) {
    for i in 0..30 {
        catalogs[0].put_job(&job(&format!("j{i:02}"), "d", JobStatus::Queued)).unwrap();
    }
    let later = Utc::now() + chrono::Duration::seconds(60);
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let c = catalogs[i % catalogs.len()].clone();
            std::thread::spawn(move || {
                std::iter::from_fn(|| c.claim_job(&format!("n{i}"), later).unwrap()).map(|j| j.id).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..30).map(|i| format!("j{i:02}")).collect::<Vec<_>>());
}

/// The change feed names what changed, once, after the point asked about.
fn feed(c: &dyn Catalog) {
    let start = c.changes_since(0).unwrap();
    assert!(start.datasets.is_empty() && start.organizations.is_empty());
    c.upsert_organization(&org("nso")).unwrap();
    c.add_version(&version("a", "main", 1)).unwrap();
    c.add_version(&version("a", "main", 2)).unwrap();
    c.upsert_dataset(&meta("b", "nso")).unwrap();
    let first = c.changes_since(start.seq).unwrap();
    assert_eq!(first.datasets, ["a", "b"]);
    assert_eq!(first.organizations, ["nso"]);
    assert!(c.changes_since(first.seq).unwrap().datasets.is_empty());
    // A failed change leaves nothing in the feed.
    assert!(c.withdraw_dataset("zz").is_err());
    assert!(c.changes_since(first.seq).unwrap().datasets.is_empty());
    c.withdraw_dataset("b").unwrap();
    assert_eq!(c.changes_since(first.seq).unwrap().datasets, ["b"]);
}

/// A waiting follower wakes when another writer commits, well within its timeout.
fn wakes(c: Arc<dyn Catalog>) {
    c.upsert_organization(&org("nso")).unwrap();
    let seq = c.changes_since(0).unwrap().seq;
    let writer = c.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        writer.upsert_dataset(&meta("late", "nso")).unwrap();
    });
    // As a follower does: a wake-up is a cue to look, and may come early.
    let started = Instant::now();
    let mut found = c.changes_since(seq).unwrap();
    while found.datasets.is_empty() && started.elapsed() < Duration::from_secs(10) {
        c.wait_for_change(seq, Duration::from_secs(10)).unwrap();
        found = c.changes_since(seq).unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(2), "found after {:?}", started.elapsed());
    assert_eq!(found.datasets, ["late"]);
    thread.join().unwrap();
    // With nothing to wait for, the wait ends at its timeout.
    let started = Instant::now();
    c.wait_for_change(c.changes_since(0).unwrap().seq, Duration::from_millis(300)).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
}

/// Publishers on eight threads (nodes, for PostgreSQL: each has its own connections) number
/// versions without a gap or a repeat.
fn concurrent_versions(catalogs: Vec<Arc<dyn Catalog>>) {
    catalogs[0].upsert_organization(&org("nso")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let c = catalogs[i % catalogs.len()].clone();
            std::thread::spawn(move || {
                (0..5).map(|_| c.add_version(&version("busy", "main", 1)).unwrap().version).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<u32> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=40).collect::<Vec<_>>());
    let seen = catalogs[0].dataset("busy").unwrap().tables[0].versions.iter().map(|v| v.version).collect::<Vec<_>>();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
}

#[test]
fn sqlite_catalog() {
    let (_dir, c) = sqlite();
    publishing(c.as_ref());
    let (_dir, c) = sqlite();
    accounts(c.as_ref());
    let (_dir, c) = sqlite();
    feed(c.as_ref());
    let (_dir, c) = sqlite();
    leases(c.as_ref());
    let (_dir, c) = sqlite();
    leaders(c.as_ref());
    let (_dir, c) = sqlite();
    harvest_sources(c.as_ref());
    let (_dir, c) = sqlite();
    drafts(c.as_ref());
    let (_dir, c) = sqlite();
    wakes(c);
    // Two connections to one file, as two processes have.
    let dir = tempfile::tempdir().unwrap();
    let open = || Arc::new(SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap()) as Arc<dyn Catalog>;
    concurrent_versions(vec![open(), open()]);
    let dir = tempfile::tempdir().unwrap();
    let open = || Arc::new(SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap()) as Arc<dyn Catalog>;
    concurrent_claims(vec![open(), open(), open()]);
}

#[test]
fn postgres_catalog() {
    publishing(postgres().as_ref());
    accounts(postgres().as_ref());
    feed(postgres().as_ref());
    leases(postgres().as_ref());
    leaders(postgres().as_ref());
    harvest_sources(postgres().as_ref());
    drafts(postgres().as_ref());
    wakes(postgres());
    let nodes =
        |url: String| (0..3).map(|_| Arc::new(PostgresCatalog::connect(&url).unwrap()) as Arc<dyn Catalog>).collect();
    concurrent_versions(nodes(Postgres::shared().database()));
    concurrent_claims(nodes(Postgres::shared().database()));
}

#[test]
fn postgres_migrations_run_once_with_nodes_starting_together() {
    let url = Postgres::shared().database();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresCatalog::connect(&url).map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let again = PostgresCatalog::connect(&url).unwrap();
    again.upsert_organization(&org("nso")).unwrap();
    assert_eq!(again.organizations().unwrap().len(), 1);
}
