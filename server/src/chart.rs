//! Charts of a table: what a reader asks for (`x`, `y`, `group`, aggregate, line or bar), the
//! series the engine returns for it, and their SVG.
//!
//! Charts are drawn on the server as plain SVG, so a page shows one with no script and no
//! request off the portal, and the same picture is a standalone file to embed or download.

use std::fmt::Write as _;

use maud::{Markup, html};
use opendata_datasets::{Column, ColumnType};
use polars::prelude::*;

use crate::engine::params::unknown_column;
use crate::error::{ApiError, ApiResult, Code};

/// Most points along `x`: beyond this a date axis is bucketed, and other columns are not
/// offered as `x`.
pub const MAX_POINTS: u64 = 500;
/// Most series drawn; the rest (those with the smallest values) are left out and counted.
pub const MAX_SERIES: usize = 8;
/// Most distinct values of a column offered as `group`.
pub const MAX_GROUP_VALUES: u64 = 100;

/// How values along `y` are combined per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Count,
    Sum,
    Mean,
    Min,
    Max,
}

impl Agg {
    pub const ALL: [(&'static str, Agg); 5] =
        [("count", Agg::Count), ("sum", Agg::Sum), ("mean", Agg::Mean), ("min", Agg::Min), ("max", Agg::Max)];

    pub fn name(self) -> &'static str {
        Agg::ALL.iter().find(|(_, a)| *a == self).map_or("count", |(n, _)| n)
    }
}

/// Line or bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    Bar,
}

/// The bucket of a date axis with more than [`MAX_POINTS`] values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Day,
    Month,
    Year,
}

impl Grain {
    /// The `every` of polars' `dt().truncate`.
    pub fn every(self) -> &'static str {
        match self {
            Grain::Day => "1d",
            Grain::Month => "1mo",
            Grain::Year => "1y",
        }
    }
}

/// A validated chart request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub x: String,
    /// Bucket of a date or datetime `x`; none draws each value.
    pub grain: Option<Grain>,
    /// None counts rows.
    pub y: Option<String>,
    pub agg: Agg,
    pub group: Option<String>,
    pub kind: Kind,
}

/// Columns a chart may put along `x`: few enough values, or dates (bucketed).
pub fn x_columns(columns: &[Column]) -> impl Iterator<Item = &Column> {
    columns.iter().filter(|c| {
        matches!(c.kind, ColumnType::Date | ColumnType::Datetime)
            || (c.kind != ColumnType::Boolean && (1..=MAX_POINTS).contains(&c.stats.distinct_count))
    })
}

/// Columns a chart may measure along `y`.
pub fn y_columns(columns: &[Column]) -> impl Iterator<Item = &Column> {
    columns.iter().filter(|c| matches!(c.kind, ColumnType::Integer | ColumnType::Float))
}

/// Columns a chart may draw one series per value of.
pub fn group_columns(columns: &[Column]) -> impl Iterator<Item = &Column> {
    columns.iter().filter(|c| (2..=MAX_GROUP_VALUES).contains(&c.stats.distinct_count))
}

