//! Who reads. Reading needs no account, but a private dataset is seen only by its
//! organization's members (and site admins), on every surface: pages, API, search and its
//! facets, CKAN, DCAT, SQL. Every reading route takes a [`Reader`] and asks it, rather
//! than the catalog directly, for datasets.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use std::sync::Arc;

use opendata_datasets::{Catalog, Dataset, DatasetMeta, Error, User};
use search_index::Audience;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The reader of a request: anonymous, or a publisher known by a bearer token (API clients)
/// or a session cookie (the browser).
#[derive(Debug, Clone, Default)]
pub struct Reader(pub Option<User>);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Reader::of(&parts.headers, state)
    }
}

impl Reader {
    /// A token that is sent must be good: a client that thinks it reads as a member is told
    /// it does not, rather than silently shown less.
    pub fn of(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        if headers.contains_key(header::AUTHORIZATION) {
            return Ok(Reader(Some(Caller::of(headers, state)?.0)));
        }
        Ok(Reader(crate::web::account::session_user(headers, state)?))
    }

    /// Whether the reader may see a dataset at all.
    pub fn sees(&self, meta: &DatasetMeta) -> bool {
        meta.visible_to(self.0.as_ref())
    }

    /// Dataset `id` as the catalog has it, or not found when it is private to an
    /// organization the reader is not in: the same answer as for an id never used, so
    /// private ids do not leak.
    pub fn dataset(&self, catalog: &dyn Catalog, id: &str) -> opendata_datasets::Result<Arc<Dataset>> {
        let hidden = || Error::DatasetNotFound(id.to_owned());
        match catalog.dataset(id) {
            Ok(dataset) if self.sees(&dataset.meta) => Ok(dataset),
            Ok(_) => Err(hidden()),
            // Withdrawn while private: its reason is its organization's business too.
            Err(gone @ Error::DatasetWithdrawn { .. }) => match catalog.withdrawal(id)? {
                Some(w) if w.private && !self.0.as_ref().is_some_and(|u| u.may_publish(&w.organization)) => {
                    Err(hidden())
                }
                _ => Err(gone),
            },
            Err(e) => Err(e),
        }
    }

    /// The datasets of `all` that the reader may see.
    pub fn only_visible(&self, all: Vec<Arc<Dataset>>) -> Vec<Arc<Dataset>> {
        all.into_iter().filter(|d| self.sees(&d.meta)).collect()
    }

    /// Every dataset the reader may see.
    pub fn datasets(&self, catalog: &dyn Catalog) -> opendata_datasets::Result<Vec<Arc<Dataset>>> {
        Ok(self.only_visible(catalog.datasets()?))
    }

    /// What a search by this reader may find.
    pub fn audience(&self) -> Audience {
        match &self.0 {
            None => Audience::Public,
            Some(u) if u.disabled => Audience::Public,
            Some(u) if u.site_admin => Audience::Everyone,
            Some(u) => Audience::Members(u.memberships.iter().map(|(org, _)| org.clone()).collect()),
        }
    }
}
