//! Private datasets, withdrawals and restores, and the admin's pages, over HTTP, for every
//! role: anonymous, an editor of another organization, an editor, an admin, a site admin.

use opendata_datasets::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, publisher, send};

/// How a request names its reader.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    Anonymous,
    Token(&'a str),
    /// A browser session's cookie secret.
    Session(&'a str),
}

/// GET `path` as `who`: the status, the `Cache-Control` and the body.
async fn read(s: &TestServer, who: Who<'_>, path: &str) -> (u16, String, String) {
    let mut req = s.client.get(s.url(path));
    match who {
        Who::Anonymous => {}
        Who::Token(t) => req = req.bearer_auth(t),
        Who::Session(secret) => req = req.header("cookie", format!("od_session={secret}")),
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let cache = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let vary = res.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    assert!(vary.contains("Authorization, Cookie"), "GET {path}: Vary is {vary}");
    (status, cache, res.text().await.unwrap())
}

/// Every surface a dataset shows on, with whether `population` is on it in the answer.
async fn surfaces(s: &TestServer, who: Who<'_>, sql_name: &str) -> Vec<(String, bool)> {
    let mut seen = Vec::new();
    let mut check = |name: &str, found: bool| seen.push((name.to_owned(), found));
    let found_at = |status: u16| status == 200;
    for path in [
        "/api/v1/datasets/population",
        "/api/v1/datasets/population/tables/main/rows?limit=1",
        "/api/v1/datasets/population/tables/main/data.csv",
        "/api/v1/datasets/population/tables/main/versions/1/report",
        "/api/v1/datasets/population/tables/main/versions/1/source",
        "/datasets/population",
        "/datasets/population.jsonld",
        "/datasets/population/datapackage.json",
        "/datasets/population/schema.json",
        "/datasets/population/chart.svg?chart.x=aimag",
    ] {
        let (status, _, body) = read(s, who, path).await;
        assert!(matches!(status, 200 | 404), "GET {path}: {status} {body}");
        check(path, found_at(status));
    }
    let (_, _, search) = read(s, who, "/api/v1/datasets?q=population%20хүн").await;
    let search: Value = serde_json::from_str(&search).unwrap();
    check("search", search["results"].as_array().unwrap().iter().any(|r| r["id"] == "population"));
    let (_, _, all) = read(s, who, "/api/v1/datasets?per_page=100").await;
    let all: Value = serde_json::from_str(&all).unwrap();
    let nso = all["facets"]["organization"].as_array().unwrap().iter().any(|f| f["value"] == "nso");
    check("facets", nso);
    check("search total", all["total"] == 2);
    let (_, _, suggest) = read(s, who, "/api/v1/suggest?q=Хүн").await;
    check("suggest", suggest.contains("\"population\""));
    let (_, _, orgs) = read(s, who, "/api/v1/organizations").await;
    let orgs: Value = serde_json::from_str(&orgs).unwrap();
    check(
        "organization count",
        orgs["results"].as_array().unwrap().iter().any(|o| o["id"] == "nso" && o["dataset_count"] == 1),
    );
    let (_, _, org) = read(s, who, "/api/v1/organizations/nso").await;
    check("organization", org.contains("\"population\""));
    let (status, _, _) = read(s, who, &format!("/api/v1/sql?q=SELECT%20count(*)%20AS%20n%20FROM%20{sql_name}")).await;
    check("sql", status == 200);
    let (_, _, list) = read(s, who, "/api/3/action/package_list").await;
    check("ckan package_list", list.contains("\"population\""));
    let (_, _, show) = read(s, who, "/api/3/action/package_show?id=population").await;
    check("ckan package_show", show.contains("\"success\":true"));
    let (_, _, found) = read(s, who, "/api/3/action/package_search?q=Хүн%20амын&facet.field=[\"organization\"]").await;
    check("ckan package_search", found.contains("\"name\":\"population\""));
    let (_, _, records) = read(s, who, &format!("/api/3/action/datastore_search?resource_id={sql_name}")).await;
    check("ckan datastore_search", records.contains("\"success\":true"));
    let (_, _, dcat) = read(s, who, "/catalog.jsonld").await;
    check("dcat", dcat.contains("/datasets/population\""));
    for page in ["/", "/datasets?q=Хүн", "/organizations/nso"] {
        let (_, _, html) = read(s, who, page).await;
        check(page, html.contains("href=\"/datasets/population"));
    }
    seen
}

fn session(s: &TestServer, user: &str) -> String {
    opendata_server::accounts::start(s.state.store.catalog(), user).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_datasets_are_seen_only_by_their_organization_everywhere() {
    let s = TestServer::standard().await;
    let store = &s.state.store;
    let editor = publisher(store, "bat", false, &[("nso", Role::Editor)]);
    let admin = publisher(store, "dorj", false, &[("nso", Role::Admin)]);
    let stranger = publisher(store, "saraa", false, &[("agaar", Role::Admin)]);
    let site = publisher(store, "root", true, &[]);
    let sql_name =
        s.json("/api/v1/datasets/population", 200).await["tables"][0]["sql_name"].as_str().unwrap().to_owned();

    // Public: everyone sees it everywhere.
    for (surface, found) in surfaces(&s, Who::Anonymous, &sql_name).await {
        assert!(found, "public, yet anonymous readers miss it on {surface}");
    }

    // Only a member may make it private; the change is audited.
    let private = || Some(reqwest::Body::from(json!({"private": true}).to_string()));
    let (status, _, body) = send(&s, Method::PATCH, "/api/v1/datasets/population", Some(&stranger), private()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, _, body) = send(&s, Method::PATCH, "/api/v1/datasets/population", Some(&editor), private()).await;
    assert_eq!((status, &body["private"]), (200, &json!(true)), "{body}");
    let (_, _, log) = send(&s, Method::GET, "/api/v1/audit", Some(&site), None).await;
    assert_eq!(log[0]["action"], "dataset.make_private", "{log}");

    // Outside the organization it is nowhere: the same 404 as a dataset never made.
    for who in [Who::Anonymous, Who::Token(&stranger)] {
        for (surface, found) in surfaces(&s, who, &sql_name).await {
            assert!(!found, "{who:?} sees a private dataset on {surface}");
        }
    }
    let (_, _, gone) = read(&s, Who::Anonymous, "/api/v1/datasets/population").await;
    let gone: Value = serde_json::from_str(&gone).unwrap();
    assert_eq!(gone["code"], "dataset_not_found", "{gone}");
    let (_, _, home) = read(&s, Who::Anonymous, "/api/v1/datasets?per_page=1").await;
    assert_eq!(serde_json::from_str::<Value>(&home).unwrap()["total"], 1, "counted for nobody outside");

    // Its members (by token or by session) and site admins see it everywhere, privately.
    let bat = session(&s, "bat");
    for who in [Who::Token(&editor), Who::Token(&admin), Who::Token(&site), Who::Session(&bat)] {
        for (surface, found) in surfaces(&s, who, &sql_name).await {
            assert!(found, "{who:?} misses their own private dataset on {surface}");
        }
        let (status, cache, _) = read(&s, who, "/api/v1/datasets/population/tables/main/rows?version=1").await;
        assert_eq!(status, 200);
        assert!(cache.starts_with("private"), "a shared cache may keep a private answer: {cache}");
    }
    let (_, cache, _) = read(&s, Who::Anonymous, "/api/v1/datasets/air-quality/tables/readings/rows?version=1").await;
    assert!(cache.contains("public"), "anonymous answers stay cacheable: {cache}");

    // A token that is sent must be good, even for reading.
    let (status, _, _) = read(&s, Who::Token("od_nope_nope"), "/api/v1/datasets/air-quality").await;
    assert_eq!(status, 401);

    // Public again: back everywhere for everyone.
    let public = Some(reqwest::Body::from(json!({"private": false}).to_string()));
    let (status, _, _) = send(&s, Method::PATCH, "/api/v1/datasets/population", Some(&admin), public).await;
    assert_eq!(status, 200);
    for (surface, found) in surfaces(&s, Who::Anonymous, &sql_name).await {
        assert!(found, "public again, yet missing on {surface}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_datasets_answer_gone_until_their_admin_restores_them() {
    let s = TestServer::standard().await;
    let store = &s.state.store;
    let editor = publisher(store, "bat", false, &[("nso", Role::Editor)]);
    let admin = publisher(store, "dorj", false, &[("nso", Role::Admin)]);
    let stranger = publisher(store, "saraa", false, &[("agaar", Role::Admin)]);
    let before = s.json("/api/v1/datasets/population", 200).await;
    let rows = s.json("/api/v1/datasets/population/tables/main/rows", 200).await;

    let (status, _, _) = send(&s, Method::DELETE, "/api/v1/datasets/population?reason=x", Some(&editor), None).await;
    assert_eq!(status, 403, "editors publish; admins withdraw");
    let path = "/api/v1/datasets/population?reason=counted%20twice";
    let (status, _, _) = send(&s, Method::DELETE, path, Some(&admin), None).await;
    assert_eq!(status, 204);
    for path in ["/api/v1/datasets/population", "/api/v1/datasets/population/tables/main/rows", "/datasets/population"]
    {
        let res = s.get(path).await;
        assert_eq!(res.status(), 410, "{path}");
        assert!(res.text().await.unwrap().contains("counted twice"), "{path} says why");
    }
    let found = s.json("/api/v1/datasets?q=Хүн%20амын", 200).await;
    assert!(found["results"].as_array().unwrap().is_empty(), "{found}");
    // The id is kept for the restore: it cannot be taken meanwhile.
    let again = json!({"id": "population", "organization": "nso", "title": "x"}).to_string();
    let (status, _, body) = send(&s, Method::POST, "/api/v1/datasets", Some(&admin), Some(again.into())).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("dataset_withdrawn")), "{body}");

    let restore = "/api/v1/datasets/population/restore";
    for (who, status) in [(None, 401), (Some(&editor), 403), (Some(&stranger), 403)] {
        let (got, _, body) = send(&s, Method::POST, restore, who.map(String::as_str), None).await;
        assert_eq!(got, status, "{body}");
    }
    let (status, _, back) = send(&s, Method::POST, restore, Some(&admin), None).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["tables"], before["tables"], "every version back as it was");
    assert_eq!(s.json("/api/v1/datasets/population/tables/main/rows", 200).await, rows, "its data too");
    let found = s.json("/api/v1/datasets?q=Хүн%20амын", 200).await;
    assert_eq!(found["results"][0]["id"], "population", "searchable again: {found}");
    let (status, _, body) = send(&s, Method::POST, restore, Some(&admin), None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("nothing_to_restore")), "{body}");
    let site = publisher(store, "root", true, &[]);
    let (_, _, log) = send(&s, Method::GET, "/api/v1/audit", Some(&site), None).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions[..2], ["dataset.restore", "dataset.withdraw"], "{log}");

    // Withdrawn while private: outside its organization it was never there.
    let private = Some(reqwest::Body::from(json!({"private": true}).to_string()));
    assert_eq!(send(&s, Method::PATCH, "/api/v1/datasets/population", Some(&admin), private).await.0, 200);
    assert_eq!(send(&s, Method::DELETE, path, Some(&admin), None).await.0, 204);
    for (who, status) in [(None, 404), (Some(&stranger), 404), (Some(&editor), 410)] {
        let (got, _, body) = send(&s, Method::GET, "/api/v1/datasets/population", who.map(String::as_str), None).await;
        assert_eq!(got, status, "{body}");
    }
    assert_eq!(s.get("/datasets/population").await.status(), 404);
}

