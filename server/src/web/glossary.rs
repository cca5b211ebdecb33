//! `/publish/glossary`: the search glossary, edited by site admins in the browser as the
//! API's `PUT /api/v1/glossary` does (the same checks, the same catalog row).

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::account::{SignedIn, forged};
use super::i18n::t;
use super::layout::{lang_of, page, pairs};
use super::publish::{done, private};
use crate::error::ApiResult;
use crate::state::AppState;

pub(super) async fn edit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    crate::api::glossary::site_admin(&signed_in.user)?;
    let glossary = crate::api::glossary::current(&state)?;
    let body = html! {
        section.account {
            p { a href="/publish" { "← " (t(lang, "dashboard")) } }
            h1 { (t(lang, "glossary")) }
            p { (t(lang, "glossary_help")) }
            p.meta {
                @if let (Some(by), Some(at)) = (&glossary.updated_by, &glossary.updated_at) {
                    (t(lang, "glossary_edited")) " " (by) ", " (super::publish::local_time(*at))
                } @else {
                    (t(lang, "glossary_shipped"))
                }
                " · " (glossary.terms) " " (t(lang, "glossary_terms"))
            }
            form method="post" action="/publish/glossary" {
                (signed_in.csrf_field())
                label for="glossary-text" { "TOML" }
                textarea #glossary-text name="text" rows="30" spellcheck="false" { (glossary.text) }
                button type="submit" { (t(lang, "save")) }
            }
            @if glossary.source == "edited" {
                form method="post" action="/publish/glossary/reset" {
                    (signed_in.csrf_field())
                    button type="submit" { (t(lang, "glossary_reset")) }
                }
            }
        }
    };
    Ok(private(page(lang, "/publish/glossary", &pairs, t(lang, "glossary"), html! {}, body)))
}

#[derive(Debug, Deserialize)]
pub(super) struct GlossaryForm {
    csrf: String,
    text: String,
}

pub(super) async fn save(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<GlossaryForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    // Browsers send a textarea's lines with CRLF.
    let text = form.text.replace("\r\n", "\n");
    done(crate::api::glossary::save(&state, &signed_in.user, &text).map(|_| ()), "/publish/glossary")
}

pub(super) async fn reset(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<super::account::CsrfForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    done(crate::api::glossary::reset(&state, &signed_in.user), "/publish/glossary")
}
