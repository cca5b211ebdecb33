//! `/login` and `/logout`: a publisher signs in with a password. Each form carries a CSRF
//! token: the sign-in form's in a cookie
//! of its own (there is no session yet), every later form's in the session.

use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use opendata_datasets::{Session, User};
use serde::Deserialize;

use super::i18n::{Lang, t};
use super::layout::{lang_of, page, pairs};
use crate::accounts::{self, COOKIE, LOGIN_COOKIE, Refused};
use crate::client::Client;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Sign-ins hashing at once: each takes ~19 MiB and tens of milliseconds of a core, so a
/// flood of them waits here instead of taking every core from the readers.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The value of cookie `name` in a request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite`, and `Secure` when the portal is served over
/// HTTPS (its `public_url` says so).
fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, same_site: &str, max_age: i64) -> HeaderValue {
    let secure = state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let value = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The user of a request's session cookie, if it carries a live session.
pub(crate) fn session_user(headers: &HeaderMap, state: &AppState) -> Result<Option<User>, ApiError> {
    let Some(secret) = cookie(headers, COOKIE) else { return Ok(None) };
    Ok(accounts::resume(state.store.catalog(), secret)?.map(|(_, user)| user))
}

/// Where to go after signing in: a path on this site, never another site's URL.
fn local_next(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("/publish")
}

/// A signed-in publisher, from the session cookie. Pages that need one send everyone
/// else to `/login`, and come back after.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub(crate) user: User,
    pub(crate) session: Session,
    secret: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts.uri.path_and_query().map_or("/publish", |p| p.as_str());
            let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish();
            Redirect::to(&format!("/login?{query}")).into_response()
        };
        let Some(secret) = cookie(&parts.headers, COOKIE).map(str::to_owned) else { return Err(to_login()) };
        let catalog = state.store.catalog();
        match accounts::resume(catalog, &secret) {
            Ok(Some((session, user))) => Ok(SignedIn { user, session, secret }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

impl SignedIn {
    /// Whether a form's CSRF token is this session's: a form another site made the browser
    /// send is not.
    pub(crate) fn sent(&self, csrf: &str) -> bool {
        accounts::same(csrf, &self.session.csrf)
    }

    /// The hidden field every form of the session carries.
    pub(crate) fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }
}

pub(super) async fn login_form(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let next = super::layout::param(&pairs, "next");
    login_page(&state, lang, next, None, StatusCode::OK)
}

/// The sign-in form, with a fresh CSRF token in a cookie and in the form.
fn login_page(
    state: &AppState,
    lang: Lang,
    next: Option<&str>,
    error: Option<String>,
    status: StatusCode,
) -> ApiResult<Response> {
    let token = accounts::secret(16).map_err(|e| ApiError::internal(e.to_string()))?;
    let body = html! {
        section.account {
            h1 { (t(lang, "sign_in")) }
            @if let Some(e) = &error { p.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(local_next(next));
                @if let Some(l) = lang.param() { input type="hidden" name="lang" value=(l); }
                label for="user" { (t(lang, "user_id")) }
                input #user name="user" autocomplete="username" required autofocus;
                label for="password" { (t(lang, "password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { (t(lang, "sign_in")) }
            }
        }
    };
    let mut res = page(lang, "/login", &[], t(lang, "sign_in"), html! {}, body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::SET_COOKIE, set_cookie(state, LOGIN_COOKIE, &token, "/login", "Strict", 3600));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    user: String,
    password: String,
    csrf: String,
    next: Option<String>,
    lang: Option<String>,
}

pub(super) async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> ApiResult<Response> {
    let lang = Lang::parse(form.lang.as_deref());
    let next = form.next.as_deref();
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| accounts::same(c, &form.csrf)) {
        let why = t(lang, "form_expired").to_owned();
        return login_page(&state, lang, next, Some(why), StatusCode::FORBIDDEN);
    }
    let user = form.user.trim().to_owned();
    if let Some(wait) = state.logins.wait(&user, client, Instant::now()) {
        let mut res =
            login_page(&state, lang, next, Some(Refused::Throttled(wait).to_string()), StatusCode::TOO_MANY_REQUESTS)?;
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return Ok(res);
    }
    let outcome = {
        let Ok(permit) = tokio::time::timeout(Duration::from_secs(10), HASHING.acquire()).await else {
            return Err(ApiError::new(crate::error::Code::Overloaded, "too many sign-ins at once; try again"));
        };
        let (s, u, p) = (state.clone(), user.clone(), form.password);
        let checked =
            tokio::task::spawn_blocking(move || s.authenticator.authenticate(s.store.catalog(), &u, &p)).await;
        drop(permit);
        checked.map_err(|e| ApiError::internal(format!("the password check failed: {e}")))?
    };
    match outcome {
        Ok(u) => {
            state.logins.succeeded(&u.id);
            let (_, secret) =
                accounts::start(state.store.catalog(), &u.id).map_err(|e| ApiError::internal(e.to_string()))?;
            let mut res = Redirect::to(local_next(next)).into_response();
            let max_age = accounts::SESSION_HOURS * 3600;
            res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, COOKIE, &secret, "/", "Lax", max_age));
            res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", "/login", "Strict", 0));
            Ok(res)
        }
        Err(Refused::Catalog(e)) => Err(e.into()),
        Err(refused) => {
            state.logins.failed(&user, client, Instant::now());
            login_page(&state, lang, next, Some(refused.to_string()), StatusCode::UNAUTHORIZED)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn logout(State(state): State<AppState>, signed_in: SignedIn, Form(form): Form<CsrfForm>) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    if let Err(e) = state.store.catalog().end_session(&accounts::session_hash(&signed_in.secret)) {
        return ApiError::from(e).into_response();
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().insert(header::SET_COOKIE, set_cookie(&state, COOKIE, "", "/", "Lax", 0));
    res
}

/// The answer to a form whose CSRF token is wrong.
pub(crate) fn forged() -> Response {
    (StatusCode::FORBIDDEN, "The form has expired: reload the page and send it again.").into_response()
}
