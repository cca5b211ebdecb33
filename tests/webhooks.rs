//! Webhooks: a member registers a receiver, a new version reaches it as a signed POST
//! (verified here with Python's own HMAC), a failed delivery is retried and its history
//! read, and targets on private addresses are refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use opendata_datasets::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, publisher, readings_csv, send, standard_catalog, wait_for_job};

/// What the receiver was sent: headers and body of each POST, and how many to fail first.
#[derive(Default)]
struct Received {
    posts: Vec<(HeaderMap, Vec<u8>)>,
    fail_first: usize,
    calls: usize,
}

/// A receiver on a loopback port, as a newsroom's service would be.
async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Received>>) {
    let got = Arc::new(Mutex::new(Received { fail_first, ..Default::default() }));
    let state = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let mut r = state.lock().unwrap();
                r.calls += 1;
                if r.calls <= r.fail_first {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                r.posts.push((headers, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Python's `hmac` checks the signature: an implementation that is not ours.
fn python_verifies(secret: &str, body: &[u8], signature: &str) -> bool {
    let script = "import hmac, hashlib, sys\n\
        body = sys.stdin.buffer.read()\n\
        mac = 'sha256=' + hmac.new(sys.argv[1].encode(), body, hashlib.sha256).hexdigest()\n\
        print(hmac.compare_digest(mac, sys.argv[2]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret, signature])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), body).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap().trim() == "True"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_reaches_the_receiver_signed_and_retried() {
    let (url, got) = receiver(1).await;
    let data = tempfile::tempdir().unwrap();
    standard_catalog(data.path());
    let s = TestServer::serve_with(data, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.1/32".into()];
        c.webhooks.retry_secs = 1;
    })
    .await;
    let store = &s.state.store;
    let editor = publisher(store, "bat", false, &[("agaar", Role::Editor)]);
    let stranger = publisher(store, "dorj", false, &[("nso", Role::Editor)]);

    let hooks = "/api/v1/organizations/agaar/webhooks";
    let body = |v: Value| Some(reqwest::Body::from(v.to_string()));
    let (status, _, hook) =
        send(&s, Method::POST, hooks, Some(&editor), body(json!({"url": url, "datasets": ["air-quality"]}))).await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    let id = hook["id"].as_str().unwrap().to_owned();
    let (_, _, listed) = send(&s, Method::GET, hooks, Some(&editor), None).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "the secret is shown once");

    // Who may not, and where not.
    assert_eq!(send(&s, Method::GET, hooks, None, None).await.0, 401);
    assert_eq!(send(&s, Method::GET, hooks, Some(&stranger), None).await.0, 403);
    for (target, status, code) in [
        ("http://10.1.2.3/hook", 400, "target_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", 400, "target_not_allowed"),
        ("http://[::1]:9/hook", 400, "target_not_allowed"),
        ("http://localhost.invalid/hook", 400, "target_not_allowed"),
        ("ftp://example.org/hook", 400, "invalid_parameter"),
        ("not a url", 400, "invalid_parameter"),
    ] {
        let (got_status, _, problem) = send(&s, Method::POST, hooks, Some(&editor), body(json!({"url": target}))).await;
        assert_eq!((got_status, problem["code"].as_str()), (status, Some(code)), "{target}: {problem}");
    }
    let (status, _, problem) =
        send(&s, Method::POST, hooks, Some(&editor), body(json!({"url": url, "datasets": ["population"]}))).await;
    assert_eq!(status, 403, "another organization's dataset: {problem}");
    let many = vec!["air-quality"; 101];
    let (status, _, problem) =
        send(&s, Method::POST, hooks, Some(&editor), body(json!({"url": url, "datasets": many}))).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("limit_exceeded")), "{problem}");

    // A new version of a followed dataset: the receiver fails once, then gets it.
    let upload = "/api/v1/datasets/air-quality/tables/readings/versions?file_name=r.csv";
    let (status, headers, _) = send(&s, Method::POST, upload, Some(&editor), Some(readings_csv(2_600).into())).await;
    assert_eq!(status, 202);
    let job = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    wait_for("the retried delivery", || !got.lock().unwrap().posts.is_empty()).await;

    let (headers, bytes) = got.lock().unwrap().posts[0].clone();
    let event: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(event["event"], "version.published");
    assert_eq!(
        (event["dataset"].as_str(), event["table"].as_str(), event["version"].as_u64()),
        (Some("air-quality"), Some("readings"), Some(2))
    );
    assert_eq!(event["rows"], 2_600);
    assert_eq!(event["links"]["changes"], "/api/v1/datasets/air-quality/tables/readings/versions/2/changes.csv");
    assert_eq!(headers["x-opendata-event"], "version.published");
    let signature = headers["x-opendata-signature"].to_str().unwrap();
    assert!(python_verifies(&secret, &bytes, signature), "the signature is HMAC-SHA256 of the body");
    assert!(!python_verifies("another secret entirely", &bytes, signature), "and only with the secret");

    let history = format!("{hooks}/{id}/deliveries");
    let (_, _, deliveries) = send(&s, Method::GET, &history, Some(&editor), None).await;
    assert_eq!(deliveries.as_array().unwrap().len(), 1, "{deliveries}");
    let d = &deliveries[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64(), d["last_status"].as_u64()),
        (Some("delivered"), Some(2), Some(204))
    );
    assert_eq!(headers["x-opendata-delivery"], d["id"].as_str().unwrap());

    // Removed, it hears no more.
    assert_eq!(send(&s, Method::DELETE, &format!("{hooks}/{id}"), Some(&editor), None).await.0, 204);
    assert_eq!(send(&s, Method::GET, &history, Some(&editor), None).await.0, 404);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(got.lock().unwrap().posts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_receivers_are_refused_unless_allowed_and_an_unreachable_one_gives_up() {
    let data = tempfile::tempdir().unwrap();
    standard_catalog(data.path());
    // Allowed at registration, then never answering: every attempt fails, then it stops.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/gone")
    };
    let s = TestServer::serve_with(data, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.1/32".into()];
        c.webhooks.retry_secs = 1;
        c.webhooks.max_attempts = 2;
        c.webhooks.max_per_organization = 1;
    })
    .await;
    let editor = publisher(&s.state.store, "bat", false, &[("agaar", Role::Editor)]);
    let hooks = "/api/v1/organizations/agaar/webhooks";
    let (status, _, hook) = send(
        &s,
        Method::POST,
        hooks,
        Some(&editor),
        Some(json!({"url": dead, "secret": "x".repeat(16)}).to_string().into()),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["secret"], "x".repeat(16));
    let (status, _, problem) =
        send(&s, Method::POST, hooks, Some(&editor), Some(json!({"url": dead}).to_string().into())).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("limit_exceeded")));

    let upload = "/api/v1/datasets/air-quality/tables/readings/versions?file_name=r.csv";
    let (_, headers, _) = send(&s, Method::POST, upload, Some(&editor), Some(readings_csv(2_600).into())).await;
    wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    let history = format!("{hooks}/{}/deliveries", hook["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, d) = send(&s, Method::GET, &history, Some(&editor), None).await;
        if d[0]["status"] == "failed" {
            assert_eq!(d[0]["attempts"], 2);
            assert!(d[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
            break;
        }
        assert!(Instant::now() < deadline, "never gave up: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Without the exception, loopback is refused at registration.
    let strict = TestServer::serve_at(s.data.path()).await;
    let (status, _, problem) =
        send(&strict, Method::POST, hooks, Some(&editor), Some(json!({"url": dead}).to_string().into())).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("target_not_allowed")), "{problem}");
}
