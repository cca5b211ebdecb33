//! Publishers sign in on the web: passwords, session cookies, CSRF tokens on every form,
//! and a throttle on guessing.

use opendata_datasets::{Role, User};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::common::TestServer;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `user`, a member of `nso` as `role`, with `password`.
fn account(s: &TestServer, user: &str, password: &str, disabled: bool) {
    let catalog = s.state.store.catalog();
    catalog
        .create_user(&User {
            id: user.into(),
            name: format!("{user} Бат"),
            site_admin: false,
            created_at: chrono::Utc::now(),
            memberships: vec![],
            disabled: false,
        })
        .unwrap();
    catalog.set_membership(user, "nso", Role::Editor).unwrap();
    catalog.set_password(user, &opendata_server::accounts::hash_password(password).unwrap()).unwrap();
    if disabled {
        catalog.set_user_disabled(user, true).unwrap();
    }
}

/// The value a `Set-Cookie` header gives cookie `name`, and the whole header.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let value = v.strip_prefix(&format!("{name}="))?.split(';').next()?.to_owned();
        Some((value, v.to_owned()))
    })
}

/// The value of the hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("the form has a csrf field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Fetches the sign-in form: its CSRF cookie and field.
async fn login_form(s: &TestServer, b: &reqwest::Client) -> (String, String) {
    let res = b.get(s.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (cookie, header) = set_cookie(res.headers(), "od_login").expect("a CSRF cookie");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"), "{header}");
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"name="user""#) && html.contains(r#"name="password""#), "{html}");
    (cookie, csrf_field(&html))
}

async fn sign_in(
    s: &TestServer,
    b: &reqwest::Client,
    user: &str,
    password: &str,
    next: &str,
) -> (u16, HeaderMap, String) {
    let (cookie, csrf) = login_form(s, b).await;
    let res = b
        .post(s.url("/login"))
        .header("cookie", format!("od_login={cookie}"))
        .form(&[("user", user), ("password", password), ("csrf", &csrf), ("next", next)])
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_sign_in_see_their_datasets_and_sign_out() {
    let s = TestServer::standard().await;
    account(&s, "bat", "tsagaan sar 2024", false);
    let b = browser();

    let res = b.get(s.url("/publish")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/login?next=%2Fpublish");

    // Without the form's CSRF cookie, nothing is checked.
    let (_, csrf) = login_form(&s, &b).await;
    let res = b
        .post(s.url("/login"))
        .form(&[("user", "bat"), ("password", "tsagaan sar 2024"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(res.headers(), "od_session").is_none());

    let (status, headers, body) = sign_in(&s, &b, "bat", "wrong password!", "/publish").await;
    assert_eq!(status, 401, "{body}");
    assert!(set_cookie(&headers, "od_session").is_none());
    assert!(body.contains("wrong"), "{body}");
    // An unknown user reads the same as a wrong password.
    let (status, _, unknown) = sign_in(&s, &b, "nobody", "wrong password!", "/publish").await;
    assert_eq!(status, 401);
    assert!(
        unknown.contains("the user or the password is wrong") && body.contains("the user or the password is wrong")
    );

    // Another site's address is never where a sign-in leads.
    let (status, headers, _) = sign_in(&s, &b, "bat", "tsagaan sar 2024", "https://evil.example/").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/publish");
    let (session, header) = set_cookie(&headers, "od_session").expect("a session cookie");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"), "{header}");
    assert!(!header.contains("Secure"), "plain HTTP here: {header}");

    let cookie = format!("od_session={session}");
    let res = b.get(s.url("/publish")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let dashboard = res.text().await.unwrap();
    assert!(dashboard.contains("bat Бат"), "{dashboard}");
    assert!(dashboard.contains(r#"href="/datasets/population""#), "nso's dataset: {dashboard}");
    assert!(!dashboard.contains(r#"href="/datasets/air-quality""#), "another organization's: {dashboard}");

    // Signing out takes the session's CSRF token; a forged form is refused.
    let res = b.post(s.url("/logout")).header("cookie", &cookie).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(b.get(s.url("/publish")).header("cookie", &cookie).send().await.unwrap().status(), 200);
    let csrf = csrf_field(&dashboard);
    let res = b.post(s.url("/logout")).header("cookie", &cookie).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(set_cookie(res.headers(), "od_session").unwrap().0, "", "the cookie is cleared");
    assert_eq!(
        b.get(s.url("/publish")).header("cookie", &cookie).send().await.unwrap().status(),
        303,
        "the session ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_is_throttled_and_disabled_users_cannot_sign_in() {
    let s = TestServer::standard().await;
    account(&s, "bat", "tsagaan sar 2024", false);
    account(&s, "dorj", "naadam festival", true);
    let b = browser();
    for _ in 0..5 {
        assert_eq!(sign_in(&s, &b, "bat", "guess guess guess", "/publish").await.0, 401);
    }
    // Now even the right password waits.
    let (status, headers, body) = sign_in(&s, &b, "bat", "tsagaan sar 2024", "/publish").await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert!(set_cookie(&headers, "od_session").is_none());

    let (status, headers, body) = sign_in(&s, &b, "dorj", "naadam festival", "/publish").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("disabled"), "{body}");
    assert!(set_cookie(&headers, "od_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_its_user_is_disabled() {
    let s = TestServer::standard().await;
    account(&s, "bat", "tsagaan sar 2024", false);
    let b = browser();
    let (status, headers, _) = sign_in(&s, &b, "bat", "tsagaan sar 2024", "/publish?lang=en").await;
    assert_eq!((status, headers[LOCATION].to_str().unwrap()), (303, "/publish?lang=en"));
    let cookie = format!("od_session={}", set_cookie(&headers, "od_session").unwrap().0);
    let res = b.get(s.url("/publish?lang=en")).header("cookie", &cookie).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("Publisher's dashboard"));
    s.state.store.catalog().set_user_disabled("bat", true).unwrap();
    assert_eq!(b.get(s.url("/publish")).header("cookie", &cookie).send().await.unwrap().status(), 303);
}
