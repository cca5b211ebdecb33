//! The built-in demo catalog: real-shaped Mongolian agency statistics, generated
//! deterministically and ingested through the real pipeline (so the demo also shows what
//! ingest does with a semicolon-separated, BOM-prefixed file with Cyrillic headers).

use std::fmt::Write as _;

use opendata_datasets::{DatasetMeta, Organization, Store};
use opendata_ingest::{IngestJob, ReadOptions};
use search_index::SearchIndex;

use crate::publish;

/// The 21 aimags and the capital, with their NSO codes (kept as text: leading zeros).
pub const AIMAGS: &[(&str, &str, &str)] = &[
    ("011", "Улаанбаатар", "Ulaanbaatar"),
    ("021", "Дорнод", "Dornod"),
    ("022", "Сүхбаатар", "Sukhbaatar"),
    ("023", "Хэнтий", "Khentii"),
    ("041", "Төв", "Tuv"),
    ("042", "Говьсүмбэр", "Govisumber"),
    ("043", "Сэлэнгэ", "Selenge"),
    ("044", "Дорноговь", "Dornogovi"),
    ("045", "Дархан-Уул", "Darkhan-Uul"),
    ("046", "Өмнөговь", "Umnugovi"),
    ("048", "Дундговь", "Dundgovi"),
    ("061", "Орхон", "Orkhon"),
    ("062", "Өвөрхангай", "Uvurkhangai"),
    ("063", "Булган", "Bulgan"),
    ("064", "Баянхонгор", "Bayankhongor"),
    ("065", "Архангай", "Arkhangai"),
    ("067", "Хөвсгөл", "Khuvsgul"),
    ("081", "Завхан", "Zavkhan"),
    ("082", "Говь-Алтай", "Govi-Altai"),
    ("083", "Баян-Өлгий", "Bayan-Ulgii"),
    ("084", "Ховд", "Khovd"),
    ("085", "Увс", "Uvs"),
];

/// A small deterministic generator (xorshift64*), so every demo is byte-identical.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn org(id: &str, title: &str, title_en: &str, url: &str) -> Organization {
    Organization {
        id: id.into(),
        title: title.into(),
        title_en: Some(title_en.into()),
        description: String::new(),
        url: Some(url.into()),
    }
}

