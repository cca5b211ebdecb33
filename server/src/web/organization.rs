//! `/organizations/{id}`: a publisher and its datasets.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use maud::html;

use super::layout::{card, lang_of, page, pairs, title_in};
use crate::error::ApiResult;
use crate::state::AppState;

pub(super) async fn organization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: crate::reader::Reader,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let org = catalog.organization(&id)?;
    let datasets = reader.only_visible(catalog.datasets_of(&id)?);
    let title = title_in(lang, &org.title, org.title_en.as_deref()).to_owned();
    let body = html! {
        h1 { (title) }
        @if !org.description.is_empty() { p { (org.description) } }
        ul.cards { @for d in &datasets { li { (card(lang, d, &pairs)) } } }
    };
    Ok(page(lang, &format!("/organizations/{id}"), &pairs, &title, html! {}, body))
}
