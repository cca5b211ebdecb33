//! Signing in from a browser: passwords checked by an [`Authenticator`], sessions kept in
//! the catalog (so every node knows them), their cookie, the CSRF token of each session's
//! forms, and a throttle on failed sign-ins.
//!
//! API clients go on using tokens (see [`crate::auth`]); a session only serves the pages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;
use opendata_datasets::{Catalog, Session, User};

/// The session cookie. `__Host-` would pin it to this host and path `/`, but browsers
/// accept that prefix only with `Secure`, which plain-HTTP portals (and tests) cannot send.
pub const COOKIE: &str = "od_session";
/// The cookie that carries the sign-in form's CSRF token, before there is a session.
pub const LOGIN_COOKIE: &str = "od_login";
/// How long a session lasts from sign-in; it is not extended by use.
pub const SESSION_HOURS: i64 = 12;
/// Passwords shorter than this are refused; longer than [`MAX_PASSWORD`] too, so a
/// megabyte "password" costs nothing to refuse.
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;

/// Why a sign-in was refused. Unknown users and wrong passwords read the same, so the
/// form does not tell which user ids exist.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the user or the password is wrong")]
    Credentials,
    #[error("this user is disabled")]
    Disabled,
    #[error("too many failed sign-ins; try again in {} minutes", .0.as_secs().div_ceil(60))]
    Throttled(Duration),
    #[error(transparent)]
    Catalog(#[from] opendata_datasets::Error),
}

/// Who may sign in. The portal's own accounts are [`LocalPasswords`]; a single sign-on
/// provider (OpenID Connect) would be another implementation.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// The user `user` is, if `password` proves it.
    fn authenticate(&self, catalog: &dyn Catalog, user: &str, password: &str) -> Result<User, Refused>;
}

/// Passwords kept in the catalog as argon2id hashes.
#[derive(Debug, Default)]
pub struct LocalPasswords;

impl Authenticator for LocalPasswords {
    fn authenticate(&self, catalog: &dyn Catalog, user: &str, password: &str) -> Result<User, Refused> {
        if password.len() > MAX_PASSWORD {
            return Err(Refused::Credentials);
        }
        let known = match catalog.user(user) {
            Ok(u) => catalog.password(&u.id)?.map(|phc| (u, phc)),
            Err(opendata_datasets::Error::UserNotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        // An unknown user costs the same hash as a known one, so timing does not tell
        // which ids exist.
        let phc = known.as_ref().map(|(_, phc)| phc.as_str()).unwrap_or(DECOY);
        let matches = PasswordHash::new(phc)
            .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok());
        match known {
            Some((u, _)) if matches && u.disabled => Err(Refused::Disabled),
            Some((u, _)) if matches => Ok(u),
            _ => Err(Refused::Credentials),
        }
    }
}

/// The hash of a password nobody has, checked for unknown users.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$k0ebXRIpRtc5Us2K0a0lJVl8yF7FEazYhLKOT8MquIg";

/// A password's argon2id hash (the crate's defaults: 19 MiB, 2 passes, as OWASP advises),
/// as a PHC string with its own salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        anyhow::bail!("a password has {MIN_PASSWORD} characters or more (and at most {MAX_PASSWORD} bytes)");
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(hash.to_string())
}

/// A random secret of `n` bytes, as hex.
pub fn secret(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What the catalog keeps for a cookie's secret.
pub fn session_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// Starts a session for `user`: the record and the secret for its cookie.
pub fn start(catalog: &dyn Catalog, user: &str) -> anyhow::Result<(Session, String)> {
    let now = Utc::now();
    let session = Session {
        user: user.to_owned(),
        csrf: secret(16)?,
        created_at: now,
        expires_at: now + chrono::Duration::hours(SESSION_HOURS),
    };
    let secret = secret(32)?;
    catalog.add_session(&session, &session_hash(&secret))?;
    Ok((session, secret))
}

/// The session a cookie's secret names, if it is live and its user may still act.
pub fn resume(catalog: &dyn Catalog, secret: &str) -> opendata_datasets::Result<Option<(Session, User)>> {
    let Some(session) = catalog.session(&session_hash(secret))? else { return Ok(None) };
    if session.expires_at <= Utc::now() {
        return Ok(None);
    }
    let user = catalog.user(&session.user)?;
    Ok((!user.disabled).then_some((session, user)))
}

/// Equal strings, compared in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Failed sign-ins per user id and per client address, in a sliding window. Per node: a
/// portal of N nodes allows N times the attempts, still far too few to guess a password.
#[derive(Debug)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Failures allowed per user in a window, and per address (an office behind one address
/// has many users).
const PER_USER: u32 = 5;
const PER_ADDRESS: u32 = 30;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys remembered at most; beyond it the oldest windows go first.
const MAX_KEYS: usize = 100_000;

impl Default for Throttle {
    fn default() -> Self {
        Self { failures: Mutex::new(HashMap::new()) }
    }
}

impl Throttle {
    fn keys(user: &str, client: Option<IpAddr>) -> [(String, u32); 2] {
        let address = client.map(|c| c.to_string()).unwrap_or_default();
        [(format!("user:{user}"), PER_USER), (format!("address:{address}"), PER_ADDRESS)]
    }

    /// How long `user` from `client` must wait before trying again, if at all.
    pub fn wait(&self, user: &str, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(user, client).into_iter().find_map(|(key, max)| {
            let (n, since) = failures.get(&key)?;
            let left = WINDOW.checked_sub(now.duration_since(*since)).filter(|l| !l.is_zero())?;
            (*n >= max).then_some(left)
        })
    }

    pub fn failed(&self, user: &str, client: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        for (key, _) in Self::keys(user, client) {
            let entry = failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A success clears the user's failures (not the address's).
    pub fn succeeded(&self, user: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&format!("user:{user}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"), "{a}");
        let hash = PasswordHash::new(&a).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &hash).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse batterx", &hash).is_err());
        assert!(hash_password("short").is_err());
        assert!(PasswordHash::new(DECOY).is_ok(), "the decoy parses, so unknown users cost a full check");
    }

    #[test]
    fn the_throttle_counts_per_user_and_forgets_after_its_window() {
        let t = Throttle::default();
        let (now, ip) = (Instant::now(), Some("10.0.0.1".parse().unwrap()));
        for _ in 0..PER_USER {
            assert_eq!(t.wait("bat", ip, now), None);
            t.failed("bat", ip, now);
        }
        assert!(t.wait("bat", ip, now).is_some());
        assert!(t.wait("bat", Some("10.0.0.2".parse().unwrap()), now).is_some(), "per user, from anywhere");
        assert_eq!(t.wait("dorj", ip, now), None, "other users from the address may go on");
        assert_eq!(t.wait("bat", ip, now + WINDOW), None, "the window passed");
        t.succeeded("bat");
        assert_eq!(t.wait("bat", ip, now), None);
    }
}
