//! Every kind of file agencies send, made or shipped by the project: encodings, workbooks,
//! JSON shapes, messy layouts and Parquet, each read with no option and checked over HTTP.

use serde_json::Value;

use crate::common::{TestServer, dataset, fixture, ingest};

fn column<'a>(table: &'a Value, name: &str) -> &'a Value {
    table["columns"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

fn table<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["tables"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no table {name}"))
}

fn types(t: &Value) -> Vec<(String, String)> {
    t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["type"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf16_and_legacy_mongolian_text() {
    let s = TestServer::start(|data| {
        // UTF-16 LE with a BOM, tab-separated, as Excel's "Unicode text" saves it.
        let text = "Аймаг\tХүн ам\r\nӨмнөговь\t69 897\r\nХөвсгөл\t137 000\r\n";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let path = data.join("unicode.txt");
        std::fs::write(&path, utf16).unwrap();
        ingest(data, &path, &dataset("utf16", "nso", "UTF-16"), "main").unwrap();
        // Windows-1251 from a legacy Mongolian font: Ү ү Ө ө were typed as Ї ї Є є.
        let legacy = "Аймаг;Хїн амын тоо\nЄмнєговь;69897\nХєвсгєл;137000\nДорнод;80000\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(legacy);
        let path = data.join("legacy.csv");
        std::fs::write(&path, bytes).unwrap();
        ingest(data, &path, &dataset("legacy", "nso", "Legacy"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/utf16", 200).await;
    assert_eq!(types(&d["tables"][0]), pairs(&[("aimag", "string"), ("khun_am", "integer")]));
    let rows = s.json("/api/v1/datasets/utf16/tables/main/rows?aimag=Өмнөговь", 200).await;
    assert_eq!(rows["rows"][0]["khun_am"], 69_897);

    let d = s.json("/api/v1/datasets/legacy", 200).await;
    assert_eq!(column(&d["tables"][0], "khun_amyn_too")["label"], "Хүн амын тоо");
    let rows = s.json("/api/v1/datasets/legacy/tables/main/rows?aimag=Хөвсгөл", 200).await;
    assert_eq!(rows["rows"][0]["khun_amyn_too"], 137_000);
    let r = s.json("/api/v1/datasets/legacy/tables/main/versions/1/report", 200).await;
    let decisions = &r["report"]["decisions"];
    assert_eq!(decisions["encoding"], "windows-1251");
    assert!(decisions["encoding_reason"].as_str().unwrap().contains("Ү ү Ө ө"), "{decisions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_becomes_one_table_per_data_sheet() {
    let s = TestServer::start(|data| {
        let out = ingest(data, &fixture("budget.xlsx"), &dataset("budget", "mof", "Төсөв"), "main").unwrap();
        let skipped: Vec<&str> = out.skipped.iter().map(|s| s.part.as_str()).collect();
        assert_eq!(skipped, ["sheet `Агуулга`", "sheet `Хоосон`"]);
        ingest(data, &fixture("prices.xls"), &dataset("meat-prices", "nso", "Махны үнэ"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/budget", 200).await;
    let income = table(&d, "orlogo-2023");
    assert_eq!(income["title"], "Орлого 2023");
    assert_eq!(income["row_count"], 4);
    // A title row, a two-row header with merged cells, `...` for missing, a source note below.
    assert_eq!(
        types(income),
        pairs(&[
            ("aimag", "string"),
            ("c_2023_on_tolovlogoo", "float"),
            ("c_2023_on_guitsetgel", "float"),
            ("oorchlolt_khuv", "float"),
            ("oorchlolt_ognoo", "date"),
        ])
    );
    assert_eq!(column(income, "c_2023_on_tolovlogoo")["label"], "2023 он / Төлөвлөгөө");
    assert_eq!(column(income, "c_2023_on_tolovlogoo")["stats"]["null_count"], 1);
    let spending = table(&d, "zarlaga-2023");
    assert_eq!(types(spending), pairs(&[("aimag", "string"), ("kod", "string"), ("zarlaga", "float")]));
    let r = s.json("/api/v1/datasets/budget/tables/orlogo-2023/versions/1/report", 200).await;
    let dropped = &r["report"]["dropped"];
    assert!(dropped.as_array().unwrap().iter().any(|d| d["text"] == "Эх сурвалж: Сангийн яам"), "{dropped}");
    assert_eq!(r["report"]["decisions"]["part"], "sheet `Орлого 2023`");

    // Legacy XLS: two note rows above the header, dates stored as serial numbers.
    let d = s.json("/api/v1/datasets/meat-prices", 200).await;
    assert_eq!(types(&d["tables"][0]), pairs(&[("ognoo", "date"), ("khoniny_makh_kg_togrog", "integer")]));
    let rows = s.json("/api/v1/datasets/meat-prices/tables/main/rows?limit=1", 200).await;
    assert_eq!(rows["rows"][0]["ognoo"], "2023-03-15");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shapes_become_tables() {
    let s = TestServer::start(|data| {
        let wrapped = r#"{"Response":"success","DataList":[
            {"CODE":"MN18101","SCR_MN":"Улиастай","DTVAL_CO":"16397","EMPTY":null,"geo":{"lat":47.7,"lon":96.8}},
            {"CODE":"MN18104","SCR_MN":"Алдархаан","DTVAL_CO":"4012","EMPTY":null,"geo":{"lat":47.6,"lon":96.6}}]}"#;
        let path = data.join("nso.json");
        std::fs::write(&path, wrapped).unwrap();
        ingest(data, &path, &dataset("nso-api", "nso", "NSO API"), "main").unwrap();
        let ndjson = "{\"t\":\"2024-01-01T10:00:00\",\"pm25\":35.5}\n{\"t\":\"2024-01-01T11:00:00\",\"pm25\":null}\n";
        let path = data.join("air.ndjson");
        std::fs::write(&path, ndjson).unwrap();
        ingest(data, &path, &dataset("air-stream", "agaar", "Air"), "main").unwrap();
        let geo = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"name":"Өмнөговь","code":"345"},"geometry":{"type":"Point","coordinates":[104.4,43.6]}},
            {"type":"Feature","properties":{"name":"Дорнод","code":"211"},"geometry":{"type":"MultiPolygon","coordinates":[[[[111.0,46.0],[119.9,46.5],[115.0,50.2],[111.0,46.0]]]]}}]}"#;
        let path = data.join("aimags.json");
        std::fs::write(&path, geo).unwrap();
        ingest(data, &path, &dataset("aimags", "nso", "Aimags"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/nso-api", 200).await;
    // Numbers sent as strings are numbers; codes and nested objects are columns.
    assert_eq!(
        types(&d["tables"][0]),
        pairs(&[
            ("code", "string"),
            ("scr_mn", "string"),
            ("dtval_co", "integer"),
            ("empty", "string"),
            ("geo_lat", "float"),
            ("geo_lon", "float"),
        ])
    );
    let r = s.json("/api/v1/datasets/nso-api/tables/main/versions/1/report", 200).await;
    assert_eq!(r["report"]["decisions"]["part"], "records at $.DataList");

    let d = s.json("/api/v1/datasets/air-stream", 200).await;
    assert_eq!(types(&d["tables"][0]), pairs(&[("t", "datetime"), ("pm25", "float")]));

    let d = s.json("/api/v1/datasets/aimags", 200).await;
    let t = &d["tables"][0];
    assert_eq!(column(t, "code")["type"], "string");
    assert_eq!(column(t, "bbox_max_lat")["stats"]["max"], 50.2);
    let rows = s.json("/api/v1/datasets/aimags/tables/main/rows?name=Дорнод", 200).await;
    let row = &rows["rows"][0];
    assert_eq!(row["geometry_type"], "MultiPolygon");
    assert_eq!((row["bbox_min_lon"].as_f64(), row["bbox_max_lon"].as_f64()), (Some(111.0), Some(119.9)));
    let geometry: Value = serde_json::from_str(row["geometry"].as_str().unwrap()).unwrap();
    assert_eq!(geometry["type"], "MultiPolygon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messy_delimited_layouts() {
    let s = TestServer::start(|data| {
        // GENESIS style: title lines, a two-row header with units, decimal commas, `-` for
        // missing, codes with leading zeros, a © footer, no newline at the end.
        let genesis = "GENESIS-Tabelle: 44211-11i\nInvestitionen nach Kreisen;;;;\nJahr;;;;\n\
            ;;;Investitionen;Anteil\n;;;Tsd. EUR;Prozent\n\
            2022;05;Nordrhein-Westfalen;671743;3,3\n2022;051;  Düsseldorf, Regierungsbezirk;127083;2,9\n\
            2022;05111;    Düsseldorf, Stadt;-;12,5\n\n© IT.NRW, Düsseldorf, 2024";
        let path = data.join("genesis.csv");
        std::fs::write(&path, genesis).unwrap();
        ingest(data, &path, &dataset("genesis", "nrw", "GENESIS"), "main").unwrap();
        // HXL tags under the header; thousands separators with padding; periods.
        let hxl = "date,item,price,share,quarter\n#date,#item+name,#value,,#date+quarter\n\
            2024-01,Wheat flour,\"1,250  \",12.5%,2024Q1\n2024-02,Rice,\"2,010\",7%,Q2 2024\n";
        let path = data.join("hxl.csv");
        std::fs::write(&path, hxl).unwrap();
        ingest(data, &path, &dataset("hxl", "wfp", "HXL"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/genesis", 200).await;
    let t = &d["tables"][0];
    assert_eq!(
        types(t),
        pairs(&[
            ("column_1", "integer"),
            ("column_2", "string"),
            ("column_3", "string"),
            ("investitionen_tsd_eur", "integer"),
            ("anteil_prozent", "float"),
        ])
    );
    assert_eq!(t["row_count"], 3);
    assert_eq!(column(t, "column_2")["stats"]["min"], "05");
    assert_eq!(column(t, "anteil_prozent")["stats"]["max"], 12.5);
    assert_eq!(column(t, "investitionen_tsd_eur")["stats"]["null_count"], 1);
    let r = s.json("/api/v1/datasets/genesis/tables/main/versions/1/report", 200).await;
    let report = &r["report"];
    assert_eq!(report["decisions"]["delimiter"], ";");
    assert_eq!(
        report["decisions"]["layout"],
        "2 header rows (4 to 5) merged into one label per column; 3 title or note row(s) above it dropped"
    );
    let dropped = report["dropped"].as_array().unwrap();
    assert!(dropped.iter().any(|d| d["row"] == 10 && d["reason"] == "note below the table"), "{dropped:?}");

    let d = s.json("/api/v1/datasets/hxl", 200).await;
    let t = &d["tables"][0];
    assert_eq!(
        types(t),
        pairs(&[("date_", "date"), ("item", "string"), ("price", "integer"), ("share", "float"), ("quarter", "date")])
    );
    let rows = s.json("/api/v1/datasets/hxl/tables/main/rows?item=Rice", 200).await;
    assert_eq!(
        rows["rows"][0],
        serde_json::json!({"date_": "2024-02-01", "item": "Rice", "price": 2010, "share": 7.0, "quarter": "2024-04-01"})
    );
    let r = s.json("/api/v1/datasets/hxl/tables/main/versions/1/report", 200).await;
    assert_eq!(r["report"]["dropped"][0]["reason"], "HXL hashtag row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_input_is_renormalized() {
    let s = TestServer::start(|data| {
        let csv = data.join("in.csv");
        std::fs::write(&csv, "Station,Reading,When\nA,1.5,2024-01-01 10:00:00\nB,2,2024-01-01 11:00:00\n").unwrap();
        let out = ingest(data, &csv, &dataset("readings-csv", "agaar", "CSV"), "main").unwrap();
        // The portal's own Parquet, sent back under a misspelt name, is read by content.
        let parquet = data.join(&out.tables[0].version.file);
        let sent = data.join("export.paruqet");
        std::fs::copy(parquet, &sent).unwrap();
        ingest(data, &sent, &dataset("readings-parquet", "agaar", "Parquet"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/readings-parquet", 200).await;
    assert_eq!(types(&d["tables"][0]), pairs(&[("station", "string"), ("reading", "float"), ("when_", "datetime")]));
    assert_eq!(d["tables"][0]["versions"][0]["source"]["format"], "parquet");
    let rows = s.json("/api/v1/datasets/readings-parquet/tables/main/rows?station=B", 200).await;
    assert_eq!(rows["rows"][0]["reading"], 2.0);
}
