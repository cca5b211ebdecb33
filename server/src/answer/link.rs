//! How a question reads against one table: which of its text columns' values the question
//! names (an aimag, a species, an indicator, in either language or script), which rows its
//! year, quarter or month pick, and which number column it asks for. Only values the
//! catalog lists for the table are linked: a reading never names a value the table lacks.

use opendata_datasets::{Column, ColumnType};

use super::question::Question;

/// A table's reading of a question: the rows API filters that pick the rows it asks about,
/// and the column that holds the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Filters in the rows API's syntax: (`column` or `column__op`, value).
    pub filters: Vec<(String, String)>,
    /// What the filters name, for a sentence: (column label, value).
    pub named: Vec<(String, String)>,
    /// The number column asked for.
    pub measure: String,
    pub measure_label: String,
    /// How much of the question the table explains; higher is better.
    pub score: f32,
}

/// Values that stand for every row of their column's other values.
const TOTALS: &[&str] = &["бүгд", "нийт", "улсын дүн", "улсын хэмжээнд", "монгол улс", "total", "all", "mongolia"];

/// An integer column of years (`year`, `он`, `жил`, 1900 to 2100).
fn is_year_column(c: &Column) -> bool {
    c.names_word(&["year", "он", "жил"]) && integers_within(c, 1900..=2100)
}

/// An integer column of months (`month`, `сар`, 1 to 12).
fn is_month_column(c: &Column) -> bool {
    c.names_word(&["month", "сар"]) && integers_within(c, 1..=12)
}

/// An integer column whose smallest and largest values are in `range`.
fn integers_within(c: &Column, range: std::ops::RangeInclusive<i64>) -> bool {
    let within = |v: &Option<serde_json::Value>| {
        v.as_ref().and_then(serde_json::Value::as_i64).is_some_and(|v| range.contains(&v))
    };
    c.kind == ColumnType::Integer && within(&c.stats.min) && within(&c.stats.max)
}

/// Words that ask for a rate, and a column that is one.
const RATE_WORDS: &[&str] = &["rate", "percent", "percentage", "share", "түвшин", "хувь", "%"];

fn is_rate(c: &Column) -> bool {
    let label = format!("{} {}", c.label, c.name).to_lowercase();
    label.contains('%')
        || search_index::analysis::words(&label)
            .any(|w| ["rate", "percent", "percentage", "түвшин", "хувь"].contains(&w.text))
}

fn is_code(c: &Column) -> bool {
    c.names_word(&["code", "код", "id", "дугаар"])
}

/// A `YYYY-Qn` period column's value for the question, if it is one and the question names
/// its year and quarter; `Some(None)` when it is one and the question names only the year.
fn period(c: &Column, q: &Question) -> Option<Option<String>> {
    let periodic = !c.stats.values.is_empty()
        && c.stats.values.iter().all(|v| v.len() == 7 && v.as_bytes()[4] == b'-' && v[5..6].eq_ignore_ascii_case("q"));
    if !periodic {
        return None;
    }
    let (year, quarter) = (q.years.first()?, q.quarter);
    Some(quarter.map(|n| format!("{year}-Q{n}")).filter(|v| c.stats.values.iter().any(|x| x.eq_ignore_ascii_case(v))))
}

/// Reads `q` against a table's `columns` (its title words in `title`); none when the table
/// has no number column to answer with.
pub fn read(q: &Question, columns: &[Column], title: &str) -> Option<Reading> {
    let mut reading = Reading {
        filters: Vec::new(),
        named: Vec::new(),
        measure: String::new(),
        measure_label: String::new(),
        score: 0.0,
    };
    let mut when = When::default();
    for c in columns {
        link_column(q, c, &mut reading, &mut when);
    }
    let (measure, by_year) = pick_measure(q, columns, &mut reading, title)?;
    when.year |= by_year;
    if when.year {
        reading.score += 2.0;
    } else if !q.years.is_empty() {
        // A year the table cannot pick: another table likely holds the answer.
        reading.score -= 2.0;
    }
    if (q.month.is_some() || q.quarter.is_some()) && !when.period {
        // A month or quarter the table cannot pick: it answers for a whole year at best.
        reading.score -= 1.0;
    }
    reading.measure = measure.name.clone();
    reading.measure_label = measure.label.clone();
    reading.score += q.overlap(title) as f32;
    Some(reading)
}

/// Whether a reading picks the question's year, and its month or quarter.
#[derive(Debug, Default)]
struct When {
    year: bool,
    period: bool,
}

