//! Publishers' API tokens: random, shown once, stored as a BLAKE3 hash, with an optional
//! expiry and revocation, sent as `Authorization: Bearer <token>`. Reading stays anonymous;
//! only writes ask for a [`Caller`].

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{Duration, Utc};
use opendata_datasets::{ApiToken, Catalog, User};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// A new token: its record, and the secret to give the user (shown once, never stored).
pub fn issue(
    catalog: &dyn Catalog,
    user: &str,
    label: &str,
    expires_in_days: Option<i64>,
) -> anyhow::Result<(ApiToken, String)> {
    catalog.user(user)?;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    let id = hex(&bytes[..6]);
    let secret = format!("od_{id}_{}", hex(&bytes[6..]));
    let now = Utc::now();
    let token = ApiToken {
        id,
        user: user.to_owned(),
        label: label.to_owned(),
        created_at: now,
        expires_at: expires_in_days.map(|d| now + Duration::days(d)),
        revoked_at: None,
    };
    catalog.add_token(&token, &hash(&secret))?;
    Ok((token, secret))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored for a secret: a hash, so a copy of the catalog does not hold live tokens.
/// The secret has 144 random bits, so a fast hash needs no salt or stretching.
fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The user a request's bearer token belongs to, and the token's id.
#[derive(Debug, Clone)]
pub struct Caller(pub User, pub String);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Caller::of(&parts.headers, state)
    }
}

impl Caller {
    /// The caller a request's `Authorization` header names, for routes where only some
    /// answers need one (a draft's report).
    pub fn of(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |why: &str| ApiError::new(Code::Unauthorized, why.to_owned());
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send an API token as `Authorization: Bearer <token>`"))?;
        // The scheme is case-insensitive (RFC 9110, section 11.1).
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let catalog = state.store.catalog();
        let token = catalog
            .token_by_hash(&hash(secret))?
            .filter(|t| t.is_live(Utc::now()))
            .ok_or_else(|| unauthorized("the token is unknown, expired or revoked"))?;
        let user = catalog.user(&token.user)?;
        if user.disabled {
            return Err(unauthorized("the token's user is disabled"));
        }
        Ok(Caller(user, token.id))
    }
}

/// Whether the user behind token `token` may still publish for the organization that holds
/// `dataset` now: the token live, the user enabled and a member, the dataset there. Work
/// queued earlier (an upload's ingest) asks again before it starts and before it publishes,
/// since any of these may have changed meanwhile.
pub fn still_allowed(catalog: &dyn Catalog, token: &str, dataset: &str) -> Result<(), String> {
    let token = catalog.token(token).map_err(|_| "the token that queued the upload is gone".to_owned())?;
    if !token.is_live(Utc::now()) {
        return Err("the token that queued the upload was revoked or has expired".into());
    }
    let user = catalog.user(&token.user).map_err(|e| e.to_string())?;
    let organization = match catalog.dataset(dataset) {
        Ok(d) => d.meta.organization.clone(),
        Err(_) => return Err(format!("the dataset `{dataset}` was withdrawn")),
    };
    if !user.may_publish(&organization) {
        return Err(format!("`{}` may no longer publish for the organization `{organization}`", user.id));
    }
    Ok(())
}

/// [`still_allowed`] for a signed-in publisher's work, which no token queued: the user
/// still enabled and a member of the organization that holds `dataset` now.
pub fn user_still_allowed(catalog: &dyn Catalog, user: &str, dataset: &str) -> Result<(), String> {
    let user = catalog.user(user).map_err(|e| e.to_string())?;
    if user.disabled {
        return Err(format!("`{}` is disabled", user.id));
    }
    let organization = match catalog.dataset(dataset) {
        Ok(d) => d.meta.organization.clone(),
        Err(_) => return Err(format!("the dataset `{dataset}` was withdrawn")),
    };
    if !user.may_publish(&organization) {
        return Err(format!("`{}` may no longer publish for the organization `{organization}`", user.id));
    }
    Ok(())
}

/// Refuses unless `user` administers `organization` (or is a site admin).
pub fn may_administer(user: &User, organization: &str) -> Result<(), ApiError> {
    if user.administers(organization) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!("only an admin of `{organization}` may do this; `{}` is not one", user.id),
        ))
    }
}

/// Refuses unless `user` may publish for `organization`.
pub fn may_publish(user: &User, organization: &str) -> Result<(), ApiError> {
    if user.may_publish(organization) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!("`{}` may not publish for the organization `{organization}`", user.id),
        ))
    }
}

impl Caller {
    /// Refuses unless the caller administers `organization` (or is a site admin).
    pub fn check_admin(&self, organization: &str) -> Result<(), ApiError> {
        may_administer(&self.0, organization)
    }

    /// Refuses unless the caller may publish for `organization`.
    pub fn check(&self, organization: &str) -> Result<(), ApiError> {
        may_publish(&self.0, organization)
    }
}
