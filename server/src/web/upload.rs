//! Uploading a file from the publisher's page: the form, the script that adds drag and
//! drop and a progress bar to it, and the handler that streams the file to disk and queues
//! its ingest as a draft.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use opendata_datasets::Dataset;

use super::account::{SignedIn, forged};
use super::i18n::{Lang, t};
use super::publish::refused;
use crate::api::uploads;
use crate::error::ApiError;
use crate::state::AppState;

/// The upload form of the manage page.
pub(super) fn form(lang: Lang, signed_in: &SignedIn, id: &str, d: &Dataset) -> Markup {
    let table = d.tables.first().map_or("main", |t| t.name.as_str());
    html! {
        h2 { (t(lang, "upload")) }
        form #upload method="post" action=(format!("/publish/datasets/{id}/upload")) enctype="multipart/form-data" {
            (signed_in.csrf_field())
            label for="table" { (t(lang, "table_name")) }
            input #table name="table" value=(table) required pattern="[a-z0-9][a-z0-9_-]*";
            div.drop {
                label for="file" { (t(lang, "choose_file")) }
                input #file type="file" name="file" required;
            }
            progress #progress max="100" value="0" hidden {}
            button type="submit" { (t(lang, "upload_draft")) }
        }
    }
}

/// Drag and drop onto the form, and a progress bar while the file goes up (XHR reports
/// upload progress; fetch does not). Without it the form posts as usual.
pub(super) const SCRIPT: &str = r#"(function(){var f=document.getElementById('upload');if(!f||!window.FormData)return;var i=document.getElementById('file'),p=document.getElementById('progress');f.addEventListener('dragover',function(e){e.preventDefault();f.classList.add('over')});f.addEventListener('dragleave',function(){f.classList.remove('over')});f.addEventListener('drop',function(e){e.preventDefault();f.classList.remove('over');if(e.dataTransfer.files.length){i.files=e.dataTransfer.files}});f.addEventListener('submit',function(e){e.preventDefault();var x=new XMLHttpRequest();x.open('POST',f.action);p.hidden=false;x.upload.onprogress=function(ev){if(ev.lengthComputable){p.value=Math.round(100*ev.loaded/ev.total)}};x.onload=function(){window.location=x.responseURL};x.send(new FormData(f))})})();"#;

/// Receives the upload form: the file streams to disk (within the upload limits), and its
/// ingest is queued as a draft of the table.
pub(super) async fn upload(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    mut form: Multipart,
) -> Response {
    let d = match state.store.catalog().dataset(&id) {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !signed_in.user.may_publish(&d.meta.organization) {
        return refused(StatusCode::FORBIDDEN, "you may not publish for this organization");
    }
    let (mut csrf, mut table, mut received) = (String::new(), String::new(), None);
    // The fields come in the form's order: the token and the table before the file.
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return refused(StatusCode::BAD_REQUEST, format!("the form broke off: {e}")),
        };
        match field.name() {
            Some("csrf") => csrf = uploads::bounded_text(field, 1024).await,
            Some("table") => table = uploads::bounded_text(field, 1024).await.trim().to_owned(),
            Some("file") if signed_in.sent(&csrf) => {
                let name = field.file_name().unwrap_or("upload").to_owned();
                let staged = state.store.stage("upload");
                match uploads::receive(&state, field, staged.path()).await {
                    Ok(size) => received = Some((staged, name, size)),
                    Err(e) => return e.into_response(),
                }
            }
            _ => {}
        }
    }
    if !signed_in.sent(&csrf) {
        return forged();
    }
    if let Err(e) = opendata_datasets::ident::validate_id(&table) {
        return refused(StatusCode::BAD_REQUEST, format!("table name: {e}"));
    }
    let Some((staged, file_name, size)) = received else {
        return refused(StatusCode::BAD_REQUEST, "choose a file to upload");
    };
    // The body may have taken minutes: the membership is checked again.
    if let Err(why) = crate::auth::user_still_allowed(state.store.catalog(), &signed_in.user.id, &id) {
        return refused(StatusCode::FORBIDDEN, why);
    }
    let upload = uploads::Upload { dataset: id.clone(), table, file_name, table_title: None, draft: true };
    match uploads::queue(&state, &signed_in.user, None, staged, size, upload) {
        Ok(job) => Redirect::to(&format!("/publish/datasets/{id}?job={}", job.id)).into_response(),
        Err(e) => e.into_response(),
    }
}
