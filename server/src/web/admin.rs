//! What admins do in the browser. An organization's admin manages its members and their
//! roles, withdraws its datasets and restores them; a site admin also adds organizations.
//! Every change is audited with the change itself, as the API's are.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use maud::{Markup, html};
use opendata_datasets::{Change, Organization, Role};
use serde::Deserialize;

use super::account::{CsrfForm, SignedIn, forged};
use super::i18n::{Lang, t};
use super::layout::{lang_of, page, pairs, title_in};
use super::publish::{done, local_time, private};
use crate::api::withdrawals;
use crate::api::write::audited;
use crate::auth::may_administer;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// `/publish/organizations/{org}`: members and their roles, and withdrawn datasets.
pub(super) async fn organization(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    may_administer(&signed_in.user, &org)?;
    let catalog = state.store.catalog();
    let o = catalog.organization(&org)?;
    let members = catalog.members(&org)?;
    let mut withdrawn = Vec::new();
    for d in catalog.withdrawn_datasets()?.into_iter().filter(|d| d.meta.organization == org) {
        withdrawn.push((catalog.withdrawal(&d.meta.id)?, d));
    }
    let csrf = signed_in.csrf_field();
    let body = html! {
        section.account {
            p { a href="/publish" { "← " (t(lang, "dashboard")) } }
            h1 { (title_in(lang, &o.title, o.title_en.as_deref())) }
            h2 { (t(lang, "members")) }
            table {
                thead { tr { th { (t(lang, "user_id")) } th { (t(lang, "role")) } th { span.visually-hidden { (t(lang, "remove")) } } } }
                tbody {
                    @for (user, role) in &members {
                        tr {
                            td { (user) }
                            td {
                                form.inline method="post" action=(format!("/publish/organizations/{org}/members")) {
                                    (csrf)
                                    input type="hidden" name="user" value=(user);
                                    (role_select(lang, &format!("role-{user}"), Some(*role), user))
                                    button type="submit" { (t(lang, "save")) }
                                }
                            }
                            td {
                                form.inline method="post" action=(format!("/publish/organizations/{org}/members/{user}/remove")) {
                                    (csrf)
                                    button type="submit" aria-label=(format!("{} {user}", t(lang, "remove"))) { (t(lang, "remove")) }
                                }
                            }
                        }
                    }
                }
            }
            h3 { (t(lang, "add_member")) }
            form method="post" action=(format!("/publish/organizations/{org}/members")) {
                (csrf)
                label for="member-user" { (t(lang, "user_id")) }
                input #member-user name="user" required autocomplete="off";
                (role_select(lang, "member-role", None, ""))
                button type="submit" { (t(lang, "add_member")) }
            }
            details {
                summary { (t(lang, "edit_organization")) }
                form method="post" action=(format!("/publish/organizations/{org}/edit")) {
                    (csrf)
                    (organization_fields(lang, Some(&o)))
                    button type="submit" { (t(lang, "save")) }
                }
            }
            h2 { (t(lang, "withdrawn_datasets")) }
            @if withdrawn.is_empty() { p { "—" } }
            ul {
                @for (w, d) in &withdrawn {
                    li {
                        strong { (title_in(lang, &d.meta.title, d.meta.title_en.as_deref())) } " (" (d.meta.id) ")"
                        @if let Some(w) = w { " — " (local_time(w.at)) ", " (w.by) ": " (w.reason) }
                        form.inline method="post" action=(format!("/publish/datasets/{}/restore", d.meta.id)) {
                            (csrf)
                            button type="submit" { (t(lang, "restore")) }
                        }
                    }
                }
            }
        }
    };
    Ok(private(page(lang, &format!("/publish/organizations/{org}"), &pairs, &o.title, html! {}, body)))
}

