//! Reviewing a draft on the dataset's page: what the ingest read (rows, rejected values,
//! column types, warnings), what changed against the current version and what it would
//! break; reading the kept file again with corrections; and releasing it now or at a set
//! time (Ulaanbaatar time).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};
use opendata_datasets::Draft;
use serde::Deserialize;

use super::account::{SignedIn, forged};
use super::i18n::{Lang, t};
use super::publish::{ULAANBAATAR, local_time, refused};
use crate::api::uploads;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Rows of a draft shown for review.
const HEAD_ROWS: usize = 10;

/// A draft with what its review shows beside its report: what publishing it would break,
/// and its first rows.
pub(super) struct Review {
    draft: Draft,
    breaking: Vec<String>,
    /// Or why they could not be read.
    head: Result<Vec<serde_json::Map<String, serde_json::Value>>, String>,
}

impl Review {
    pub(super) async fn of(state: &AppState, draft: Draft) -> ApiResult<Self> {
        let breaking = state.store.breaking_changes(&draft)?;
        let head = crate::api::rows::head_of(state, &draft.as_version(), HEAD_ROWS).await.map_err(|e| e.detail);
        Ok(Self { draft, breaking, head })
    }
}

pub(super) fn draft_section(lang: Lang, signed_in: &SignedIn, id: &str, review: &Review) -> Markup {
    let Review { draft, breaking, head } = review;
    let report = &draft.new.report;
    let confirm = html! {
        @if !breaking.is_empty() {
            label { input type="checkbox" name="confirm" value="yes" required; " " (t(lang, "confirm_breaking")) }
        }
    };
    let action = format!("/publish/datasets/{id}/tables/{}/publish", draft.new.table);
    html! {
        section.draft {
            h2 { (t(lang, "draft")) ": " (draft.new.table) " v" (draft.number) }
            @if let Some(at) = draft.publish_at { p { strong { (t(lang, "scheduled_for")) " " (local_time(at)) " (UTC+8)" } } }
            p { (draft.new.source.file_name) ": " (draft.new.row_count) " " (t(lang, "rows")) ", " (report.rows_read) " " (t(lang, "rows_read")) ", " (report.rows_rejected) " " (t(lang, "rows_rejected")) }
            @if let Some(c) = &draft.new.changes {
                p { (t(lang, "changes")) ": +" (c.rows_added) " / −" (c.rows_removed) }
            }
            table.dictionary {
                thead { tr { th { (t(lang, "column")) } th { (t(lang, "type")) } } }
                tbody { @for c in &draft.new.columns { tr { td { (c.name) } td { (format!("{:?}", c.kind).to_lowercase()) } } } }
            }
            @match head {
                Ok(rows) => {
                    div.scroll tabindex="0" role="region" aria-label=(format!("{}: {}", draft.new.table, t(lang, "preview"))) {
                        table.rows {
                            caption { (t(lang, "preview")) " (" (rows.len()) " / " (draft.new.row_count) ")" }
                            thead { tr { @for c in &draft.new.columns { th scope="col" { (c.label) } } } }
                            tbody {
                                @for row in rows {
                                    tr { @for c in &draft.new.columns { td { (cell(row.get(&c.name))) } } }
                                }
                            }
                        }
                    }
                }
                Err(why) => p.error role="alert" { (why) },
            }
            @if !report.warnings.is_empty() {
                ul.warnings { @for w in &report.warnings { li { (w) } } }
            }
            @if !breaking.is_empty() {
                div.breaking role="alert" {
                    p { strong { (t(lang, "breaking")) } }
                    ul { @for b in breaking { li { (b) } } }
                }
            }
            (reread_form(lang, signed_in, id, draft))
            form method="post" action=(action) {
                (signed_in.csrf_field())
                input type="hidden" name="version" value=(draft.number);
                (confirm)
                button type="submit" { (t(lang, "publish_now")) }
            }
            form method="post" action=(action) {
                (signed_in.csrf_field())
                input type="hidden" name="version" value=(draft.number);
                label for=(format!("at-{}", draft.new.table)) { (t(lang, "publish_at")) " (UTC+8)" }
                input id=(format!("at-{}", draft.new.table)) type="datetime-local" name="publish_at" required;
                (confirm)
                button type="submit" { (t(lang, "schedule")) }
            }
        }
    }
}

/// A value as a cell shows it: text as written, nothing for null.
fn cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Corrections to what the ingest guessed, read again from the kept file.
fn reread_form(lang: Lang, signed_in: &SignedIn, id: &str, draft: &Draft) -> Markup {
    let table = &draft.new.table;
    let field = |name: &str| format!("{name}-{table}");
    html! {
        details {
            summary { (t(lang, "read_again")) }
            form method="post" action=(format!("/publish/datasets/{id}/tables/{table}/reread")) {
                (signed_in.csrf_field())
                input type="hidden" name="version" value=(draft.number);
                label for=(field("encoding")) { (t(lang, "encoding")) }
                select id=(field("encoding")) name="encoding" {
                    option value="" { (t(lang, "detect")) }
                    @for e in ["utf-8", "windows-1251", "utf-16le", "utf-16be"] { option value=(e) { (e) } }
                }
                label for=(field("delimiter")) { (t(lang, "delimiter")) }
                select id=(field("delimiter")) name="delimiter" {
                    option value="" { (t(lang, "detect")) }
                    @for (v, shown) in [(",", ","), (";", ";"), ("tab", "Tab"), ("|", "|")] { option value=(v) { (shown) } }
                }
                label for=(field("header_row")) { (t(lang, "header_row")) }
                input id=(field("header_row")) name="header_row" type="number" min="0" max="1000";
                label for=(field("sheet")) { (t(lang, "sheet")) }
                input id=(field("sheet")) name="sheet";
                label for=(field("null_markers")) { (t(lang, "null_markers")) }
                input id=(field("null_markers")) name="null_markers" placeholder="-999, н/б" aria-describedby=(field("null_markers-hint"));
                small id=(field("null_markers-hint")) { (t(lang, "null_markers_hint")) }
                fieldset {
                    legend { (t(lang, "column_types")) }
                    @for (i, c) in draft.new.columns.iter().enumerate() {
                        label for=(format!("type-{table}-{i}")) { (c.label) " (" code { (c.name) } ")" }
                        select id=(format!("type-{table}-{i}")) name=(format!("type.{}", c.name)) {
                            option value="" { (t(lang, "keep_type")) " (" (c.kind.as_str()) ")" }
                            @for kind in TYPES { option value=(kind) { (kind) } }
                        }
                    }
                }
                button type="submit" { (t(lang, "read_again")) }
            }
        }
    }
}