impl ChartSpec {
    /// The chart a query string asks for (`chart.x`, `chart.y`, `chart.group`, `chart.agg`,
    /// `chart.kind`), or none without `chart.x`. The dotted names never clash with a
    /// column filter, as column names have no dots.
    pub fn parse(pairs: &[(String, String)], columns: &[Column]) -> ApiResult<Option<Self>> {
        let get = |key: &str| pairs.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str());
        let Some(x) = get("chart.x") else { return Ok(None) };
        let pick = |name: &str, allowed: Vec<&Column>, role: &str| -> ApiResult<Column> {
            let column = columns.iter().find(|c| c.name == name).ok_or_else(|| unknown_column(name, columns))?;
            if allowed.iter().any(|c| c.name == name) {
                return Ok(column.clone());
            }
            let names: Vec<&str> = allowed.iter().map(|c| c.name.as_str()).collect();
            Err(ApiError::new(
                Code::InvalidParameter,
                format!("column `{name}` cannot be the chart's {role}; it can be one of: {}", names.join(", ")),
            ))
        };
        let x = pick(x, x_columns(columns).collect(), "x")?;
        let y = get("chart.y").map(|y| pick(y, y_columns(columns).collect(), "y")).transpose()?;
        let group = get("chart.group").map(|g| pick(g, group_columns(columns).collect(), "group")).transpose()?;
        let agg = match get("chart.agg") {
            None => {
                if y.is_some() {
                    Agg::Mean
                } else {
                    Agg::Count
                }
            }
            Some(a) => Agg::ALL.iter().find(|(n, _)| *n == a).map(|(_, a)| *a).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameter,
                    format!("`chart.agg` is one of count, sum, mean, min, max, not `{a}`"),
                )
            })?,
        };
        if agg != Agg::Count && y.is_none() {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("`chart.agg={}` needs a `chart.y` column", agg.name()),
            ));
        }
        let kind = match get("chart.kind") {
            None | Some("line") => Kind::Line,
            Some("bar") => Kind::Bar,
            Some(k) => {
                return Err(ApiError::new(Code::InvalidParameter, format!("`chart.kind` is line or bar, not `{k}`")));
            }
        };
        Ok(Some(Self { grain: grain(&x), x: x.name, y: y.map(|c| c.name), agg, group: group.map(|c| c.name), kind }))
    }

    /// The query-string pairs of this chart, for links and forms.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("chart.x", self.x.clone())];
        if let Some(y) = &self.y {
            out.push(("chart.y", y.clone()));
        }
        out.push(("chart.agg", self.agg.name().to_owned()));
        if let Some(g) = &self.group {
            out.push(("chart.group", g.clone()));
        }
        out.push(("chart.kind", if self.kind == Kind::Bar { "bar" } else { "line" }.to_owned()));
        out
    }

    /// The lazy query: one row per (x, group) with the aggregate as `value` and the rows
    /// behind it as `rows`, ordered along `x`.
    pub fn plan(&self, lf: LazyFrame, predicate: Option<Expr>) -> LazyFrame {
        let mut lf = lf;
        if let Some(p) = predicate {
            lf = lf.filter(p);
        }
        let mut x = col(self.x.as_str());
        if let Some(g) = self.grain {
            x = x.dt().truncate(lit(g.every()));
        }
        let mut keys = vec![x.alias("x")];
        if let Some(g) = &self.group {
            keys.push(col(g.as_str()).cast(DataType::String).alias("group"));
        }
        let y = self.y.as_deref().map(|y| col(y).cast(DataType::Float64));
        let value = match (self.agg, y.clone()) {
            (Agg::Sum, Some(y)) => y.sum(),
            (Agg::Mean, Some(y)) => y.mean(),
            (Agg::Min, Some(y)) => y.min(),
            (Agg::Max, Some(y)) => y.max(),
            _ => len().cast(DataType::Float64),
        };
        // A point whose values are all empty has no value, where a sum alone would say 0.
        let measured = match (self.agg, y) {
            (Agg::Count, _) | (_, None) => len(),
            (_, Some(y)) => y.count(),
        };
        lf.filter(col(self.x.as_str()).is_not_null())
            .group_by(keys)
            .agg([value.alias("value"), measured.cast(DataType::UInt64).alias("rows")])
            .sort(["x"], SortMultipleOptions::default())
    }
}

/// A date axis with too many values for one point each: the finest of day, month and year
/// that gives at most [`MAX_POINTS`], from the column's range in the catalog.
fn grain(x: &Column) -> Option<Grain> {
    if !matches!(x.kind, ColumnType::Date | ColumnType::Datetime) || x.stats.distinct_count <= MAX_POINTS {
        return None;
    }
    let day = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.as_str())
            .and_then(|s| chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
    };
    let days = match (day(&x.stats.min), day(&x.stats.max)) {
        (Some(lo), Some(hi)) => (hi - lo).num_days().max(0) as u64 + 1,
        _ => u64::MAX,
    };
    Some(if days <= MAX_POINTS {
        Grain::Day
    } else if days / 30 <= MAX_POINTS {
        Grain::Month
    } else {
        Grain::Year
    })
}