/// A labelled role picker; `user` names the member for screen readers.
fn role_select(lang: Lang, id: &str, current: Option<Role>, user: &str) -> Markup {
    html! {
        label.visually-hidden[current.is_some()] for=(id) { (t(lang, "role")) " " (user) }
        select id=(id) name="role" {
            @for role in [Role::Editor, Role::Admin] {
                option value=(role.as_str()) selected[current == Some(role)] { (t(lang, role.as_str())) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct MemberForm {
    csrf: String,
    user: String,
    role: String,
}

/// Adds a member, or changes a member's role.
pub(super) async fn set_member(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(org): Path<String>,
    Form(form): Form<MemberForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let result = (|| {
        may_administer(&signed_in.user, &org)?;
        let role: Role = form.role.parse().map_err(|e: String| ApiError::new(Code::InvalidParameter, e))?;
        let user = state.store.catalog().user(form.user.trim()).map_err(|_| {
            ApiError::new(
                Code::InvalidParameter,
                format!("no user `{}`: `opendata user create` adds one", form.user.trim()),
            )
        })?;
        let change = Change::Membership { user: &user.id, organization: &org, role: Some(role) };
        audited(&state, &signed_in.user, change, "member.set", &format!("{org}/{}", user.id), role.as_str().into())
    })();
    done(result, &format!("/publish/organizations/{org}"))
}

/// Ends a membership.
pub(super) async fn remove_member(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((org, user)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let result = may_administer(&signed_in.user, &org).and_then(|()| {
        let change = Change::Membership { user: &user, organization: &org, role: None };
        audited(&state, &signed_in.user, change, "member.remove", &format!("{org}/{user}"), String::new())
    });
    done(result, &format!("/publish/organizations/{org}"))
}

#[derive(Debug, Deserialize)]
pub(super) struct WithdrawForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn withdraw(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<WithdrawForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    done(withdrawals::withdraw(&state, &signed_in.user, &id, &form.reason), "/publish")
}

pub(super) async fn restore(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    done(withdrawals::restore(&state, &signed_in.user, &id), &format!("/publish/datasets/{id}"))
}

/// The withdraw form of the manage page, for the organization's admins.
pub(super) fn withdraw_form(lang: Lang, signed_in: &SignedIn, id: &str) -> Markup {
    html! {
        details {
            summary { (t(lang, "withdraw")) }
            form method="post" action=(format!("/publish/datasets/{id}/withdraw")) {
                (signed_in.csrf_field())
                label for="withdraw-reason" { (t(lang, "withdraw_reason")) }
                input #withdraw-reason name="reason" required maxlength="1000";
                button type="submit" { (t(lang, "withdraw")) }
            }
        }
    }
}

/// `/publish/organizations`, for site admins: every organization, and a form to add one.
pub(super) async fn organizations(
    State(state): State<AppState>,
    signed_in: SignedIn,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    if !signed_in.user.site_admin || signed_in.user.disabled {
        return Err(ApiError::new(Code::Forbidden, "only a site admin manages organizations"));
    }
    let orgs = state.store.catalog().organizations()?;
    let body = html! {
        section.account {
            p { a href="/publish" { "← " (t(lang, "dashboard")) } }
            h1 { (t(lang, "organizations_admin")) }
            ul {
                @for o in &orgs {
                    li { a href=(format!("/publish/organizations/{}", o.id)) { (title_in(lang, &o.title, o.title_en.as_deref())) } " (" (o.id) ")" }
                }
            }
            h2 { (t(lang, "new_organization")) }
            form method="post" action="/publish/organizations" {
                (signed_in.csrf_field())
                label for="org-id" { (t(lang, "organization_id")) }
                input #org-id name="id" required pattern="[a-z0-9][a-z0-9-]*" autocomplete="off";
                (organization_fields(lang, None))
                button type="submit" { (t(lang, "create")) }
            }
        }
    };
    Ok(private(page(lang, "/publish/organizations", &pairs, t(lang, "organizations_admin"), html! {}, body)))
}

/// The names, description and web site of an organization, to fill in or edit.
fn organization_fields(lang: Lang, o: Option<&Organization>) -> Markup {
    html! {
        label for="org-title" { (t(lang, "organization_name_mn")) }
        input #org-title name="title" required lang="mn" value=(o.map_or("", |o| o.title.as_str()));
        label for="org-title-en" { (t(lang, "organization_name_en")) }
        input #org-title-en name="title_en" lang="en" value=(o.and_then(|o| o.title_en.as_deref()).unwrap_or_default());
        label for="org-description" { (t(lang, "description_mn")) }
        textarea #org-description name="description" { (o.map_or("", |o| o.description.as_str())) }
        label for="org-url" { (t(lang, "website")) }
        input #org-url name="url" type="url" value=(o.and_then(|o| o.url.as_deref()).unwrap_or_default());
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct OrganizationForm {
    csrf: String,
    /// Only when adding one: an organization's id never changes.
    #[serde(default)]
    id: String,
    title: String,
    #[serde(default)]
    title_en: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    url: String,
}

impl OrganizationForm {
    /// The organization `id` as the form describes it; a 400 without a name.
    fn organization(&self, id: &str) -> ApiResult<Organization> {
        if self.title.trim().is_empty() {
            return Err(ApiError::new(Code::InvalidParameter, "an organization needs a name"));
        }
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Organization {
            id: id.to_owned(),
            title: self.title.trim().to_owned(),
            title_en: some(&self.title_en),
            description: self.description.trim().chars().take(5000).collect(),
            url: some(&self.url).filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        })
    }
}

/// Edits an organization's names, description and web site: its admins' and site admins'.
pub(super) async fn edit_organization(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(org): Path<String>,
    Form(form): Form<OrganizationForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let result = (|| {
        may_administer(&signed_in.user, &org)?;
        state.store.catalog().organization(&org)?;
        let o = form.organization(&org)?;
        audited(&state, &signed_in.user, Change::Organization(&o), "organization.update", &org, o.title.clone())
    })();
    done(result, &format!("/publish/organizations/{org}"))
}

/// Adds an organization (a site admin's).
pub(super) async fn create_organization(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<OrganizationForm>,
) -> Response {
    if !signed_in.sent(&form.csrf) {
        return forged();
    }
    let result = (|| {
        if !signed_in.user.site_admin || signed_in.user.disabled {
            return Err(ApiError::new(Code::Forbidden, "only a site admin adds organizations"));
        }
        let id = form.id.trim();
        opendata_datasets::ident::validate_local_id(id)
            .map_err(|e| ApiError::new(Code::InvalidParameter, format!("organization id: {e}")))?;
        if state.store.catalog().organization(id).is_ok() {
            return Err(ApiError::new(Code::InvalidParameter, format!("an organization `{id}` already exists")));
        }
        let org = form.organization(id)?;
        audited(&state, &signed_in.user, Change::Organization(&org), "organization.create", id, org.title.clone())
    })();
    done(result, &format!("/publish/organizations/{}", form.id.trim()))
}
