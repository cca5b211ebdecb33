//! The publisher's pages: `/publish` (their organizations' datasets, drafts and scheduled
//! releases), a form for a new dataset, and a page per dataset to edit its metadata and
//! column dictionary and to upload a file. Every upload from here is a draft, reviewed and
//! released on the same page (see [`super::review`]): nothing reaches readers unreviewed.
//! The forms work without JavaScript; a script adds drag and drop and an upload progress
//! bar.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};
use opendata_datasets::{Dataset, DatasetMeta};
use serde::Deserialize;

use super::account::{SignedIn, forged};
use super::i18n::{Lang, t};
use super::layout::{lang_of, page, pairs, param, title_in};
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// Mongolia's time: release times are entered and shown in it.
pub(super) const ULAANBAATAR: i32 = 8 * 3600;

pub(super) fn private(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A problem shown on the page, in place of the usual JSON.
pub(super) fn refused(status: StatusCode, why: impl std::fmt::Display) -> Response {
    (status, format!("{why}")).into_response()
}

/// The answer to a form: back to `to`, or the refusal in words (a failure on our side keeps
/// the API's answer, which logs it and shows nothing of it).
pub(super) fn done(result: ApiResult<()>, to: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(to).into_response(),
        Err(e) if e.code.status() == StatusCode::INTERNAL_SERVER_ERROR => e.into_response(),
        Err(e) => refused(e.code.status(), e.detail),
    }
}

