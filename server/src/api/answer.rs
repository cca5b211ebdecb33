//! Questions answered with a value and its evidence: `GET /api/v1/answer`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiQuery;
use crate::answer::Answers;
use crate::error::{ApiError, ApiResult, Code, Problem, RateLimited};
use crate::reader::Reader;
use crate::state::AppState;

/// The longest question, in characters.
pub const MAX_QUESTION: usize = 300;

/// A question.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnswerParams {
    /// The question, in Mongolian or English.
    #[param(example = "Ховд аймгийн 2020 оны тэмээний тоо")]
    pub q: Option<String>,
    /// The language of the answer's sentence and titles: `mn` (default) or `en`.
    #[param(example = "en")]
    pub lang: Option<String>,
    /// Most answers to return: 1 to 10, default 5.
    #[param(example = 3, minimum = 1, maximum = 10)]
    pub limit: Option<usize>,
}

/// Answer a question with a value.
///
/// Finds the datasets the question is about (by words and by meaning), links its words to
/// the values their tables hold (aimags, species, indicators, in Cyrillic, Latin or English),
/// reads its year, quarter or month, and picks the number column it asks for. Each answer
/// names the dataset, table, filters, column, value and version, and `url`: the rows API
/// call, pinned to that version, whose one row holds the value. Every value comes from that
/// call. When several rows fit the question equally, each is an answer and `ambiguous` is
/// true; when nothing fits, `answers` is empty: values are never made up.
#[utoipa::path(
    get, path = "/api/v1/answer", tag = "catalog",
    params(AnswerParams),
    responses(
        (status = 200, description = "Answers, best first", body = Answers,
         example = json!({"question": "how many camels were there in Khovd in 2020?", "ambiguous": false, "answers": [{
             "dataset": "livestock-census", "dataset_title": "Livestock census by species", "table": "livestock",
             "filters": {"year": "2020", "aimag": "Ховд", "species": "Тэмээ", "species_en": "camel"},
             "column": "head_count", "column_label": "head_count", "value": 31874, "version": 1,
             "url": "/api/v1/datasets/livestock-census/tables/livestock/rows?version=1&year=2020&aimag=%D0%A5%D0%BE%D0%B2%D0%B4&species=%D0%A2%D1%8D%D0%BC%D1%8D%D1%8D&species_en=camel",
             "sentence": "head_count (Ховд, Тэмээ, camel, 2020): 31874, according to \"Livestock census by species\", version 1.",
             "row": {"year": 2020, "aimag_code": "084", "aimag": "Ховд", "species": "Тэмээ", "species_en": "camel", "head_count": 31874}
         }]})),
        (status = 400, description = "No question, one too long, or a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn answer(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(p): ApiQuery<AnswerParams>,
) -> ApiResult<Json<Answers>> {
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let q = q.ok_or_else(|| ApiError::new(Code::InvalidParameter, "`q` (the question) is required"))?;
    if q.chars().count() > MAX_QUESTION {
        return Err(ApiError::new(Code::InvalidParameter, format!("a question is at most {MAX_QUESTION} characters")));
    }
    let lang = super::catalog::lang_of(p.lang.as_deref())?;
    let limit = p.limit.unwrap_or(5);
    if !(1..=10).contains(&limit) {
        return Err(ApiError::new(Code::InvalidParameter, "`limit` is from 1 to 10"));
    }
    Ok(Json(crate::answer::answer(&state, &reader, q, lang, limit, search_index::Retrieval::Fused).await?))
}
