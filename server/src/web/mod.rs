//! The portal in a browser: server-rendered pages, Mongolian by default and English with
//! `?lang=en`, built on the same catalog, index and rows API as the HTTP API. Every asset
//! is served from here: a page makes no request to another host.

pub(crate) mod account;
mod admin;
mod assets;
mod chart;
mod dataset;
mod documents;
mod embed;
mod glossary;
mod home;
mod i18n;
mod layout;
mod map;
mod organization;
mod preview;
mod publish;
mod review;
mod search;
mod upload;
mod usage;

use axum::Router;
use axum::routing::{get, post};

pub use i18n::Lang;

use crate::state::AppState;

pub(super) fn css_path() -> &'static str {
    assets::path("portal.css")
}

/// The pages. `/datasets/{id}` also answers `{id}.jsonld`, `.ttl` and `.rdf` (DCAT-AP).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/datasets", get(search::search))
        .route("/datasets/{file}", get(dataset::dataset))
        .route("/datasets/{id}/chart.svg", get(chart::chart_svg))
        .route("/datasets/{id}/embed", get(embed::embed))
        .route("/organizations/{id}", get(organization::organization))
        .route("/popular", get(usage::popular))
        .route("/assets/{file}", get(assets::asset))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/publish", get(publish::dashboard))
        .route("/publish/new", get(publish::new_form).post(publish::create))
        .route("/publish/datasets/{id}", get(publish::manage))
        // The file streams to disk within `limits.max_upload_bytes` (see `uploads::receive`),
        // and the form's other fields are read short: no whole-body limit on top.
        .route("/publish/datasets/{id}/upload", post(upload::upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/publish/datasets/{id}/edit", post(publish::edit))
        .route("/publish/datasets/{id}/tables/{table}/columns", post(publish::edit_columns))
        .route("/publish/datasets/{id}/tables/{table}/publish", post(review::release))
        .route("/publish/datasets/{id}/tables/{table}/reread", post(review::reread))
        .route(
            "/publish/datasets/{id}/documents",
            post(documents::add).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/publish/datasets/{id}/documents/{resource}/remove", post(documents::remove))
        .route("/publish/datasets/{id}/withdraw", post(admin::withdraw))
        .route("/publish/datasets/{id}/restore", post(admin::restore))
        .route("/publish/organizations", get(admin::organizations).post(admin::create_organization))
        .route("/publish/glossary", get(glossary::edit).post(glossary::save))
        .route("/publish/glossary/reset", post(glossary::reset))
        .route("/publish/organizations/{org}", get(admin::organization))
        .route("/publish/organizations/{org}/edit", post(admin::edit_organization))
        .route("/publish/organizations/{org}/members", post(admin::set_member))
        .route("/publish/organizations/{org}/members/{user}/remove", post(admin::remove_member))
}