struct DemoTable {
    meta: DatasetMeta,
    table: &'static str,
    table_title: &'static str,
    file_name: &'static str,
    bytes: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn meta(
    id: &str,
    org: &str,
    title: &str,
    title_en: &str,
    desc: &str,
    desc_en: &str,
    tags: &[&str],
    source: &str,
) -> DatasetMeta {
    DatasetMeta {
        id: id.into(),
        organization: org.into(),
        title: title.into(),
        title_en: Some(title_en.into()),
        description: desc.into(),
        description_en: Some(desc_en.into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        license: "CC-BY-4.0".into(),
        source: Some(source.into()),
        ..Default::default()
    }
}

fn organizations() -> Vec<Organization> {
    vec![
        org("nso", "Үндэсний статистикийн хороо", "National Statistics Office of Mongolia", "https://www.1212.mn"),
        org("agaar", "Агаарын чанарын алба", "Air Quality Agency of Ulaanbaatar", "https://agaar.mn"),
        org("mof", "Сангийн яам", "Ministry of Finance", "https://mof.gov.mn"),
        org(
            "mlsp",
            "Хөдөлмөр, нийгмийн хамгааллын яам",
            "Ministry of Labour and Social Protection",
            "https://mlsp.gov.mn",
        ),
    ]
}

fn tables() -> Vec<DemoTable> {
    let mut rng = Rng(0x05EE_D0F0_DA7A);
    let mut out = Vec::new();

    // Population: semicolons, BOM, Cyrillic headers, codes with leading zeros, a ".." gap.
    let mut s = String::from("\u{feff}Он;Код;Аймаг, нийслэл;Хүн амын тоо;Эрэгтэй;Эмэгтэй\n");
    for year in 2015..=2024 {
        for (i, (code, name, _)) in AIMAGS.iter().enumerate() {
            let base = if i == 0 { 1_400_000.0 } else { 40_000.0 + 80_000.0 * rng.unit() };
            let total = (base * (1.0 + 0.012 * f64::from(year - 2015))) as u64;
            let men = total * (480 + rng.range(20)) / 1000;
            if year == 2016 && i == 5 {
                let _ = writeln!(s, "{year};{code};{name};..;..;..");
            } else {
                let _ = writeln!(s, "{year};{code};{name};{total};{men};{}", total - men);
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "population-by-aimag",
            "nso",
            "Хүн амын тоо, аймаг, нийслэлээр",
            "Population by aimag and the capital",
            "Оны эцсийн байдлаарх хүн амын тоо, хүйсээр, аймаг, нийслэлээр.",
            "Resident population at the end of each year, by sex, for each aimag and Ulaanbaatar.",
            &["хүн ам", "population", "аймаг"],
            "https://www.1212.mn",
        ),
        table: "population",
        table_title: "Хүн амын тоо",
        file_name: "population_by_aimag.csv",
        bytes: s.into_bytes(),
    });

    // Livestock census: long format, comma-separated.
    let species = [("Хонь", "sheep"), ("Ямаа", "goat"), ("Үхэр", "cattle"), ("Адуу", "horse"), ("Тэмээ", "camel")];
    let mut s = String::from("year,aimag_code,aimag,species,species_en,head_count\n");
    for year in 2015..=2024 {
        for (code, name, _) in AIMAGS.iter().skip(1) {
            for (sp, sp_en) in species {
                let scale = match sp_en {
                    "sheep" | "goat" => 1_500_000.0,
                    "camel" => 30_000.0,
                    _ => 200_000.0,
                };
                let n = (scale * (0.3 + rng.unit())) as u64;
                let _ = writeln!(s, "{year},{code},{name},{sp},{sp_en},{n}");
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "livestock-census",
            "nso",
            "Малын тооллого, төрлөөр",
            "Livestock census by species",
            "Жил бүрийн эцсийн малын тоо, аймаг, төрлөөр (мянган толгой биш, толгойгоор).",
            "Year-end livestock count by aimag and species, in head.",
            &["мал", "livestock", "хөдөө аж ахуй"],
            "https://www.1212.mn",
        ),
        table: "livestock",
        table_title: "Малын тоо",
        file_name: "livestock.csv",
        bytes: s.into_bytes(),
    });

    // Consumer prices in Ulaanbaatar: monthly dates, decimals.
    let items = [
        ("Гурил, 1-р зэрэг", "кг", 2_100.0),
        ("Хонины мах", "кг", 14_000.0),
        ("Үхрийн мах", "кг", 16_500.0),
        ("Сүү", "л", 3_200.0),
        ("Талх", "ш", 2_400.0),
        ("Шатахуун А-92", "л", 2_600.0),
    ];
    let mut s = String::from("Огноо,Бараа,Хэмжих нэгж,Үнэ (төгрөг)\n");
    for year in 2019..=2025 {
        for month in 1..=12 {
            for (item, unit, base) in items {
                let drift = 1.0 + 0.07 * f64::from(year - 2019) + 0.01 * f64::from(month);
                let price = base * drift * (0.95 + 0.1 * rng.unit());
                // Quoted: an item name may hold a comma (`Гурил, 1-р зэрэг`).
                let _ = writeln!(s, "{year}-{month:02}-01,\"{item}\",{unit},{price:.1}");
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "consumer-prices-ub",
            "nso",
            "Өргөн хэрэглээний барааны үнэ, Улаанбаатар",
            "Consumer prices of staple goods, Ulaanbaatar",
            "Улаанбаатар хотын зах, дэлгүүрийн сарын дундаж үнэ.",
            "Monthly average retail prices of staple goods in Ulaanbaatar markets.",
            &["үнэ", "prices", "инфляци"],
            "https://www.1212.mn",
        ),
        table: "prices",
        table_title: "Сарын дундаж үнэ",
        file_name: "prices.csv",
        bytes: s.into_bytes(),
    });

    // Air quality: hourly readings, many pages, gaps and an invalid flag.
    let stations =
        [("UB01", "Баруун 4 зам"), ("UB02", "Толгойт"), ("UB03", "Нисэх"), ("UB04", "Баянхошуу"), ("UB05", "Амгалан")];
    let indicators =
        [("PM2.5", "мкг/м3", 60.0), ("PM10", "мкг/м3", 90.0), ("NO2", "мкг/м3", 30.0), ("SO2", "мкг/м3", 15.0)];
    let mut s = String::from("observed_at,station_code,station,indicator,value,unit,is_valid\n");
    for hour in 0..(24 * 90) {
        let day = hour / 24 + 1;
        let (month, dom) = if day <= 31 {
            (1, day)
        } else if day <= 59 {
            (2, day - 31)
        } else {
            (3, day - 59)
        };
        for (code, name) in stations {
            for (ind, unit, base) in indicators {
                let winter = if hour % 24 < 9 || hour % 24 > 18 { 2.5 } else { 1.0 };
                let value = base * winter * (0.3 + 1.4 * rng.unit());
                let valid = rng.range(100) >= 2;
                let value = if rng.range(100) < 3 { String::new() } else { format!("{value:.1}") };
                let _ = writeln!(
                    s,
                    "2024-{month:02}-{dom:02} {:02}:00:00,{code},{name},{ind},{value},{unit},{valid}",
                    hour % 24
                );
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "air-quality-ub",
            "agaar",
            "Агаарын чанарын цагийн хэмжилт, Улаанбаатар",
            "Hourly air quality readings, Ulaanbaatar",
            "Улаанбаатарын агаарын чанарын харуулуудын PM2.5, PM10, NO2, SO2 цагийн хэмжилт, 2024 оны өвөл.",
            "Hourly PM2.5, PM10, NO2 and SO2 readings from Ulaanbaatar's monitoring stations, winter 2024.",
            &["агаарын бохирдол", "air quality", "PM2.5"],
            "https://agaar.mn",
        ),
        table: "readings",
        table_title: "Цагийн хэмжилт",
        file_name: "readings.csv",
        bytes: s.into_bytes(),
    });

    // Budget execution: tab-separated, amounts in billion MNT.
    let lines = [
        ("Нийт орлого", "Total revenue", 1_500.0),
        ("Татварын орлого", "Tax revenue", 1_200.0),
        ("Нийт зарлага", "Total expenditure", 1_650.0),
        ("Хөрөнгийн зардал", "Capital expenditure", 300.0),
    ];
    let mut s = String::from("Он\tСар\tҮзүүлэлт\tIndicator\tДүн, тэрбум төгрөг\n");
    for year in 2020..=2025 {
        for month in 1..=12 {
            for (mn, en, base) in lines {
                let v = base * (1.0 + 0.09 * f64::from(year - 2020)) * (0.8 + 0.4 * rng.unit());
                let _ = writeln!(s, "{year}\t{month}\t{mn}\t{en}\t{v:.2}");
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "budget-execution",
            "mof",
            "Улсын төсвийн гүйцэтгэл, сараар",
            "State budget execution, monthly",
            "Нэгдсэн төсвийн орлого, зарлагын сарын гүйцэтгэл.",
            "Monthly execution of consolidated budget revenue and expenditure.",
            &["төсөв", "budget", "санхүү"],
            "https://mof.gov.mn",
        ),
        table: "execution",
        table_title: "Сарын гүйцэтгэл",
        file_name: "budget.tsv",
        bytes: s.into_bytes(),
    });

    // Registered unemployment by aimag, quarterly.
    let mut s = String::from("Улирал,Аймаг,Бүртгэлтэй ажилгүй иргэд,Ажилгүйдлийн түвшин %\n");
    for year in 2021..=2025 {
        for q in 1..=4 {
            for (_, name, _) in AIMAGS {
                let n = 300 + rng.range(4_000);
                let rate = 3.0 + 9.0 * rng.unit();
                let _ = writeln!(s, "{year}-Q{q},{name},{n},{rate:.1}");
            }
        }
    }
    out.push(DemoTable {
        meta: meta(
            "registered-unemployment",
            "mlsp",
            "Бүртгэлтэй ажилгүйчүүд, аймгаар",
            "Registered unemployment by aimag",
            "Хөдөлмөр эрхлэлтийн албанд бүртгэлтэй ажилгүй иргэдийн тоо, улирлаар.",
            "Unemployed people registered with the employment offices, quarterly, by aimag.",
            &["ажилгүйдэл", "unemployment", "хөдөлмөр"],
            "https://mlsp.gov.mn",
        ),
        table: "quarterly",
        table_title: "Улирлын тоо",
        file_name: "unemployment.csv",
        bytes: s.into_bytes(),
    });

    // Aimag centres: longitude and latitude columns, which the ingest puts on a map.
    let mut s = String::from("Код,Аймаг,Төв,Уртраг,Өргөрөг\n");
    for ((code, name, _), (centre, lon, lat)) in AIMAGS.iter().zip(CENTRES) {
        let _ = writeln!(s, "{code},{name},{centre},{lon},{lat}");
    }
    out.push(DemoTable {
        meta: meta(
            "aimag-centres",
            "nso",
            "Аймгийн төвүүдийн байршил",
            "Where the aimag centres are",
            "Аймаг, нийслэлийн төвийн газарзүйн байршил, WGS 84 градусаар.",
            "The location of each aimag's centre and the capital, in WGS 84 degrees.",
            &["газарзүй", "geography", "аймаг"],
            "https://www.1212.mn",
        ),
        table: "centres",
        table_title: "Аймгийн төвүүд",
        file_name: "aimag_centres.csv",
        bytes: s.into_bytes(),
    });
    out
}

/// Each aimag's centre, in [`AIMAGS`]' order: its name, longitude and latitude (rounded).
const CENTRES: [(&str, f64, f64); 22] = [
    ("Улаанбаатар", 106.92, 47.92),
    ("Чойбалсан", 114.53, 48.07),
    ("Баруун-Урт", 113.28, 46.68),
    ("Чингис", 110.66, 47.32),
    ("Зуунмод", 106.95, 47.71),
    ("Чойр", 108.36, 46.36),
    ("Сүхбаатар", 106.21, 50.23),
    ("Сайншанд", 110.14, 44.89),
    ("Дархан", 105.97, 49.49),
    ("Даланзадгад", 104.42, 43.57),
    ("Мандалговь", 106.27, 45.76),
    ("Эрдэнэт", 104.08, 49.03),
    ("Арвайхээр", 102.78, 46.27),
    ("Булган", 103.53, 48.81),
    ("Баянхонгор", 100.72, 46.19),
    ("Цэцэрлэг", 101.45, 47.47),
    ("Мөрөн", 100.16, 49.64),
    ("Улиастай", 96.85, 47.74),
    ("Алтай", 96.25, 46.37),
    ("Өлгий", 89.97, 48.97),
    ("Ховд", 91.64, 48.01),
    ("Улаангом", 92.07, 49.98),
];

/// Installs the demo catalog into an empty data folder. Returns how many datasets it
/// added: none when the catalog already has datasets, so a second start reuses them.
pub fn install(store: &Store, index: &SearchIndex) -> anyhow::Result<usize> {
    if store.catalog().totals()?.datasets > 0 {
        return Ok(0);
    }
    for o in organizations() {
        store.catalog().upsert_organization(&o)?;
    }
    let dir = tempfile::tempdir()?;
    let tables = tables();
    for t in &tables {
        let path = dir.path().join(t.file_name);
        std::fs::write(&path, &t.bytes)?;
        let job = IngestJob {
            source: path,
            source_name: t.file_name.into(),
            dataset: t.meta.clone(),
            table: t.table.into(),
            table_title: Some(t.table_title.into()),
            options: ReadOptions::default(),
            columns: Default::default(),
            sort_by: None,
            limits: Default::default(),
            create_dataset: true,
            draft: false,
        };
        publish::ingest_and_index(store, index, &job, &mut |_| {})?;
    }
    Ok(tables.len())
}