/// What one column adds to a reading: a filter on the year, month, dates or period the
/// question names, or on the listed value it names (or the column's total).
fn link_column(q: &Question, c: &Column, reading: &mut Reading, when: &mut When) {
    let year = q.years.first().copied();
    if is_year_column(c) {
        if let Some(y) = year {
            reading.filters.push((c.name.clone(), y.to_string()));
            when.year = true;
        }
        return;
    }
    if is_month_column(c) {
        if let Some(m) = q.month {
            reading.filters.push((c.name.clone(), m.to_string()));
            when.period = true;
        }
        return;
    }
    if matches!(c.kind, ColumnType::Date | ColumnType::Datetime) {
        if let Some(y) = year {
            let (from, to, months) = dates(y, q);
            reading.filters.push((format!("{}__gte", c.name), from));
            reading.filters.push((format!("{}__lt", c.name), to));
            when.year = true;
            when.period = months < 12;
        }
        return;
    }
    if c.kind != ColumnType::String || c.stats.values.is_empty() {
        return;
    }
    if let Some(value) = period(c, q) {
        when.year = true;
        when.period = value.is_some();
        if let Some(v) = value {
            reading.filters.push((c.name.clone(), v.clone()));
            reading.named.push((c.label.clone(), v));
        }
        return;
    }
    // The value naming most of the question's words (best covered first, then most words
    // named; the first listed of equals). A column whose values the question does not name
    // stays open, or takes its total when it has one.
    let best = c
        .stats
        .values
        .iter()
        .filter_map(|v| q.coverage(v).map(|(named, all)| (v, named, all)))
        .rev()
        .max_by(|a, b| (a.1 * b.2).cmp(&(b.1 * a.2)).then(a.1.cmp(&b.1)))
        .map(|(v, _, _)| v);
    if let Some(v) = best {
        reading.filters.push((c.name.clone(), v.clone()));
        reading.named.push((c.label.clone(), v.clone()));
        reading.score += 2.0;
    } else if c.stats.values.len() > 1
        && let Some(total) = c.stats.values.iter().find(|v| TOTALS.contains(&v.to_lowercase().as_str()))
    {
        reading.filters.push((c.name.clone(), total.clone()));
        reading.named.push((c.label.clone(), total.clone()));
    } else if c.stats.values.len() > 1 && !is_code(c) {
        // A column the question leaves open: the table explains less of it.
        reading.score -= 1.0;
    }
}

/// The dates of the question's month, quarter (periods like `2023-Q2` are read as their
/// first day) or whole `year`: from, until (exclusive), and how many months.
fn dates(year: i32, q: &Question) -> (String, String, u32) {
    let (first, months) = match (q.month, q.quarter) {
        (Some(m), _) => (u32::from(m), 1),
        (None, Some(n)) => (3 * u32::from(n) - 2, 3),
        (None, None) => (1, 12),
    };
    let end = first + months;
    let from = format!("{year}-{first:02}-01");
    let to = if end > 12 { format!("{}-01-01", year + 1) } else { format!("{year}-{end:02}-01") };
    (from, to, months)
}

/// The number column the question asks for, and whether its year picked it (a wide
/// table's `2019`, `2020` columns); adds to the reading's score what its words explain.
fn pick_measure<'c>(
    q: &Question,
    columns: &'c [Column],
    reading: &mut Reading,
    title: &str,
) -> Option<(&'c Column, bool)> {
    let filtered: Vec<&str> = reading.filters.iter().map(|(k, _)| k.split("__").next().unwrap_or_default()).collect();
    let mut measures: Vec<&Column> = columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnType::Integer | ColumnType::Float))
        .filter(|c| !is_year_column(c) && !is_month_column(c) && !is_code(c) && !filtered.contains(&c.name.as_str()))
        .collect();
    // A rate answers a question that asks for one; a count, the others.
    if measures.len() > 1
        && !q.terms.iter().any(|t| RATE_WORDS.iter().any(|w| search_index::analysis::terms(w).contains(t)))
    {
        let counts: Vec<&Column> = measures.iter().copied().filter(|c| !is_rate(c)).collect();
        if !counts.is_empty() {
            measures = counts;
        }
    }
    let year = q.years.first().map(i32::to_string);
    if let Some(c) = year.and_then(|y| measures.iter().find(|c| c.name.trim() == y || c.label.trim() == y)) {
        return Some((c, true));
    }
    // Words the title does not already say come first: in "male population", the column
    // `Эрэгтэй` of a population table, not its total `Хүн амын тоо`.
    let in_title = q.named_words(title);
    let words = |c: &Column| {
        let named = q.named_words(&format!("{} {} {}", c.label, c.name, c.description));
        (named.iter().filter(|w| !in_title.contains(w)).count(), named.len())
    };
    // The first of equals: tables put their main figure first.
    let best = measures.iter().rev().copied().max_by_key(|c| words(c))?;
    let (specific, all) = words(best);
    reading.score += (specific + all) as f32 * 0.5;
    Some((best, false))
}