/// The dashboard: each organization the publisher may publish for, its datasets, and each
/// table's draft and scheduled release.
pub(super) async fn dashboard(
    State(state): State<AppState>,
    signed_in: SignedIn,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let user = &signed_in.user;
    let drafts = catalog.drafts()?;
    // The recent jobs of the publisher's organizations' datasets: uploads and their failures.
    let mine = |dataset: &str| catalog.dataset(dataset).is_ok_and(|d| user.may_publish(&d.meta.organization));
    let jobs: Vec<_> =
        catalog.recent_jobs(500)?.into_iter().filter(|j| j.harvest.is_none() && mine(&j.dataset)).take(20).collect();
    let mut sections = Vec::new();
    for o in catalog.organizations()?.into_iter().filter(|o| user.may_publish(&o.id)) {
        let mut datasets = catalog.datasets_of(&o.id)?;
        datasets.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
        sections.push((o, datasets));
    }
    let body = html! {
        section.account {
            h1 { (t(lang, "dashboard")) }
            p { (t(lang, "signed_in_as")) " " strong { (user.name) } " (" (user.id) ")" }
            form method="post" action="/logout" {
                (signed_in.csrf_field())
                button type="submit" { (t(lang, "sign_out")) }
            }
            @if !jobs.is_empty() {
                h2 { (t(lang, "recent_jobs")) }
                table.jobs {
                    thead { tr { th { (t(lang, "updated")) } th { (t(lang, "dataset")) } th { (t(lang, "status")) } th { (t(lang, "reason")) } } }
                    tbody {
                        @for j in &jobs {
                            tr.failed[j.status == opendata_datasets::JobStatus::Failed] {
                                td { (local_time(j.created_at)) }
                                td { a href=(format!("/publish/datasets/{}?job={}", j.dataset, j.id)) { (j.dataset) "/" (j.table) } }
                                td {
                                    (format!("{:?}", j.status).to_lowercase())
                                    @if let Some(v) = j.version { " v" (v) }
                                }
                                td { (j.error.as_deref().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            @if sections.is_empty() { p { (t(lang, "no_organizations")) } }
            @else { p { a.button href="/publish/new" { (t(lang, "new_dataset")) } } }
            @if user.site_admin {
                p { a href="/publish/organizations" { (t(lang, "organizations_admin")) } " · " a href="/publish/glossary" { (t(lang, "glossary")) } }
            }
            @for (o, datasets) in &sections {
                h2 { (title_in(lang, &o.title, o.title_en.as_deref())) }
                @if user.administers(&o.id) {
                    p { a href=(format!("/publish/organizations/{}", o.id)) { (t(lang, "manage_organization")) } }
                }
                table {
                    thead { tr { th { (t(lang, "dataset")) } th { (t(lang, "tables")) } th { (t(lang, "drafts")) } th { (t(lang, "updated")) } } }
                    tbody {
                        @for d in datasets {
                            tr {
                                td { a href=(format!("/publish/datasets/{}", d.meta.id)) { (title_in(lang, &d.meta.title, d.meta.title_en.as_deref())) } }
                                td { (d.tables.len()) }
                                td {
                                    @for draft in drafts.iter().filter(|x| x.new.dataset.id == d.meta.id) {
                                        (draft.new.table) " v" (draft.number)
                                        @if let Some(at) = draft.publish_at { " → " (local_time(at)) }
                                        br;
                                    }
                                }
                                td { (d.updated_at.format("%Y-%m-%d")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(private(page(lang, "/publish", &pairs, t(lang, "dashboard"), html! {}, body)))
}

pub(super) fn local_time(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::seconds(ULAANBAATAR.into())).format("%Y-%m-%d %H:%M").to_string()
}

pub(super) async fn new_form(signed_in: SignedIn, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    private(page(lang, "/publish/new", &pairs, t(lang, "new_dataset"), html! {}, dataset_form(lang, &signed_in, None)))
}

fn dataset_form(lang: Lang, signed_in: &SignedIn, error: Option<&str>) -> Markup {
    let orgs: Vec<&String> = signed_in.user.memberships.iter().map(|(o, _)| o).collect();
    html! {
        section.account {
            h1 { (t(lang, "new_dataset")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/publish/new" {
                (signed_in.csrf_field())
                label for="organization" { (t(lang, "organization")) }
                @if signed_in.user.site_admin {
                    input #organization name="organization" required;
                } @else {
                    select #organization name="organization" required {
                        @for o in &orgs { option value=(o) { (o) } }
                    }
                }
                label for="id" { (t(lang, "dataset_id")) }
                input #id name="id" required pattern="[a-z0-9][a-z0-9-]*" autocomplete="off";
                (meta_fields(lang, None))
                button type="submit" { (t(lang, "create")) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct NewDatasetForm {
    csrf: String,
    organization: String,
    id: String,
    title: String,
    #[serde(default)]
    title_en: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    tags: String,
    license: Option<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    temporal: String,
    #[serde(default)]
    spatial: String,
    /// A checkbox: present only when ticked.
    private: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<NewDatasetForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let new = crate::api::write::NewDataset {
        id: form.id.trim().to_owned(),
        organization: form.organization.trim().to_owned(),
        title: form.title.trim().to_owned(),
        title_en: some(form.title_en),
        description: form.description.trim().to_owned(),
        description_en: some(form.description_en),
        tags: form.tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
        license: form.license,
        source: some(form.source),
        frequency: some(form.frequency),
        temporal: some(form.temporal),
        spatial: some(form.spatial),
        private: form.private.is_some(),
    };
    match crate::api::write::create(&state, &signed_in.user, new) {
        Ok(id) => Redirect::to(&format!("/publish/datasets/{id}")).into_response(),
        Err(e) => {
            let body = dataset_form(Lang::Mn, &signed_in, Some(&e.detail));
            let mut res = private(page(Lang::Mn, "/publish/new", &[], t(Lang::Mn, "new_dataset"), html! {}, body));
            *res.status_mut() = e.code.status();
            res
        }
    }
}

/// A dataset as its publisher manages it: its tables, each one's draft with the draft's
/// report, and the upload form.
pub(super) async fn manage(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let d = catalog.dataset(&id)?;
    if !signed_in.user.may_publish(&d.meta.organization) {
        return Err(ApiError::new(
            Code::Forbidden,
            format!("`{}` may not publish for `{}`", signed_in.user.id, d.meta.organization),
        ));
    }
    let mut drafts = Vec::new();
    for draft in catalog.drafts()?.into_iter().filter(|x| x.new.dataset.id == id) {
        drafts.push(super::review::Review::of(&state, draft).await?);
    }
    let job = param(&pairs, "job").and_then(|j| catalog.job(j).ok()).filter(|j| j.dataset == id);
    let running = job.as_ref().is_some_and(|j| {
        matches!(j.status, opendata_datasets::JobStatus::Queued | opendata_datasets::JobStatus::Running)
    });
    let head = html! {
        // While the ingest runs, the page looks again every 2 s; it needs no script for that.
        @if running { meta http-equiv="refresh" content="2"; }
    };
    let body = html! {
        section.account {
            p { a href="/publish" { "← " (t(lang, "dashboard")) } }
            h1 { (title_in(lang, &d.meta.title, d.meta.title_en.as_deref())) }
            p { a href=(format!("/datasets/{id}")) { (t(lang, "public_page")) } }
            @if let Some(j) = &job {
                p.job role="status" {
                    (t(lang, "job")) " " (j.id) ": " strong { (format!("{:?}", j.status).to_lowercase()) }
                    @if let Some(e) = &j.error { " — " (e) }
                }
            }
            (metadata_form(lang, &signed_in, &d))
            (tables_section(lang, &signed_in, &d))
            @for review in &drafts { (super::review::draft_section(lang, &signed_in, &id, review)) }
            (super::upload::form(lang, &signed_in, &id, &d))
            (super::documents::section(lang, &signed_in, &d))
            @if signed_in.user.administers(&d.meta.organization) {
                h2 { (t(lang, "manage_organization")) }
                p { a href=(format!("/publish/organizations/{}", d.meta.organization)) { (t(lang, "members")) } }
                (super::admin::withdraw_form(lang, &signed_in, &id))
            }
        }
        script { (PreEscaped(super::upload::SCRIPT)) }
    };
    Ok(private(page(lang, &format!("/publish/datasets/{id}"), &pairs, &d.meta.title, head, body)))
}

/// The metadata fields of the new-dataset and edit forms, filled from `m` when editing.
fn meta_fields(lang: Lang, m: Option<&DatasetMeta>) -> Markup {
    let text = |f: fn(&DatasetMeta) -> Option<&str>| m.and_then(f).unwrap_or_default().to_owned();
    let license = m.map_or("CC-BY-4.0", |m| m.license.as_str());
    let frequency = m.and_then(|m| m.frequency.as_deref()).unwrap_or_default();
    html! {
        label for="title" { (t(lang, "title_mn")) }
        input #title name="title" required lang="mn" value=(text(|m| Some(m.title.as_str())));
        label for="title_en" { (t(lang, "title_en")) }
        input #title_en name="title_en" lang="en" value=(text(|m| m.title_en.as_deref()));
        label for="description" { (t(lang, "description_mn")) }
        textarea #description name="description" lang="mn" { (text(|m| Some(m.description.as_str()))) }
        label for="description_en" { (t(lang, "description_en")) }
        textarea #description_en name="description_en" lang="en" { (text(|m| m.description_en.as_deref())) }
        label for="tags" { (t(lang, "tags")) }
        input #tags name="tags" value=(m.map(|m| m.tags.join(", ")).unwrap_or_default()) aria-describedby="tags-hint";
        small #tags-hint { (t(lang, "tags_hint")) }
        label for="license" { (t(lang, "license")) }
        select #license name="license" {
            @for l in opendata_datasets::license::known() { option value=(l) selected[l == license] { (l) } }
            @if !opendata_datasets::license::known().any(|l| l == license) { option value=(license) selected { (license) } }
        }
        label for="source" { (t(lang, "source")) }
        input #source name="source" type="url" value=(text(|m| m.source.as_deref()));
        label for="frequency" { (t(lang, "frequency")) }
        select #frequency name="frequency" {
            option value="" selected[frequency.is_empty()] { "—" }
            @for f in opendata_datasets::FREQUENCIES { option value=(f) selected[f == frequency] { (t(lang, f)) } }
        }
        label for="temporal" { (t(lang, "temporal")) }
        input #temporal name="temporal" value=(text(|m| m.temporal.as_deref())) placeholder="2010–2024";
        label for="spatial" { (t(lang, "spatial")) }
        input #spatial name="spatial" value=(text(|m| m.spatial.as_deref()));
        label.check for="private" {
            input #private type="checkbox" name="private" value="true" checked[m.is_some_and(|m| m.private)];
            " " (t(lang, "private_dataset"))
        }
    }
}

/// The dataset's metadata, in both languages, to edit.
fn metadata_form(lang: Lang, signed_in: &SignedIn, d: &Dataset) -> Markup {
    let m = &d.meta;
    html! {
        details {
            summary { (t(lang, "edit_metadata")) }
            form method="post" action=(format!("/publish/datasets/{}/edit", m.id)) {
                (signed_in.csrf_field())
                (meta_fields(lang, Some(m)))
                button type="submit" { (t(lang, "save")) }
            }
        }
    }
}

/// Each table, with its column dictionary to edit: labels and descriptions readers see.
fn tables_section(lang: Lang, signed_in: &SignedIn, d: &Dataset) -> Markup {
    html! {
        h2 { (t(lang, "tables")) }
        @if d.tables.is_empty() { p { (t(lang, "no_tables")) } }
        @for table in &d.tables {
            h3 { (table.title) " (" (table.name) "): v" (table.latest().version) ", " (table.latest().row_count) " " (t(lang, "rows")) }
            details {
                summary { (t(lang, "edit_columns")) }
                form method="post" action=(format!("/publish/datasets/{}/tables/{}/columns", d.meta.id, table.name)) {
                    (signed_in.csrf_field())
                    table {
                        thead { tr { th { (t(lang, "column")) } th { (t(lang, "type")) } th { (t(lang, "label")) } th { (t(lang, "column_description")) } } }
                        tbody {
                            @for (i, c) in table.latest().columns.iter().enumerate() {
                                tr {
                                    td { (c.name) }
                                    td {
                                        label.visually-hidden for=(format!("type-{}-{i}", table.name)) { (t(lang, "type")) " " (c.name) }
                                        select id=(format!("type-{}-{i}", table.name)) name=(format!("type.{}", c.name)) {
                                            option value="" { (c.kind) }
                                            @for kind in super::review::TYPES.iter().filter(|k| **k != c.kind.as_str()) { option value=(kind) { "→ " (kind) } }
                                        }
                                    }
                                    td {
                                        label.visually-hidden for=(format!("label-{}-{i}", table.name)) { (t(lang, "label")) " " (c.name) }
                                        input id=(format!("label-{}-{i}", table.name)) name=(format!("label.{}", c.name)) value=(c.label);
                                    }
                                    td {
                                        label.visually-hidden for=(format!("description-{}-{i}", table.name)) { (t(lang, "column_description")) " " (c.name) }
                                        input id=(format!("description-{}-{i}", table.name)) name=(format!("description.{}", c.name)) value=(c.description);
                                    }
                                }
                            }
                        }
                    }
                    button type="submit" { (t(lang, "save")) }
                }
            }
        }
    }
}

/// Saves the metadata form.
pub(super) async fn edit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| form.iter().find(|(name, _)| name == k).map(|(_, v)| v.trim().to_owned());
    if !field("csrf").is_some_and(|c| signed_in.sent(&c)) {
        return forged();
    }
    let optional = |k: &str| field(k).filter(|v| !v.is_empty());
    let patch = crate::api::write::DatasetPatch {
        organization: None,
        title: field("title"),
        title_en: optional("title_en"),
        description: field("description"),
        description_en: optional("description_en"),
        tags: field("tags").map(|t| t.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()),
        license: optional("license"),
        source: optional("source"),
        // Empty clears these; absent from the form (never) would keep them.
        frequency: field("frequency"),
        temporal: field("temporal"),
        spatial: field("spatial"),
        private: Some(field("private").is_some()),
    };
    match crate::api::write::update(&state, &signed_in.user, &id, patch, "from the publisher's page".into()) {
        Ok(()) => Redirect::to(&format!("/publish/datasets/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Saves a table's column dictionary form (`label.<column>`, `description.<column>`).
pub(super) async fn edit_columns(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, table)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    if !signed_in.sent(csrf) {
        return forged();
    }
    let mut edits: std::collections::BTreeMap<String, opendata_datasets::ColumnOverride> = Default::default();
    for (key, value) in &form {
        let text = value.trim().to_owned();
        if let Some(name) = key.strip_prefix("label.") {
            edits.entry(name.to_owned()).or_default().label = Some(text);
        } else if let Some(name) = key.strip_prefix("description.") {
            edits.entry(name.to_owned()).or_default().description = Some(text);
        } else if let (Some(name), false) = (key.strip_prefix("type."), text.is_empty()) {
            // A type applies from the next upload or reading, as in the API.
            match serde_json::from_value(serde_json::Value::String(text.clone())) {
                Ok(kind) => edits.entry(name.to_owned()).or_default().kind = Some(kind),
                Err(_) => return refused(StatusCode::BAD_REQUEST, format!("`{text}` is not a column type")),
            }
        }
    }
    match crate::api::write::edit_columns_of(
        &state,
        &signed_in.user,
        &id,
        &table,
        &edits,
        "from the publisher's page".into(),
    ) {
        Ok(()) => Redirect::to(&format!("/publish/datasets/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}
