//! Every string of the web pages, in Mongolian and English.

/// The reader's language: Mongolian unless `?lang=en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Mn,
    En,
}

impl Lang {
    pub fn parse(param: Option<&str>) -> Self {
        if param == Some("en") { Lang::En } else { Lang::Mn }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Mn => "mn",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Lang::Mn => Lang::En,
            Lang::En => Lang::Mn,
        }
    }

    /// The `lang` parameter links carry: none for the default.
    pub fn param(self) -> Option<&'static str> {
        (self == Lang::En).then_some("en")
    }
}

/// (key, Mongolian, English)
const STRINGS: &[(&str, &str, &str)] = &[
    ("site", "Нээлттэй өгөгдөл", "Open data"),
    ("tagline", "Төрийн байгууллагуудын нээлттэй өгөгдөл", "Open data from public agencies"),
    ("search", "Хайх", "Search"),
    ("search_placeholder", "Жишээ нь: хүн ам аймаг", "For example: population by aimag"),
    ("language_name", "Монгол", "English"),
    ("api", "API баримт бичиг", "API documentation"),
    ("datasets", "өгөгдлийн багц", "datasets"),
    ("organizations", "Байгууллагууд", "Organizations"),
    ("rows", "мөр", "rows"),
    ("recent", "Сүүлд шинэчлэгдсэн", "Recently updated"),
    ("filters", "Шүүлтүүр", "Filters"),
    ("tag", "Шошго", "Tag"),
    ("format", "Формат", "Format"),
    ("license", "Лиценз", "License"),
    ("results", "үр дүн", "results"),
    ("sort", "Эрэмбэ", "Sort"),
    ("sort_relevance", "Хамааралтай", "Relevance"),
    ("sort_updated", "Шинэ", "Newest"),
    ("sort_title", "Нэрээр", "Title"),
    ("sort_popular", "Их ашиглагдсан", "Most used"),
    ("matched_columns", "Тохирсон багана", "Matching columns"),
    ("matched_values", "Тохирсон утга", "Matching values"),
    ("pages", "Хуудас", "Pages"),
    ("updated", "Шинэчлэгдсэн", "Updated"),
    ("version", "Хувилбар", "Version"),
    ("answer", "Хариулт", "Answer"),
    (
        "answer_ambiguous",
        "Асуултад хэд хэдэн хариулт тохирч байна: аль нь болохыг сонгоно уу.",
        "Several answers fit the question: choose the one you meant.",
    ),
    ("evidence", "Нотлох мөр (API)", "Evidence row (API)"),
    ("columns", "Баганын тайлбар", "Column dictionary"),
    ("column", "Багана", "Column"),
    ("type", "Төрөл", "Type"),
    ("range", "Хүрээ", "Range"),
    ("cite", "Эх сурвалжаа иш татах", "Cite this dataset"),
    ("preview", "Өгөгдлийг харах", "Preview the data"),
    ("apply", "Шүүх", "Apply"),
    ("download", "Татах", "Download"),
    ("next_page", "Дараагийн хуудас", "Next page"),
    ("api_snippets", "API-аар авах", "Get it with code"),
    ("versions", "Хувилбарууд", "Versions"),
    ("columns_added", "нэмэгдсэн багана", "columns added"),
    ("columns_removed", "хасагдсан багана", "columns removed"),
    ("quality_report", "чанарын тайлан", "quality report"),
    ("years", "Он", "Years"),
    ("from", "эхлэх", "from"),
    ("to", "дуусах", "to"),
    ("distribution", "Тархалт", "Distribution"),
    ("source", "Эх сурвалж", "Source"),
    ("distinct", "ялгаатай утга", "distinct"),
    ("empty", "хоосон", "empty"),
    ("most_common", "Хамгийн олон", "Most common"),
    ("histogram", "Тархалтын график:", "Histogram of"),
    ("quality", "Өгөгдлийн чанар", "Data quality"),
    ("rows_kept", "мөр хадгалсан", "rows kept"),
    ("rows_rejected", "утга нь татгалзсан мөр", "rows with rejected values"),
    ("rows_dropped", "хассан мөр", "Rows left out"),
    ("warnings", "анхааруулга", "warnings"),
    ("read_as", "Уншсан байдал", "Read as"),
    ("layout", "Бүтэц", "Layout"),
    ("stored_order", "Хадгалсан эрэмбэ", "Stored order"),
    ("embed", "Өөр сайтад байршуулах", "Embed on another site"),
    ("usage", "Ашиглалт", "Use"),
    ("map", "Газрын зураг", "Map"),
    ("map_failed", "Газрын зургийг зурж чадсангүй", "The map could not be drawn"),
    (
        "map_noscript",
        "Газрын зураг JavaScript шаарддаг; ижил мөрүүд дээрх хүснэгтэд байна.",
        "The map needs JavaScript; the same rows are in the table above.",
    ),
    (
        "map_sample",
        "Шүүлтүүрт тохирох эхний 10,000 мөр хүртэл. Бүгдийг нь татах:",
        "Up to the first 10,000 rows of the filter. All of them:",
    ),
    ("views", "үзэлт", "views"),
    ("downloads", "татан авалт", "downloads"),
    ("api_calls", "API дуудлага", "API calls"),
    ("last_30_days", "сүүлийн 30 хоногт", "in the last 30 days"),
    ("most_used", "Их ашиглагдсан өгөгдөл", "Most used datasets"),
    (
        "most_used_intro",
        "Сүүлийн 30 хоногийн үзэлт, татан авалт, API дуудлагаар. Уншигчийн талаар мэдээлэл хадгалдаггүй.",
        "By views, downloads and API calls over the last 30 days. Nothing about readers is kept.",
    ),
    ("nothing_used", "Одоогоор ашиглалт бүртгэгдээгүй байна.", "No use has been recorded yet."),
    ("value", "Утга", "Value"),
    ("reason", "Шалтгаан", "Reason"),
    ("chart", "График байгуулах", "Build a chart"),
    ("chart_x", "X тэнхлэг", "X axis"),
    ("chart_y", "Y тэнхлэг", "Y axis"),
    ("chart_agg", "Нэгтгэх арга", "Aggregate"),
    ("chart_group", "Бүлэглэх", "Group by"),
    ("chart_kind", "Төрөл", "Kind"),
    ("agg_count", "Тоо", "Count"),
    ("agg_sum", "Нийлбэр", "Sum of"),
    ("agg_mean", "Дундаж", "Mean of"),
    ("agg_min", "Хамгийн бага", "Minimum of"),
    ("agg_max", "Хамгийн их", "Maximum of"),
    ("line", "Шугаман", "Line"),
    ("bar", "Баганан", "Bar"),
    ("draw", "Зурах", "Draw"),
    ("hidden_series", "бага бүлгийг харуулаагүй", "smaller groups not shown"),
    ("sign_in", "Нэвтрэх", "Sign in"),
    ("sign_out", "Гарах", "Sign out"),
    ("user_id", "Хэрэглэгчийн нэр", "User"),
    ("password", "Нууц үг", "Password"),
    ("form_expired", "Маягтын хугацаа дууссан тул дахин илгээнэ үү.", "The form has expired: send it again."),
    ("dashboard", "Нийтлэгчийн самбар", "Publisher's dashboard"),
    ("signed_in_as", "Нэвтэрсэн:", "Signed in as"),
    ("no_organizations", "Та ямар нэг байгууллагын гишүүн биш байна.", "You are not a member of any organization."),
    ("dataset", "Өгөгдөл", "Dataset"),
    ("tables", "Хүснэгт", "Tables"),
    ("new_dataset", "Шинэ өгөгдөл", "New dataset"),
    ("organization", "Байгууллага", "Organization"),
    ("drafts", "Ноорог", "Drafts"),
    ("draft", "Ноорог", "Draft"),
    ("dataset_id", "Өгөгдлийн таних нэр (латин, жижиг үсэг)", "Dataset id (lowercase Latin)"),
    ("title_mn", "Гарчиг (монголоор)", "Title (Mongolian)"),
    ("title_en", "Гарчиг (англиар)", "Title (English)"),
    ("description_mn", "Тайлбар (монголоор)", "Description (Mongolian)"),
    ("description_en", "Тайлбар (англиар)", "Description (English)"),
    ("tags", "Түлхүүр үгс (таслалаар)", "Tags (comma-separated)"),
    ("create", "Үүсгэх", "Create"),
    ("public_page", "Нийтэд харагдах хуудас", "Public page"),
    ("job", "Ажил", "Job"),
    ("no_tables", "Одоогоор хүснэгт алга.", "No tables yet."),
    ("scheduled_for", "Нийтлэх хугацаа:", "Scheduled for"),
    ("rows_read", "мөр уншсан", "rows read"),
    ("changes", "Өөрчлөлт", "Changes"),
    ("publish_now", "Одоо нийтлэх", "Publish now"),
    ("publish_at", "Нийтлэх огноо, цаг", "Publish at"),
    ("schedule", "Товлох", "Schedule"),
    ("upload", "Файл оруулах", "Upload a file"),
    ("table_name", "Хүснэгтийн нэр", "Table name"),
    ("choose_file", "Файлаа сонгох эсвэл энд чирж оруулах", "Choose a file, or drop it here"),
    ("upload_draft", "Ноорог болгон оруулах", "Upload as a draft"),
    (
        "breaking",
        "Энэ хувилбар API хэрэглэгчдийн ашигладаг баганыг хасах эсвэл төрлийг нь өөрчилнө:",
        "This version removes or retypes columns that API users rely on:",
    ),
    ("confirm_breaking", "Ойлгосон, нийтлэх", "I understand; publish it"),
    ("read_again", "Засаж дахин унших", "Correct and read again"),
    ("edit_metadata", "Мэдээллийг засах", "Edit the metadata"),
    ("edit_columns", "Баганын тайлбарыг засах", "Edit the column dictionary"),
    ("label", "Нэр (уншигчид харагдах)", "Label (what readers see)"),
    ("column_description", "Тайлбар", "Description"),
    ("save", "Хадгалах", "Save"),
    ("recent_jobs", "Сүүлийн оруулалтууд", "Recent uploads"),
    ("status", "Төлөв", "Status"),
    ("encoding", "Кодчилол", "Encoding"),
    ("delimiter", "Тусгаарлагч", "Delimiter"),
    ("detect", "Автоматаар таних", "Detect"),
    ("header_row", "Баганын нэр байгаа мөр", "Row with the column names"),
    ("sheet", "Хуудас", "Sheet"),
    ("tags_hint", "Таслалаар тусгаарлана", "Separated by commas"),
    ("frequency", "Шинэчлэгдэх давтамж", "Update frequency"),
    ("continuous", "Тасралтгүй", "Continuously"),
    ("daily", "Өдөр бүр", "Daily"),
    ("weekly", "Долоо хоног бүр", "Weekly"),
    ("monthly", "Сар бүр", "Monthly"),
    ("quarterly", "Улирал бүр", "Quarterly"),
    ("biannual", "Хагас жил тутам", "Twice a year"),
    ("annual", "Жил бүр", "Yearly"),
    ("irregular", "Тогтмол бус", "Irregularly"),
    ("never", "Шинэчлэгдэхгүй", "Never"),
    ("temporal", "Хамрах хугацаа", "Time period covered"),
    ("spatial", "Хамрах нутаг дэвсгэр", "Area covered"),
    (
        "private_dataset",
        "Хаалттай: зөвхөн манай байгууллагын гишүүд харна",
        "Private: only our organization's members see it",
    ),
    ("private_badge", "Хаалттай", "Private"),
    ("documents", "Баримт бичиг ба холбоос", "Documents and links"),
    ("no_documents", "Баримт бичиг алга.", "No documents yet."),
    ("add_document", "Баримт бичиг нэмэх", "Add a document"),
    ("document_file", "Файл (PDF, DOCX, ZIP, зураг…)", "File (PDF, DOCX, ZIP, image…)"),
    ("document_or_link", "эсвэл холбоос", "or a link"),
    ("document_title", "Гарчиг", "Title"),
    ("document_description", "Тайлбар", "Description"),
    ("remove", "Устгах", "Remove"),
    ("original_file", "Эх файл", "Original file"),
    ("withdraw", "Татан авах", "Withdraw"),
    ("withdraw_reason", "Шалтгаан (бүх хүнд харагдана)", "Reason (shown to everyone)"),
    ("withdrawn_datasets", "Татан авсан өгөгдөл", "Withdrawn datasets"),
    ("restore", "Сэргээх", "Restore"),
    ("members", "Гишүүд", "Members"),
    ("role", "Үүрэг", "Role"),
    ("admin", "Админ", "Admin"),
    ("editor", "Редактор", "Editor"),
    ("add_member", "Гишүүн нэмэх", "Add a member"),
    ("manage_organization", "Байгууллагыг удирдах", "Manage the organization"),
    ("organizations_admin", "Байгууллагууд", "Organizations"),
    ("glossary", "Хайлтын толь", "Search glossary"),
    (
        "glossary_help",
        "Ижил утгатай монгол, англи үг, хэллэгүүд: нэгийг нь хайхад бусад нь олдоно. Хариулт ч мөн үүнийг ашиглана.",
        "Mongolian and English words and phrases that mean the same: a search for one finds the others. Answers use it too.",
    ),
    ("glossary_edited", "Засварласан:", "Edited by"),
    ("glossary_shipped", "Порталын анхны толь", "The portal's shipped glossary"),
    ("glossary_terms", "нэр томьёо", "terms"),
    ("glossary_reset", "Анхны толь руу буцах", "Go back to the shipped glossary"),
    ("new_organization", "Шинэ байгууллага", "New organization"),
    ("organization_id", "Байгууллагын таних нэр", "Organization id"),
    ("organization_name_mn", "Нэр (монголоор)", "Name (Mongolian)"),
    ("organization_name_en", "Нэр (англиар)", "Name (English)"),
    ("website", "Вэб хуудас", "Website"),
    ("edit_organization", "Байгууллагын мэдээллийг засах", "Edit the organization's details"),
    ("column_types", "Баганын төрөл", "Column types"),
    ("keep_type", "Хэвээр", "As detected"),
    ("null_markers", "Утга байхгүйг илэрхийлэх тэмдэг", "Markers of a missing value"),
    (
        "null_markers_hint",
        "Таслалаар тусгаарлана; хоосон, NA, .., - аль хэдийн хоосон гэж уншигдана",
        "Separated by commas; empty, NA, .., - already read as missing",
    ),
];

/// The string `key` in `lang`. An unknown key is a programming error, caught by the tests.
pub fn t(lang: Lang, key: &str) -> &'static str {
    STRINGS.iter().find(|(k, _, _)| *k == key).map_or("?", |(_, mn, en)| if lang == Lang::En { en } else { mn })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_is_translated_once() {
        for (i, (key, mn, en)) in STRINGS.iter().enumerate() {
            assert!(!mn.is_empty() && !en.is_empty(), "{key}");
            assert!(STRINGS[i + 1..].iter().all(|(k, _, _)| k != key), "{key} twice");
        }
    }

    /// Every `t(lang, "key")` in the pages' sources names a string that exists: a missing
    /// one would show as `?`.
    #[test]
    fn every_key_the_pages_use_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("i18n.rs") || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(path).unwrap();
            let calls = source.match_indices("t(lang, \"").map(|(at, _)| at);
            // `t(` itself, not the end of another name (`role_select(lang, "…")`).
            for at in calls.filter(|&at| !source[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')) {
                let key = source[at + 9..].split('"').next().unwrap();
                assert!(STRINGS.iter().any(|(k, _, _)| *k == key), "no string `{key}`");
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} uses found");
    }
}
