//! Catalog routes: search with facets, dataset metadata, organizations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::*;
use super::{ApiQuery, base_url};
use crate::error::{ApiError, ApiResult, Code, Gone, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// The deepest search page: (page - 1) × per_page stays within the index's u32 offsets.
const MAX_PAGE: u64 = 42_949_672;

/// Catalog search parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text in Mongolian (Cyrillic or Latin) or English over titles, tags, columns,
    /// descriptions, organizations and the values in the data. Every word must match (a
    /// word that matches nothing is ignored); words of 5+ letters forgive a typo, 9+ two;
    /// the last word also matches as a prefix; `"quoted phrase"`; `-word` excludes.
    #[param(example = "хүн ам аймаг")]
    pub q: Option<String>,
    /// The reader's language, `mn` (default) or `en`: its titles and descriptions weigh more.
    #[param(example = "en", pattern = "^(mn|en)?$")]
    pub lang: Option<String>,
    /// Only datasets whose data covers this year or later.
    #[param(example = 2015)]
    pub year_from: Option<i32>,
    /// Only datasets whose data covers this year or earlier.
    #[param(example = 2024)]
    pub year_to: Option<i32>,
    /// Only datasets of this organization id.
    #[param(example = "nso")]
    pub organization: Option<String>,
    /// Only datasets with this tag.
    #[param(example = "хүн ам")]
    pub tag: Option<String>,
    /// Only datasets with a table ingested from this format (`csv`, ...).
    #[param(example = "csv")]
    pub format: Option<String>,
    /// Only datasets under this license.
    #[param(example = "CC-BY-4.0")]
    pub license: Option<String>,
    /// `relevance` (default), `updated` (newest first), `title`, or `popular` (most used
    /// over the last `usage.popular_days`: views, downloads and API calls).
    #[param(example = "updated", pattern = "^(relevance|updated|title|popular)?$")]
    pub sort: Option<String>,
    /// Page number, from 1 (at most 42,949,672: the search reads no further).
    #[param(example = 1, minimum = 1, maximum = 42949672)]
    pub page: Option<u64>,
    /// Results per page: default 20, at most 100.
    #[param(example = 20, minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

/// Search the catalog.
///
/// Full-text search with filters and facet counts. Without `q`, lists every dataset.
#[utoipa::path(
    get, path = "/api/v1/datasets", tag = "catalog",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of matching datasets with facet counts", body = SearchResponse),
        (status = 400, description = "A parameter is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn search_datasets(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    let limits = &state.config.limits;
    let page = p.page.unwrap_or(1);
    let per_page = p.per_page.unwrap_or(limits.default_per_page as u64);
    if page == 0 || page > MAX_PAGE {
        return Err(ApiError::new(Code::InvalidParameter, format!("`page` is from 1 to {MAX_PAGE}")));
    }
    if per_page == 0 || per_page > limits.max_per_page as u64 {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("`per_page` must be between 1 and {}", limits.max_per_page),
        ));
    }
    let sort = match p.sort.as_deref().filter(|s| !s.is_empty()) {
        None | Some("relevance") => search_index::Sort::Relevance,
        Some("updated") => search_index::Sort::Updated,
        Some("title") => search_index::Sort::Title,
        Some("popular") => search_index::Sort::Popular,
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("unknown sort `{other}`; use relevance, updated, title or popular"),
            ));
        }
    };
    let lang = lang_of(p.lang.as_deref())?;
    // Past the index's size a page is empty anyway; beyond u32 it would overflow.
    let offset = (page - 1)
        .checked_mul(per_page)
        .filter(|&o| o <= u64::from(u32::MAX))
        .ok_or_else(|| ApiError::new(Code::InvalidParameter, "`page` is too large"))? as usize;
    let query = search_index::SearchQuery {
        q: p.q,
        lang,
        year_from: p.year_from,
        year_to: p.year_to,
        organization: p.organization,
        tag: p.tag,
        format: p.format,
        license: p.license,
        sort,
        offset,
        limit: per_page as usize,
        audience: reader.audience(),
        popularity: Default::default(),
        retrieval: Default::default(),
    };
    let found = run_search(&state, query).await?;
    let results = found.hits.into_iter().map(SearchResult::from).collect();
    Ok(Json(SearchResponse { total: found.total as u64, page, per_page, results, facets: found.facets.into() }))
}

/// The reader's language from a `lang` parameter: `mn` (the default) or `en`.
pub(crate) fn lang_of(lang: Option<&str>) -> ApiResult<search_index::Lang> {
    match lang.filter(|s| !s.is_empty()) {
        None | Some("mn") => Ok(search_index::Lang::Mn),
        Some("en") => Ok(search_index::Lang::En),
        Some(other) => Err(ApiError::new(Code::InvalidParameter, format!("unknown lang `{other}`; use mn or en"))),
    }
}

/// Runs a catalog search within `limits.max_search_words`, on a blocking thread: a search
/// takes milliseconds of CPU, which the async threads owe to other requests.
pub(crate) async fn run_search(
    state: &AppState,
    mut query: search_index::SearchQuery,
) -> ApiResult<search_index::SearchResults> {
    bounded_words(state, query.q.as_deref().unwrap_or_default())?;
    if query.sort == search_index::Sort::Popular {
        query.popularity = state.usage.popularity();
    }
    let index = state.clone();
    tokio::task::spawn_blocking(move || index.index.search(&query))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// Refuses a search text of more words than `limits.max_search_words`, or one so long that
/// counting its words would be the expensive part.
pub(crate) fn bounded_words(state: &AppState, q: &str) -> ApiResult<()> {
    let max = state.config.limits.max_search_words;
    // No word of a real search is 100 bytes long.
    let too_long = q.len() > max.saturating_mul(100);
    if too_long || search_index::clause_count(q) > max {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("a search may have at most {max} words, phrases and exclusions (limits.max_search_words)"),
        ));
    }
    Ok(())
}