#[cfg(test)]
mod tests {
    use opendata_datasets::ColumnStats;
    use search_index::Glossary;

    use super::*;

    fn column(name: &str, kind: ColumnType, values: &[&str], min: Option<i64>, max: Option<i64>) -> Column {
        Column {
            name: name.into(),
            label: name.into(),
            kind,
            stats: ColumnStats {
                values: values.iter().map(|v| v.to_string()).collect(),
                min: min.map(Into::into),
                max: max.map(Into::into),
                ..Default::default()
            },
            description: String::new(),
            role: None,
        }
    }

    fn livestock() -> Vec<Column> {
        vec![
            column("year", ColumnType::Integer, &[], Some(2015), Some(2024)),
            column("aimag_code", ColumnType::String, &["011", "065"], None, None),
            column("aimag", ColumnType::String, &["Ховд", "Дархан-Уул", "Говь-Алтай", "Увс"], None, None),
            column("species", ColumnType::String, &["Тэмээ", "Хонь", "Адуу"], None, None),
            column("species_en", ColumnType::String, &["camel", "sheep", "horse"], None, None),
            column("head_count", ColumnType::Integer, &[], Some(10), Some(90_000)),
        ]
    }

    fn read_q(text: &str, columns: &[Column]) -> Option<Reading> {
        read(&Question::parse(text, &Glossary::builtin()), columns, "Малын тоо")
    }

    #[test]
    fn a_question_in_either_language_picks_the_same_rows() {
        let want = vec![
            ("year".to_owned(), "2020".to_owned()),
            ("aimag".to_owned(), "Ховд".to_owned()),
            ("species".to_owned(), "Тэмээ".to_owned()),
            ("species_en".to_owned(), "camel".to_owned()),
        ];
        for text in ["how many camels were there in Khovd in 2020?", "Ховд аймгийн 2020 оны тэмээний тоо"]
        {
            let r = read_q(text, &livestock()).unwrap();
            assert_eq!(r.filters, want, "{text}");
            assert_eq!(r.measure, "head_count");
        }
    }

    #[test]
    fn periods_dates_totals_and_wide_tables() {
        let quarterly = vec![
            column("Улирал", ColumnType::String, &["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4"], None, None),
            column("Аймаг", ColumnType::String, &["Дархан-Уул", "Бүгд"], None, None),
            column("Ажилгүйдлийн түвшин %", ColumnType::Float, &[], None, None),
            column("Бүртгэлтэй ажилгүй иргэд", ColumnType::Integer, &[], None, None),
        ];
        let r = read_q("unemployment rate Darkhan-Uul 2023 Q2", &quarterly).unwrap();
        assert_eq!(r.filters[0], ("Улирал".to_owned(), "2023-Q2".to_owned()));
        assert_eq!(r.filters[1], ("Аймаг".to_owned(), "Дархан-Уул".to_owned()));
        let national = read_q("ажилгүйдэл 2023 оны 2-р улирал", &quarterly).unwrap();
        assert_eq!(national.filters[1], ("Аймаг".to_owned(), "Бүгд".to_owned()), "the total row");
        let prices = vec![
            column("Огноо", ColumnType::Date, &[], None, None),
            column("Бараа", ColumnType::String, &["Талх", "Сүү"], None, None),
            column("Үнэ (төгрөг)", ColumnType::Float, &[], None, None),
        ];
        let r = read_q("талхны үнэ 2024 оны 3-р сар", &prices).unwrap();
        assert_eq!(
            r.filters,
            [
                ("Огноо__gte".to_owned(), "2024-03-01".to_owned()),
                ("Огноо__lt".to_owned(), "2024-04-01".to_owned()),
                ("Бараа".to_owned(), "Талх".to_owned())
            ]
        );
        let wide = vec![
            column("Аймаг", ColumnType::String, &["Ховд", "Увс"], None, None),
            column("2019", ColumnType::Integer, &[], None, None),
            column("2020", ColumnType::Integer, &[], None, None),
        ];
        assert_eq!(read_q("Ховд 2020", &wide).unwrap().measure, "2020");
        assert!(read_q("Ховд", &[column("Аймаг", ColumnType::String, &["Ховд"], None, None)]).is_none(), "no number");
    }
}