/// The types a publisher may set a column to.
pub(super) const TYPES: [&str; 6] = ["string", "integer", "float", "boolean", "date", "datetime"];

/// Queues the draft's file to be read again with the corrections given.
pub(super) async fn reread(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, table)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| form.iter().find(|(name, _)| name == k).map(|(_, v)| v.trim().to_owned());
    if !field("csrf").is_some_and(|c| signed_in.sent(&c)) {
        return forged();
    }
    let Some(version) = field("version").and_then(|v| v.parse::<u32>().ok()) else {
        return refused(StatusCode::BAD_REQUEST, "the form names no draft");
    };
    let catalog = state.store.catalog();
    let allowed = catalog.dataset(&id).map(|d| signed_in.user.may_publish(&d.meta.organization));
    match allowed {
        Ok(true) => {}
        Ok(false) => return refused(StatusCode::FORBIDDEN, "you may not publish for this organization"),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let some = |k: &str| field(k).filter(|s| !s.is_empty());
    let header_row = match some("header_row").map(|h| h.parse::<usize>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return refused(StatusCode::BAD_REQUEST, "the header row is a number"),
    };
    let mut types = std::collections::BTreeMap::new();
    for (key, value) in &form {
        if let (Some(column), false) = (key.strip_prefix("type."), value.is_empty()) {
            match serde_json::from_value(serde_json::Value::String(value.clone())) {
                Ok(kind) => types.insert(column.to_owned(), kind),
                Err(_) => return refused(StatusCode::BAD_REQUEST, format!("`{value}` is not a column type")),
            };
        }
    }
    let fixes = crate::api::drafts::ReadAgain {
        encoding: some("encoding"),
        delimiter: some("delimiter"),
        header_row,
        sheet: some("sheet"),
        types,
        null_markers: some("null_markers").map(|m| m.split(',').map(str::to_owned).collect()).unwrap_or_default(),
    };
    let queued = crate::api::drafts::read_fixes(fixes).and_then(|fixes| {
        let draft = catalog.draft(&id, &table)?.filter(|d| d.number == version);
        let draft = draft
            .ok_or_else(|| opendata_datasets::Error::DraftNotFound(format!("{id}/{table} has no draft {version}")))?;
        uploads::reread(&state, &signed_in.user, None, &draft, fixes)
    });
    match queued {
        Ok(job) => Redirect::to(&format!("/publish/datasets/{id}?job={}", job.id)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PublishForm {
    csrf: String,
    version: u32,
    /// The publisher ticked the box that accepts the breaking changes listed.
    confirm: Option<String>,
    /// `YYYY-MM-DDTHH:MM`, Ulaanbaatar time, from a `datetime-local` input.
    publish_at: Option<String>,
}

/// Publishes a draft now, or schedules it.
pub(super) async fn release(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, table)): Path<(String, String)>,
    Form(form): Form<PublishForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let allowed = state.store.catalog().dataset(&id).map(|d| signed_in.user.may_publish(&d.meta.organization));
    match allowed {
        Ok(true) => {}
        Ok(false) => return refused(StatusCode::FORBIDDEN, "you may not publish for this organization"),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let at = match form.publish_at.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
            Ok(local) => Some(DateTime::<Utc>::from_naive_utc_and_offset(
                local - chrono::Duration::seconds(ULAANBAATAR.into()),
                Utc,
            )),
            Err(_) => return refused(StatusCode::BAD_REQUEST, "the release time is YYYY-MM-DDTHH:MM"),
        },
    };
    let store = state.store.clone();
    let (i, tb, n, confirmed) = (id.clone(), table.clone(), form.version, form.confirm.is_some());
    let done = tokio::task::spawn_blocking(move || match at {
        Some(at) if at > Utc::now() => store.schedule_draft(&i, &tb, n, at, confirmed).map(|_| ()),
        _ => store.publish_draft(&i, &tb, n, confirmed).map(|_| ()),
    })
    .await;
    match done {
        Ok(Ok(())) => {
            let action = if at.is_some() { "version.schedule" } else { "version.publish" };
            let entry = opendata_datasets::AuditEntry {
                at: Utc::now(),
                user: signed_in.user.id.clone(),
                action: action.into(),
                target: format!("{id}/{table}"),
                detail: format!("version {}", form.version),
            };
            if let Err(e) = state.store.catalog().record(&entry) {
                tracing::warn!(%e, "the audit log missed a release");
            }
            state.maintain.notify_one();
            if let Err(e) = crate::publish::index_dataset(&state.store, &state.index, &id) {
                tracing::warn!(%e, "published, but not yet searchable here");
            }
            Redirect::to(&format!("/publish/datasets/{id}")).into_response()
        }
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