/// The series of a chart, ready to draw.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chart {
    pub x: Vec<String>,
    /// Where each `x` lies on a number, date or time axis, so gaps show as gaps; none
    /// spaces text values evenly.
    pub at: Option<Vec<f64>>,
    /// (name, one value per `x`; none where the group has no rows there)
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Groups left out beyond [`MAX_SERIES`].
    pub hidden_series: usize,
}

impl Chart {
    /// Shapes the engine's answer to [`ChartSpec::plan`].
    pub fn from_frame(df: &DataFrame, spec: &ChartSpec) -> PolarsResult<Self> {
        let xs = df.column("x")?;
        let positions = (xs.dtype().is_primitive_numeric() || xs.dtype().is_temporal())
            .then(|| xs.to_physical_repr().cast(&DataType::Float64))
            .transpose()?;
        let mut x: Vec<String> = Vec::new();
        let mut x_at: Vec<f64> = Vec::new();
        let mut at = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let label = label(xs.get(i)?, spec.grain);
            if x.last() != Some(&label) {
                x.push(label);
                if let Some(p) = &positions {
                    x_at.push(p.get(i)?.extract::<f64>().unwrap_or(f64::NAN));
                }
            }
            at.push(x.len() - 1);
        }
        let x_at = (positions.is_some() && x_at.iter().all(|p| p.is_finite())).then_some(x_at);
        let groups: Vec<String> = match df.column("group") {
            Ok(g) => (0..df.height()).map(|i| g.get(i).map(|v| label(v, None))).collect::<PolarsResult<_>>()?,
            Err(_) => vec![String::new(); df.height()],
        };
        let rows = df.column("rows")?.u64()?;
        let values: Vec<Option<f64>> = df
            .column("value")?
            .f64()?
            .iter()
            .zip(rows.iter())
            .map(|(v, n)| v.filter(|v| v.is_finite() && n.unwrap_or(0) > 0))
            .collect();
        // The groups with the largest values are drawn, in the order of their names: the
        // capital's line, not the first eight aimags of the alphabet.
        let mut sizes: std::collections::BTreeMap<&str, f64> = Default::default();
        for (g, v) in groups.iter().zip(&values) {
            *sizes.entry(g).or_default() += v.unwrap_or(0.0).abs();
        }
        let mut by_size: Vec<(&str, f64)> = sizes.into_iter().collect();
        by_size.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let hidden_series = by_size.len().saturating_sub(MAX_SERIES);
        let mut names: Vec<&str> = by_size.into_iter().take(MAX_SERIES).map(|(g, _)| g).collect();
        names.sort_unstable();
        let mut series: Vec<(String, Vec<Option<f64>>)> =
            names.iter().map(|n| ((*n).to_owned(), vec![None; x.len()])).collect();
        for (i, g) in groups.iter().enumerate() {
            if let Ok(s) = names.binary_search(&g.as_str()) {
                series[s].1[at[i]] = values[i];
            }
        }
        Ok(Self { x, at: x_at, series, hidden_series })
    }

    /// The chart as an `<svg>` element. `title` names it for screen readers.
    pub fn svg(&self, kind: Kind, title: &str) -> Markup {
        const W: f64 = 640.0;
        const H: f64 = 300.0;
        const LEFT: f64 = 64.0;
        const RIGHT: f64 = 12.0;
        const TOP: f64 = 12.0;
        // Four legend keys a row, under the x labels.
        let legend_rows = if self.series.len() > 1 { self.series.len().div_ceil(4) } else { 0 };
        let bottom = if legend_rows == 0 { 24.0 } else { 22.0 + 14.0 * legend_rows as f64 };
        let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - bottom);
        let values = self.series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
        let (lo, hi) = values.fold((0.0_f64, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let ticks = nice_ticks(lo, hi);
        let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
        let y_at = |v: f64| TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
        let n = self.x.len().max(1) as f64;
        let step = plot_w / n;
        let (first, last) = match self.at.as_deref() {
            Some([first, .., last]) if last > first => (*first, *last),
            _ => (0.0, 0.0),
        };
        let x_at = |i: usize| match &self.at {
            Some(at) if last > first => LEFT + step * 0.5 + (plot_w - step) * (at[i] - first) / (last - first),
            _ => LEFT + step * (i as f64 + 0.5),
        };
        // As many labels along x as fit side by side at about 6.5 units a character.
        let widest = self.x.iter().map(|l| short(l).chars().count()).max().unwrap_or(1) as f64;
        let fit = (plot_w / (widest * 6.5 + 12.0)).floor().max(1.0) as usize;
        let every = self.x.len().div_ceil(fit).max(1);
        let series_n = self.series.len().max(1) as f64;
        let bar_w = (step * 0.8 / series_n).max(0.5);
        html! {
            svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) {
                title { (title) }
                g.grid {
                    @for t in &ticks {
                        line x1=(LEFT) x2=(W - RIGHT) y1=(r(y_at(*t))) y2=(r(y_at(*t))) stroke="#ddd" {}
                        text x=(LEFT - 6.0) y=(r(y_at(*t) + 4.0)) text-anchor="end" font-size="11" { (number(*t)) }
                    }
                }
                g.axis {
                    line x1=(LEFT) x2=(W - RIGHT) y1=(r(y_at(lo.max(0.0).min(hi)))) y2=(r(y_at(lo.max(0.0).min(hi)))) stroke="#666" {}
                    @for (i, label) in self.x.iter().enumerate().filter(|(i, _)| i % every == 0) {
                        text x=(r(x_at(i))) y=(H - bottom + 15.0) text-anchor="middle" font-size="11" { (short(label)) }
                    }
                }
                @for (s, (name, points)) in self.series.iter().enumerate() {
                    @let color = PALETTE[s % PALETTE.len()];
                    g.series data-series=(name) {
                        @if kind == Kind::Line {
                            @for run in runs(points) {
                                polyline fill="none" stroke=(color) stroke-width="2" points=(polyline(&run, &x_at, &y_at)) {}
                            }
                            @if points.len() <= 60 {
                                @for (i, v) in points.iter().enumerate() {
                                    @if let Some(v) = v {
                                        circle cx=(r(x_at(i))) cy=(r(y_at(*v))) r="3" fill=(color) { title { (self.x[i]) ": " (number(*v)) } }
                                    }
                                }
                            }
                        } @else {
                            @for (i, v) in points.iter().enumerate() {
                                @if let Some(v) = v {
                                    @let x0 = x_at(i) - step * 0.4 + bar_w * s as f64;
                                    @let (top, bottom) = (y_at(v.max(0.0)), y_at(v.min(0.0)));
                                    rect x=(r(x0)) y=(r(top)) width=(r(bar_w)) height=(r((bottom - top).max(0.5))) fill=(color) {
                                        title { (self.x[i]) ": " (number(*v)) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if self.series.len() > 1 {
                    g.legend {
                        @for (s, (name, _)) in self.series.iter().enumerate() {
                            @let x = LEFT + (s % 4) as f64 * plot_w / 4.0;
                            @let y = H - bottom + 32.0 + (s / 4) as f64 * 14.0;
                            rect x=(r(x)) y=(r(y - 9.0)) width="10" height="10" fill=(PALETTE[s % PALETTE.len()]) {}
                            text x=(r(x + 14.0)) y=(r(y)) font-size="11" { (short(name)) }
                        }
                    }
                }
            }
        }
    }
}

/// Okabe and Ito's palette, told apart by readers with colour blindness.
const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

/// Stretches of consecutive points with a value: a line breaks where a group has no rows.
fn runs(points: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(v) => out.last_mut().expect("never empty").push((i, *v)),
            None if !out.last().is_some_and(Vec::is_empty) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn polyline(run: &[(usize, f64)], x_at: &impl Fn(usize) -> f64, y_at: &impl Fn(f64) -> f64) -> String {
    let mut s = String::new();
    for (i, v) in run {
        let _ = write!(s, "{},{} ", r(x_at(*i)), r(y_at(*v)));
    }
    s.trim_end().to_owned()
}

/// Coordinates to a tenth of a unit keep the SVG small.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Round tick values covering `[lo, hi]`: steps of 1, 2 or 5 times a power of ten.
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if hi - lo > 0.0 { (lo, hi) } else { (lo - 1.0, hi + 1.0) };
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor();
    let mut ticks = Vec::new();
    // Multiples of the step, not a running sum, so 0.1 steps do not drift.
    for k in 0.. {
        let t = (first + f64::from(k)) * step;
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        if t >= hi - step * 1e-9 {
            break;
        }
    }
    ticks
}

/// A number as an axis label: thousands as k, millions as M, at most two decimals.
fn number(v: f64) -> String {
    let (v, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e4 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

/// A label cut to fit under its point.
fn short(s: &str) -> String {
    if s.chars().count() <= 14 { s.to_owned() } else { format!("{}…", s.chars().take(13).collect::<String>()) }
}

/// A value along `x` or a group name as text; a bucketed date shows its bucket only.
fn label(v: AnyValue<'_>, grain: Option<Grain>) -> String {
    let text = match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Date(days) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
            + chrono::Duration::days(days.into()))
        .to_string(),
        AnyValue::Datetime(us, TimeUnit::Microseconds, _) => chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    };
    match grain {
        Some(Grain::Year) => text.chars().take(4).collect(),
        Some(Grain::Month) => text.chars().take(7).collect(),
        Some(Grain::Day) => text.chars().take(10).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_range_in_round_steps() {
        assert_eq!(nice_ticks(0.0, 97.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(nice_ticks(-3.0, 4.0), [-4.0, -2.0, 0.0, 2.0, 4.0]);
        assert_eq!(nice_ticks(0.0, 0.0), [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(number(1_250_000.0), "1.25M");
        assert_eq!(number(12_000.0), "12k");
        assert_eq!(number(0.5), "0.5");
    }

    #[test]
    fn lines_break_where_a_group_has_no_rows() {
        let runs = runs(&[Some(1.0), None, Some(2.0), Some(3.0), None]);
        assert_eq!(runs, [vec![(0, 1.0)], vec![(2, 2.0), (3, 3.0)]]);
    }

    #[test]
    fn the_largest_groups_become_series_and_the_rest_are_counted() {
        let n = MAX_SERIES + 2;
        let groups: Vec<String> = (0..n).map(|g| format!("g{g:02}")).collect();
        let df = df! {
            "x" => vec![2020_i64; n],
            "group" => groups.clone(),
            "value" => (0..n).map(|g| g as f64).collect::<Vec<_>>(),
            "rows" => vec![3_u64; n],
        }
        .unwrap();
        let spec = ChartSpec {
            x: "x".into(),
            grain: None,
            y: None,
            agg: Agg::Count,
            group: Some("g".into()),
            kind: Kind::Bar,
        };
        let chart = Chart::from_frame(&df, &spec).unwrap();
        assert_eq!(chart.x, ["2020"]);
        assert_eq!(chart.at, Some(vec![2020.0]));
        assert_eq!(chart.hidden_series, 2);
        let names: Vec<&str> = chart.series.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, groups[2..].iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(chart.series[0].1, [Some(2.0)]);
        let svg = chart.svg(Kind::Bar, "test").into_string();
        assert_eq!(svg.matches("<rect").count(), MAX_SERIES * 2, "a bar and a legend key per series");
    }
}
