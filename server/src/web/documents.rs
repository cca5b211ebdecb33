//! A dataset's documents and links on its publisher's page: the list, each with a remove
//! button, and the form that adds a file (streamed like an upload) or a link.

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use opendata_datasets::Dataset;

use super::account::{CsrfForm, SignedIn, forged};
use super::i18n::{Lang, t};
use super::layout::human_bytes;
use super::publish::done;
use crate::api::resources::{self, ResourceForm};
use crate::state::AppState;

/// The documents section of the manage page.
pub(super) fn section(lang: Lang, signed_in: &SignedIn, d: &Dataset) -> Markup {
    let id = &d.meta.id;
    html! {
        h2 #documents { (t(lang, "documents")) }
        @if d.resources.is_empty() { p { (t(lang, "no_documents")) } }
        ul.documents {
            @for r in &d.resources {
                li {
                    a href=(resources::url_of("", r)) { (r.title) }
                    " · " (r.format)
                    @if let Some(size) = r.size { " · " (human_bytes(size)) }
                    form.inline method="post" action=(format!("/publish/datasets/{id}/documents/{}/remove", r.id)) {
                        (signed_in.csrf_field())
                        button type="submit" aria-label=(format!("{} {}", t(lang, "remove"), r.title)) { (t(lang, "remove")) }
                    }
                }
            }
        }
        details {
            summary { (t(lang, "add_document")) }
            form method="post" action=(format!("/publish/datasets/{id}/documents")) enctype="multipart/form-data" {
                (signed_in.csrf_field())
                label for="document-title" { (t(lang, "document_title")) }
                input #document-title name="title" maxlength="300";
                label for="document-description" { (t(lang, "document_description")) }
                textarea #document-description name="description" {}
                label for="document-file" { (t(lang, "document_file")) }
                input #document-file type="file" name="file";
                label for="document-url" { (t(lang, "document_or_link")) }
                input #document-url type="url" name="url" placeholder="https://";
                button type="submit" { (t(lang, "add_document")) }
            }
        }
    }
}

/// Receives the add form: a file within `limits.max_upload_bytes`, or a link.
pub(super) async fn add(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    form: Multipart,
) -> Response {
    let form = match ResourceForm::read(&state, form, |csrf| signed_in.sent(csrf)).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let added = resources::add(&state, &signed_in.user, &id, form).await.map(|_| ());
    done(added, &format!("/publish/datasets/{id}#documents"))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, rid)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    done(resources::remove(&state, &signed_in.user, &id, &rid), &format!("/publish/datasets/{id}#documents"))
}
