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
    assert!(dashboard.contains(r#"href="/publish/datasets/population""#), "nso's dataset: {dashboard}");
    assert!(!dashboard.contains("/datasets/air-quality"), "another organization's: {dashboard}");

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

/// The publisher's pages end to end, as a browser without scripts sends them: a new
/// dataset from the form, a file uploaded as a multipart form that becomes a draft readers
/// cannot see, its review, and its release; then the original comes back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_create_upload_review_and_release_from_the_pages() {
    let s = TestServer::standard().await;
    account(&s, "bat", "tsagaan sar 2024", false);
    let b = browser();
    let (_, headers, _) = sign_in(&s, &b, "bat", "tsagaan sar 2024", "/publish").await;
    let cookie = format!("od_session={}", set_cookie(&headers, "od_session").unwrap().0);
    let page = |path: &str| {
        let (b, url, cookie) = (b.clone(), s.url(path), cookie.clone());
        async move {
            let res = b.get(url).header("cookie", cookie).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let csrf = csrf_field(&page("/publish").await);
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        let (b, url, cookie) = (b.clone(), s.url(path), cookie.clone());
        async move { b.post(url).header("cookie", cookie).form(&form).send().await.unwrap() }
    };
    let new = |csrf: &str, org: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("organization", org.to_owned()),
            ("id", "road-accidents".to_owned()),
            ("title", "Зам тээврийн осол".to_owned()),
            ("title_en", "Road accidents".to_owned()),
            ("license", "CC-BY-4.0".to_owned()),
            ("tags", "тээвэр, осол".to_owned()),
        ]
    };
    assert_eq!(post("/publish/new", new("forged", "nso")).await.status(), 403);
    assert_eq!(post("/publish/new", new(&csrf, "agaar")).await.status(), 403, "not bat's organization");
    let res = post("/publish/new", new(&csrf, "nso")).await;
    assert_eq!(
        (res.status().as_u16(), res.headers()[LOCATION].to_str().unwrap()),
        (303, "/publish/datasets/road-accidents")
    );
    let d = s.json("/api/v1/datasets/road-accidents", 200).await;
    assert_eq!((d["title_en"].as_str(), d["tags"][1].as_str()), (Some("Road accidents"), Some("осол")), "{d}");

    let sent = "Сар;Осол\n2024-01;120\n2024-02;98\n".as_bytes().to_vec();
    let form = |csrf: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .text("table", "main")
            .part("file", reqwest::multipart::Part::bytes(sent.clone()).file_name("osol.csv"))
    };
    let upload = s.url("/publish/datasets/road-accidents/upload");
    let res = b.post(&upload).header("cookie", &cookie).multipart(form("forged")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = b.post(&upload).header("cookie", &cookie).multipart(form(&csrf)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let manage = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(manage.starts_with("/publish/datasets/road-accidents?job="), "{manage}");
    let started = std::time::Instant::now();
    let review = loop {
        let html = page(&manage).await;
        if !html.contains("http-equiv=\"refresh\"") {
            break html;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the ingest did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(review.contains("succeeded"), "{review}");
    assert!(review.contains("main v1") && review.contains("osol.csv"), "the draft and its report: {review}");
    // Readers do not see the draft.
    let d = s.json("/api/v1/datasets/road-accidents", 200).await;
    assert_eq!(d["tables"].as_array().unwrap().len(), 0, "{d}");

    // Read again with the delimiter given rather than guessed: a new job, the same draft.
    let fixes =
        vec![("csrf", csrf.clone()), ("version", "1".into()), ("delimiter", ";".into()), ("header_row", "1".into())];
    let res = post("/publish/datasets/road-accidents/tables/main/reread", fixes).await;
    assert_eq!(res.status(), 303);
    let again = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(again.starts_with("/publish/datasets/road-accidents?job=") && again != manage, "{again}");
    let started = std::time::Instant::now();
    while page(&again).await.contains("http-equiv=\"refresh\"") {
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the reading did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let review = page(&again).await;
    assert!(review.contains("succeeded") && review.contains("main v1"), "{review}");

    let release = "/publish/datasets/road-accidents/tables/main/publish";
    assert_eq!(post(release, vec![("csrf", "forged".into()), ("version", "1".into())]).await.status(), 403);
    let res = post(release, vec![("csrf", csrf.clone()), ("version", "1".into())]).await;
    assert_eq!(res.status(), 303);
    let d = s.json("/api/v1/datasets/road-accidents", 200).await;
    assert_eq!((d["tables"][0]["version"].as_u64(), d["tables"][0]["row_count"].as_u64()), (Some(1), Some(2)), "{d}");
    let original = s.get("/api/v1/datasets/road-accidents/tables/main/versions/1/source").await;
    assert_eq!(original.bytes().await.unwrap().as_ref(), sent.as_slice());

    // Metadata and the column dictionary, edited on the dataset's page.
    let manage = page("/publish/datasets/road-accidents").await;
    assert!(manage.contains(r#"name="label.osol""#), "{manage}");
    let edit = vec![
        ("csrf", csrf.clone()),
        ("title", "Зам тээврийн осол, сараар".into()),
        ("title_en", "Road accidents by month".into()),
        ("description", "Цагдаагийн бүртгэлээр".into()),
        ("tags", "тээвэр".into()),
        ("license", "CC0-1.0".into()),
    ];
    assert_eq!(post("/publish/datasets/road-accidents/edit", edit).await.status(), 303);
    let columns = vec![
        ("csrf", csrf.clone()),
        ("label.osol", "Ослын тоо".into()),
        ("description.osol", "Бүртгэгдсэн осол".into()),
    ];
    assert_eq!(post("/publish/datasets/road-accidents/tables/main/columns", columns).await.status(), 303);
    let forged = vec![("csrf", "forged".to_owned()), ("label.osol", "x".into())];
    assert_eq!(post("/publish/datasets/road-accidents/tables/main/columns", forged).await.status(), 403);
    let d = s.json("/api/v1/datasets/road-accidents", 200).await;
    assert_eq!(
        (d["title_en"].as_str(), d["license"].as_str()),
        (Some("Road accidents by month"), Some("CC0-1.0")),
        "{d}"
    );
    let osol = d["tables"][0]["columns"].as_array().unwrap().iter().find(|c| c["name"] == "osol").unwrap().clone();
    assert_eq!((osol["label"].as_str(), osol["description"].as_str()), (Some("Ослын тоо"), Some("Бүртгэгдсэн осол")));
    assert!(page("/publish").await.contains("/publish/datasets/road-accidents"));

    // A file larger than a form's usual 2 MB goes up whole, as a new draft.
    let mut big = String::from("Sar;Osol\n");
    while big.len() < 3 << 20 {
        big.push_str("2024-01;120\n");
    }
    let large = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("table", "big")
        .part("file", reqwest::multipart::Part::bytes(big.into_bytes()).file_name("big.csv"));
    let res = b.post(&upload).header("cookie", &cookie).multipart(large).send().await.unwrap();
    assert_eq!(res.status(), 303, "a 3 MB upload from the page");

    // A file with no rows fails, and the dashboard lists the failure with its reason.
    let empty = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("table", "main")
        .part("file", reqwest::multipart::Part::bytes(b"Sar;Osol\n".to_vec()).file_name("empty.csv"));
    let res = b.post(&upload).header("cookie", &cookie).multipart(empty).send().await.unwrap();
    let failing = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    while page(&failing).await.contains("http-equiv=\"refresh\"") {
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the ingest did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let dashboard = page("/publish").await;
    assert!(dashboard.contains("class=\"failed\"") && dashboard.contains("no rows"), "{dashboard}");
}