/// A page's hidden CSRF field.
fn csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form with a csrf field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_members_and_site_admins_add_organizations_in_the_browser() {
    let s = TestServer::standard().await;
    let store = &s.state.store;
    publisher(store, "dorj", false, &[("nso", Role::Admin)]);
    publisher(store, "bat", false, &[("nso", Role::Editor)]);
    publisher(store, "tuya", false, &[]);
    publisher(store, "root", true, &[]);
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookie = |secret: &str| format!("od_session={secret}");
    let (admin, editor, site) = (session(&s, "dorj"), session(&s, "bat"), session(&s, "root"));

    // An editor may not manage the organization.
    let res = b.get(s.url("/publish/organizations/nso")).header("cookie", cookie(&editor)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = b.get(s.url("/publish/organizations/nso")).header("cookie", cookie(&admin)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("bat") && page.contains("dorj"), "the members are listed");
    let token = csrf(&page);
    let post = |path: &str, secret: &str, form: Vec<(&str, &str)>| {
        b.post(s.url(path)).header("cookie", cookie(secret)).form(&form).send()
    };

    // A forged form changes nothing.
    let res = post(
        "/publish/organizations/nso/members",
        &admin,
        vec![("csrf", "forged"), ("user", "tuya"), ("role", "editor")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = post(
        "/publish/organizations/nso/members",
        &admin,
        vec![("csrf", &token), ("user", "tuya"), ("role", "editor")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "{:?}", res.text().await);
    let catalog = store.catalog();
    assert_eq!(catalog.user("tuya").unwrap().memberships, [("nso".to_owned(), Role::Editor)]);
    let res =
        post("/publish/organizations/nso/members", &admin, vec![("csrf", &token), ("user", "tuya"), ("role", "admin")])
            .await
            .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(catalog.user("tuya").unwrap().memberships, [("nso".to_owned(), Role::Admin)]);
    let res = post(
        "/publish/organizations/nso/members",
        &admin,
        vec![("csrf", &token), ("user", "nobody"), ("role", "admin")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400, "no such user");
    let res = post("/publish/organizations/nso/members/tuya/remove", &admin, vec![("csrf", &token)]).await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(catalog.user("tuya").unwrap().memberships.is_empty());
    let editor_token = {
        let page =
            b.get(s.url("/publish")).header("cookie", cookie(&editor)).send().await.unwrap().text().await.unwrap();
        csrf(&page)
    };
    let res = post(
        "/publish/organizations/nso/members",
        &editor,
        vec![("csrf", &editor_token), ("user", "bat"), ("role", "admin")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403, "an editor cannot make themself an admin");

    // Withdraw and restore from the pages.
    let res =
        post("/publish/datasets/population/withdraw", &admin, vec![("csrf", &token), ("reason", "дахин тоолсон")])
            .await
            .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(s.get("/api/v1/datasets/population").await.status(), 410);
    let page = b
        .get(s.url("/publish/organizations/nso"))
        .header("cookie", cookie(&admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("дахин тоолсон") && page.contains("/publish/datasets/population/restore"),
        "listed to restore"
    );
    let res = post("/publish/datasets/population/restore", &admin, vec![("csrf", &token)]).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(s.get("/api/v1/datasets/population").await.status(), 200);

    // Its admin edits the organization's details; an editor may not.
    let edit = |secret: &str, token: &str| {
        let form =
            vec![("csrf", token), ("title", "Үндэсний статистикийн хороо"), ("title_en", "National Statistics Office")];
        post("/publish/organizations/nso/edit", secret, form)
    };
    assert_eq!(edit(&editor, &editor_token).await.unwrap().status(), 403);
    assert_eq!(edit(&admin, &token).await.unwrap().status(), 303);
    assert_eq!(catalog.organization("nso").unwrap().title_en.as_deref(), Some("National Statistics Office"));

    // Organizations are a site admin's.
    let res = b.get(s.url("/publish/organizations")).header("cookie", cookie(&admin)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = b.get(s.url("/publish/organizations")).header("cookie", cookie(&site)).send().await.unwrap();
    let site_token = csrf(&page.text().await.unwrap());
    let form = vec![
        ("csrf", site_token.as_str()),
        ("id", "mof"),
        ("title", "Сангийн яам"),
        ("title_en", "Ministry of Finance"),
    ];
    let res = post("/publish/organizations", &site, form).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(catalog.organization("mof").unwrap().title_en.as_deref(), Some("Ministry of Finance"));
    let log = catalog.audit_log(20).unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    let expected =
        ["organization.create", "organization.update", "dataset.restore", "dataset.withdraw", "member.remove"];
    for action in expected.into_iter().chain(["member.set"]) {
        assert!(actions.contains(&action), "{action} is not in the audit log: {actions:?}");
    }
}
