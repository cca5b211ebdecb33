//! Cross-origin requests to the API, so that a newsroom's page or a student's web app on
//! another site can read the data from the browser.
//!
//! Reads (`GET`, `HEAD`, and the SQL endpoint's `POST`, which only queries) are open to the
//! origins of `cors.read_origins` (any, by default). Writes are open only to the origins of
//! `cors.write_origins` (none, by default). Credentials are never allowed: a page on another
//! site reads what an anonymous reader sees, unless its own script sends a token, so a
//! reader's session cookie cannot be used by a site they happen to visit.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// The request headers a cross-origin script may send.
const ALLOW_HEADERS: &str =
    "accept, accept-language, authorization, content-type, if-none-match, if-modified-since, range";
/// The response headers a cross-origin script may read, beyond the CORS-safelisted ones.
const EXPOSE_HEADERS: &str = "content-disposition, content-range, etag, link, location, retry-after";
const READ_METHODS: &str = "GET, HEAD";
const WRITE_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

/// Answers preflights under `/api/` with 204 and adds the CORS headers to the API's
/// answers, errors included (a script should see a 429 as a 429, not as a network error).
pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let policy = &state.config.cors;
    if req.method() == Method::OPTIONS
        && let Some(method) = req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::OPTIONS);
        let reading = is_read(&method, req.uri().path());
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        if allow(h, policy, &origin, reading) {
            let methods = if reading { READ_METHODS } else { WRITE_METHODS };
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(policy.max_age_secs));
        }
        return res;
    }
    let reading = is_read(req.method(), req.uri().path());
    if !reading && !same_origin(&origin, req.headers()) && !listed(&origin, &policy.write_origins) {
        // A form or script on another site may send a write without a preflight; it is
        // refused before anything runs, not only hidden from the sender.
        return ApiError::new(
            Code::OriginNotAllowed,
            "writes from pages of this origin are not allowed (`cors.write_origins`)",
        )
        .into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if allow(h, policy, &origin, reading) {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    }
    res
}

/// Whether a request only reads: the SQL endpoint takes long queries by `POST`.
fn is_read(method: &Method, path: &str) -> bool {
    method == Method::GET || method == Method::HEAD || (method == Method::POST && path == "/api/v1/sql")
}

/// Adds `Access-Control-Allow-Origin` when `origin` may make the request, and answers
/// whether it may.
fn allow(h: &mut HeaderMap, policy: &crate::config::Cors, origin: &HeaderValue, reading: bool) -> bool {
    let origins = if reading { &policy.read_origins } else { &policy.write_origins };
    if reading && origins.iter().any(|o| o == "*") {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return true;
    }
    // The answer depends on the origin: caches must keep one per origin.
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    let listed = listed(origin, origins);
    if listed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    listed
}

fn listed(origin: &HeaderValue, origins: &[String]) -> bool {
    origin.to_str().is_ok_and(|o| origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(o)))
}

/// Whether `origin` is the portal itself (`scheme://host[:port]` naming the `Host` the
/// request came to): its own pages' requests carry an `Origin` too.
fn same_origin(origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, a)| a);
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}
