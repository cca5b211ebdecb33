//! Who publishes: users, their roles and sessions, API tokens, and the audit log of what
//! they did.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A publisher's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages the organization's datasets and its members.
    Admin,
    /// Publishes and edits the organization's datasets.
    Editor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "editor" => Ok(Role::Editor),
            other => Err(format!("a role is admin or editor, not `{other}`")),
        }
    }
}

/// Someone who publishes: an agency's staff, or a site administrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// May act on every organization and read the audit log.
    pub site_admin: bool,
    pub created_at: DateTime<Utc>,
    /// Organizations the user belongs to, and as what.
    pub memberships: Vec<(String, Role)>,
    /// Disabled by an operator: the user may do nothing, whatever their roles.
    pub disabled: bool,
}

impl User {
    /// Whether the user may publish for `organization`.
    pub fn may_publish(&self, organization: &str) -> bool {
        !self.disabled && (self.site_admin || self.memberships.iter().any(|(org, _)| org == organization))
    }

    /// Whether the user administers `organization`: withdrawing its datasets is theirs.
    pub fn administers(&self, organization: &str) -> bool {
        !self.disabled
            && (self.site_admin
                || self.memberships.iter().any(|(org, role)| org == organization && *role == Role::Admin))
    }
}

/// An API token's record. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub user: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Usable now: neither revoked nor expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// One write, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub user: String,
    /// What was done: `dataset.create`, `dataset.update`, `dataset.withdraw`, `version.upload`.
    pub action: String,
    /// What it was done to: a dataset id, or `dataset/table`.
    pub target: String,
    pub detail: String,
}

/// A signed-in browser: the cookie's secret is kept only as a hash (see
/// [`crate::Catalog::add_session`]), so a copy of the catalog signs no one in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// The token every form of this session carries: a page of another site that makes the
    /// browser post here cannot know it.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