/// Suggest parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What has been typed so far, in either script or English.
    #[param(example = "хүн а")]
    pub q: String,
    /// At most this many titles and terms: default 5, at most 20.
    #[param(example = 5, minimum = 1, maximum = 20)]
    pub limit: Option<usize>,
}

/// Suggest completions.
///
/// For a search box: dataset titles matching what has been typed (the last word as a
/// prefix), and words from titles and tags that complete the last word.
#[utoipa::path(
    get, path = "/api/v1/suggest", tag = "catalog",
    params(SuggestParams),
    responses(
        (status = 200, description = "Titles and terms", body = SuggestResponse,
         example = json!({"titles": [{"id": "population-by-aimag", "title": "Хүн амын тоо, аймгаар", "title_en": "Population by aimag"}], "terms": ["хүн"]})),
        (status = 400, description = "A parameter is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn suggest(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(p): ApiQuery<SuggestParams>,
) -> ApiResult<Json<SuggestResponse>> {
    let limit = p.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(ApiError::new(Code::InvalidParameter, "`limit` must be between 1 and 20"));
    }
    bounded_words(&state, &p.q)?;
    let (index, audience) = (state.clone(), reader.audience());
    let found = tokio::task::spawn_blocking(move || index.index.suggest(&p.q, limit, &audience))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(SuggestResponse {
        titles: found
            .titles
            .into_iter()
            .map(|t| SuggestedTitle { id: t.id, title: t.title, title_en: t.title_en })
            .collect(),
        terms: found.terms,
    }))
}

/// Get a dataset's metadata.
///
/// Metadata, tables with their columns (stable name, published label, type, statistics),
/// versions and download links.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Dataset id", example = "population-by-aimag")),
    responses(
        (status = 200, description = "The dataset", body = DatasetDetail),
        (status = 404, description = "No such dataset", body = Problem, content_type = "application/problem+json",
         example = json!({"type": "urn:opendata:problem:dataset_not_found", "title": "Dataset not found", "status": 404, "detail": "no dataset `nope`", "code": "dataset_not_found"})),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn get_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Json<DatasetDetail>> {
    let dataset = reader.dataset(state.store.catalog(), &id)?;
    Ok(Json(DatasetDetail::new(&dataset, &base_url(&state, &headers))))
}

/// List organizations.
#[utoipa::path(
    get, path = "/api/v1/organizations", tag = "catalog",
    responses(
        (status = 200, description = "Every publishing organization", body = OrganizationList),
        (status = 429, response = RateLimited),
    )
)]
pub async fn list_organizations(State(state): State<AppState>, reader: Reader) -> ApiResult<Json<OrganizationList>> {
    let catalog = state.store.catalog();
    let datasets = reader.datasets(catalog)?;
    let results: Vec<_> = catalog
        .organizations()?
        .iter()
        .map(|o| OrganizationInfo::new(o, datasets.iter().filter(|d| d.meta.organization == o.id).count() as u64))
        .collect();
    Ok(Json(OrganizationList { total: results.len() as u64, results }))
}

/// Get an organization with its datasets.
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Organization id", example = "nso")),
    responses(
        (status = 200, description = "The organization and its datasets", body = OrganizationDetail),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn get_organization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
) -> ApiResult<Json<OrganizationDetail>> {
    let catalog = state.store.catalog();
    let org = catalog.organization(&id)?;
    let datasets: Vec<DatasetSummary> =
        reader.only_visible(catalog.datasets_of(&id)?).iter().map(|d| DatasetSummary::from(d.as_ref())).collect();
    Ok(Json(OrganizationDetail { organization: OrganizationInfo::new(&org, datasets.len() as u64), datasets }))
}

/// Get the quality report of one version.
///
/// What the ingest read, kept, dropped and rejected, with row numbers, and why each column
/// has its type. A draft's report is there too, for those who may publish for its
/// organization (with their token); to anyone else a draft does not exist.
#[utoipa::path(
    get, path = "/api/v1/datasets/{id}/tables/{table}/versions/{version}/report", tag = "catalog",
    params(
        ("id" = String, Path, description = "Dataset id", example = "population-by-aimag"),
        ("table" = String, Path, description = "Table name", example = "main"),
        ("version" = u32, Path, description = "Version number", example = 1),
    ),
    responses(
        (status = 200, description = "The report", body = VersionReport),
        (status = 404, description = "No such dataset, table or version", body = Problem, content_type = "application/problem+json"),
        (status = 410, response = Gone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn get_report(
    State(state): State<AppState>,
    Path((id, table, version)): Path<(String, String, String)>,
    reader: Reader,
) -> ApiResult<Json<VersionReport>> {
    let catalog = state.store.catalog();
    let dataset = reader.dataset(catalog, &id)?;
    let version = super::version_number(&version)?;
    if let Some(draft) = catalog.draft(&id, &table)?.filter(|d| d.number == version)
        && reader.0.as_ref().is_some_and(|u| u.may_publish(&dataset.meta.organization))
    {
        return Ok(Json(VersionReport { dataset: id, table, version, report: draft.new.report }));
    }
    let t = dataset.table(&table)?;
    t.version(Some(version))?;
    let report = catalog.report(&id, &table, version)?;
    Ok(Json(VersionReport { dataset: id, table, version, report }))
}
