//! The search glossary (`search-index/glossary.toml`): read by anyone, replaced by site
//! admins. Search and answers use it on every node: saved in the catalog, each node takes
//! it up within [`crate::follow`]'s next look.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use opendata_datasets::{SavedGlossary, User};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Forbidden, Problem, RateLimited, Unauthorized};
use crate::state::AppState;

/// The largest glossary, in bytes.
pub const MAX_GLOSSARY_BYTES: usize = 256 * 1024;

/// The glossary in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlossaryState {
    /// Its TOML text: `[[entry]]` tables of `mn = [...]` and `en = [...]` forms.
    #[schema(example = "[[entry]]\nmn = [\"тэмээ\"]\nen = [\"camel\", \"camels\"]\n")]
    pub text: String,
    /// `shipped` (the portal's own) or `edited` (saved by a site admin).
    #[schema(example = "edited")]
    pub source: String,
    /// Analyzed terms it joins to others.
    #[schema(example = 180)]
    pub terms: usize,
    pub updated_at: Option<DateTime<Utc>>,
    #[schema(example = "admin")]
    pub updated_by: Option<String>,
}

fn state_of(saved: Option<SavedGlossary>, glossary: &search_index::Glossary) -> GlossaryState {
    match saved {
        Some(s) => GlossaryState {
            text: s.text,
            source: "edited".into(),
            terms: glossary.len(),
            updated_at: Some(s.updated_at),
            updated_by: Some(s.updated_by),
        },
        None => GlossaryState {
            text: search_index::glossary::BUILTIN.to_owned(),
            source: "shipped".into(),
            terms: glossary.len(),
            updated_at: None,
            updated_by: None,
        },
    }
}

/// Read the search glossary.
///
/// The bilingual vocabulary that joins Mongolian and English words for the same thing in
/// search and answers.
#[utoipa::path(
    get, path = "/api/v1/glossary", tag = "catalog",
    responses(
        (status = 200, description = "The glossary in use", body = GlossaryState),
        (status = 429, response = RateLimited),
    )
)]
pub async fn get_glossary(State(state): State<AppState>) -> ApiResult<Json<GlossaryState>> {
    Ok(Json(current(&state)?))
}

/// Refuses unless `user` is a site admin who may act.
pub(crate) fn site_admin(user: &User) -> ApiResult<()> {
    if user.site_admin && !user.disabled {
        Ok(())
    } else {
        Err(ApiError::new(Code::Forbidden, "the glossary is edited by site administrators"))
    }
}

/// Replace the search glossary.
///
/// The body is the whole glossary as TOML text (as `GET` gives it). It is checked before it is
/// saved: a glossary that does not parse is refused with `invalid_glossary` and the one in
/// use stays. Site administrators only.
#[utoipa::path(
    put, path = "/api/v1/glossary", tag = "publish", security(("bearer" = [])),
    request_body(content = String, content_type = "text/plain",
        example = "[[entry]]\nmn = [\"тэмээ\"]\nen = [\"camel\", \"camels\"]\n"),
    responses(
        (status = 200, description = "Saved and in use", body = GlossaryState),
        (status = 400, description = "Not a glossary (`invalid_glossary`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, description = "Larger than 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn put_glossary(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Json<GlossaryState>> {
    site_admin(&caller.0)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(Code::InvalidGlossary, "the glossary is not UTF-8 text"))?;
    Ok(Json(save(&state, &caller.0, text)?))
}

/// Checks and saves `text` as the glossary `user` (a site admin) edited, and uses it.
pub(crate) fn save(state: &AppState, user: &User, text: &str) -> ApiResult<GlossaryState> {
    site_admin(user)?;
    if text.len() > MAX_GLOSSARY_BYTES {
        return Err(ApiError::new(Code::PayloadTooLarge, format!("a glossary is at most {MAX_GLOSSARY_BYTES} bytes")));
    }
    let glossary =
        search_index::Glossary::parse(text).map_err(|e| ApiError::new(Code::InvalidGlossary, e.to_string()))?;
    let saved = SavedGlossary { text: text.to_owned(), updated_at: Utc::now(), updated_by: user.id.clone() };
    state.store.catalog().set_glossary(Some(&saved))?;
    state.index.set_glossary(glossary);
    Ok(state_of(Some(saved), &state.index.glossary()))
}

/// Forgets the glossary a site admin saved: the shipped one serves again.
pub(crate) fn reset(state: &AppState, user: &User) -> ApiResult<()> {
    site_admin(user)?;
    state.store.catalog().set_glossary(None)?;
    state.index.set_glossary(search_index::Glossary::builtin());
    Ok(())
}

/// The glossary in use, for anyone.
pub(crate) fn current(state: &AppState) -> ApiResult<GlossaryState> {
    let saved = state.store.catalog().glossary()?;
    Ok(state_of(saved, &state.index.glossary()))
}

/// Go back to the shipped glossary.
///
/// Forgets the saved one. Site administrators only.
#[utoipa::path(
    delete, path = "/api/v1/glossary", tag = "publish", security(("bearer" = [])),
    responses(
        (status = 204, description = "The shipped glossary is in use"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
    )
)]
pub async fn reset_glossary(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    reset(&state, &caller.0)?;
    Ok(StatusCode::NO_CONTENT)
}
