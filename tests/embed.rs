//! Embeds: `/datasets/{id}/embed` may be framed by any site and shows the same filtered
//! preview and chart as the dataset page; every other page refuses to be framed.

use crate::common::TestServer;

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeds_may_be_framed_and_nothing_else() {
    let s = TestServer::standard().await;

    let res = s.get("/datasets/air-quality/embed?table=readings&station=ST03&order=-id").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-security-policy").as_deref(), Some("frame-ancestors *"));
    assert!(header(&res, "x-frame-options").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("<table"), "{html}");
    assert!(html.contains("ST03") && !html.contains("ST04"), "the filter applies: {html}");
    assert_eq!(html.matches("<tr>").count(), 21, "a header and 20 rows");
    assert!(html.contains("target=\"_blank\""), "the source opens outside the frame");
    assert!(html.contains("/datasets/air-quality?table=readings"));
    assert!(!html.contains("<form"), "nothing to submit from inside another site");

    let chart = s
        .get("/datasets/air-quality/embed?table=readings&chart.x=station&chart.agg=count&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(chart.contains("<svg"), "{chart}");
    assert!(chart.contains("lang=\"en\""));

    // The dataset page offers the code, and may not be framed itself.
    let res = s.get("/datasets/air-quality?table=readings&station=ST03").await;
    assert_eq!(header(&res, "content-security-policy").as_deref(), Some("frame-ancestors 'none'"));
    assert_eq!(header(&res, "x-frame-options").as_deref(), Some("DENY"));
    let page = res.text().await.unwrap();
    assert!(page.contains("&lt;iframe src=&quot;"), "the embed code is shown as text");
    assert!(page.contains("/datasets/air-quality/embed?table=readings&amp;station=ST03"), "with the page's filters");
    assert!(page.contains("application/atom+xml"), "the page names its feed");
    for path in ["/", "/datasets", "/login", "/api/v1/datasets"] {
        let res = s.get(path).await;
        assert_eq!(header(&res, "content-security-policy").as_deref(), Some("frame-ancestors 'none'"), "{path}");
    }
    assert_eq!(s.get("/datasets/nope/embed").await.status(), 404);
}
