//! Read-only SQL over the catalog: one `SELECT` (CTEs, joins, GROUP BY, window functions, what
//! polars SQL supports) over tables named by their `sql_name`, `<sql_name>__v<N>` for a pinned
//! version. The query is parsed and checked before anything runs: it must be one query, it may
//! name only catalog tables, and no table function or path ever reaches polars, so nothing
//! outside the data folder can be read.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, ObjectName, OrderByKind, Query,
    SelectItem, SetExpr, Statement, TableFactor, Value, Visit, Visitor, WindowType,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{ApiError, ApiResult, Code};

/// A table a query reads, as written in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The name as the query writes it, lowercased: what it is registered under.
    pub name: String,
    /// The table's `sql_name`.
    pub sql_name: String,
    /// `Some(N)` for `<sql_name>__v<N>`.
    pub version: Option<u32>,
}

/// A query that may run.
#[derive(Debug)]
pub struct Checked {
    /// The tables it reads, each once.
    pub relations: Vec<Relation>,
    pub uses: Uses,
}

/// Parses `sql` and checks it may run.
pub fn check(sql: &str) -> ApiResult<Checked> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| ApiError::new(Code::InvalidSql, format!("not valid SQL: {e}")))?;
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(ApiError::new(Code::InvalidSql, "the query is empty")),
        _ => return Err(not_allowed("one statement at a time")),
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(not_allowed("only a SELECT query runs here; the catalog is read-only"));
    }
    let mut check = Check::default();
    if let ControlFlow::Break(e) = statement.visit(&mut check) {
        return Err(e);
    }
    let mut seen = HashSet::new();
    let relations = check.relations.into_iter().filter(|r| seen.insert(r.name.clone())).collect();
    let mut count = UseCount::default();
    let _ = statement.visit(&mut count);
    Ok(Checked { relations, uses: count.finish() })
}

/// How a query uses column names: whether a text column may reach it as a categorical (see
/// [`crate::memtable`]). polars gives a categorical the same answer as its text when it is
/// projected, grouped, ordered, partitioned by, counted, tested for null, or compared for
/// (in)equality with text or another column; other uses, from `upper` and `LIKE` to a cast
/// to an integer, need the text.
#[derive(Debug, Default)]
pub struct Uses {
    /// Names used any other way.
    opaque: HashSet<String>,
    /// Names the query gives to columns it makes: `AS` aliases and the column lists of
    /// table aliases and CTEs.
    aliases: HashSet<String>,
}

impl Uses {
    /// Whether a query over tables with these `columns` may see categoricals: not when a name
    /// it uses opaquely is one it made (an alias may stand for a categorical) or is no column.
    pub fn allow_codes(&self, columns: &HashSet<&str>) -> bool {
        self.opaque.iter().all(|n| !self.aliases.contains(n) && columns.contains(n.as_str()))
    }

    /// Whether the column `name` must be text.
    pub fn needs_text(&self, name: &str) -> bool {
        self.opaque.contains(name)
    }
}

/// Counts every use of each name, and the uses of [`Uses`]' plain kinds.
#[derive(Default)]
struct UseCount {
    all: HashMap<String, usize>,
    plain: HashMap<String, usize>,
    aliases: HashSet<String>,
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Identifier(i) => Some(&i.value),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.as_str()),
        _ => None,
    }
}

fn is_text(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
}

impl UseCount {
    fn plain(&mut self, expr: &Expr) {
        if let Some(name) = column_name(expr) {
            *self.plain.entry(name.to_owned()).or_default() += 1;
        }
    }

    fn select(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                for item in &select.projection {
                    match item {
                        SelectItem::UnnamedExpr(e) => self.plain(e),
                        SelectItem::ExprWithAlias { expr, alias } => {
                            self.plain(expr);
                            self.aliases.insert(alias.value.clone());
                        }
                        _ => {}
                    }
                }
                if let GroupByExpr::Expressions(exprs, _) = &select.group_by {
                    exprs.iter().for_each(|e| self.plain(e));
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.select(left);
                self.select(right);
            }
            _ => {}
        }
    }

    fn finish(self) -> Uses {
        let opaque =
            self.all.into_iter().filter(|(n, all)| self.plain.get(n).copied().unwrap_or(0) < *all).map(|(n, _)| n);
        Uses { opaque: opaque.collect(), aliases: self.aliases }
    }
}

impl Visitor for UseCount {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.aliases.extend(cte.alias.columns.iter().map(|c| c.name.value.clone()));
            }
        }
        if let Some(order) = &query.order_by
            && let OrderByKind::Expressions(exprs) = &order.kind
        {
            exprs.iter().for_each(|o| self.plain(&o.expr));
        }
        self.select(&query.body);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { alias: Some(alias), .. } | TableFactor::Derived { alias: Some(alias), .. } = factor
        {
            self.aliases.extend(alias.columns.iter().map(|c| c.name.value.clone()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Some(name) = column_name(expr) {
            *self.all.entry(name.to_owned()).or_default() += 1;
        }
        match expr {
            Expr::BinaryOp { left, op: BinaryOperator::Eq | BinaryOperator::NotEq, right } => {
                let comparable = |e: &Expr| column_name(e).is_some() || is_text(e);
                if comparable(left) && comparable(right) {
                    self.plain(left);
                    self.plain(right);
                }
            }
            Expr::InList { expr, list, .. } if list.iter().all(is_text) => self.plain(expr),
            Expr::IsNull(e) | Expr::IsNotNull(e) => self.plain(e),
            Expr::Function(f) => {
                if f.name.to_string().eq_ignore_ascii_case("count")
                    && let FunctionArguments::List(list) = &f.args
                {
                    for arg in &list.args {
                        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                            self.plain(e);
                        }
                    }
                }
                if let Some(WindowType::WindowSpec(spec)) = &f.over {
                    spec.partition_by.iter().for_each(|e| self.plain(e));
                    spec.order_by.iter().for_each(|o| self.plain(&o.expr));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn not_allowed(why: &str) -> ApiError {
    ApiError::new(Code::SqlNotAllowed, why.to_owned())
}

#[derive(Default)]
struct Check {
    /// Names the query defines itself with `WITH`.
    ctes: HashSet<String>,
    relations: Vec<Relation>,
}

impl Visitor for Check {
    type Break = ApiError;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<ApiError> {
        if let Some(with) = &query.with {
            self.ctes.extend(with.cte_tables.iter().map(|c| c.alias.name.value.to_lowercase()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<ApiError> {
        match factor {
            TableFactor::Table { name, args: Some(_), .. } => {
                ControlFlow::Break(not_allowed(&format!("`{name}(…)`: table functions cannot be used; name a table")))
            }
            TableFactor::TableFunction { .. } | TableFactor::Function { .. } => {
                ControlFlow::Break(not_allowed("table functions cannot be used; name a table"))
            }
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<ApiError> {
        let written = relation.to_string();
        let name = written.trim_matches(['"', '`', '\'']).to_lowercase();
        if self.ctes.contains(&name) {
            return ControlFlow::Continue(());
        }
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if relation.0.len() != 1 || !name.chars().all(plain) || name.is_empty() {
            return ControlFlow::Break(not_allowed(&format!(
                "`{written}` is not a table name: only catalog tables can be read, never files or URLs"
            )));
        }
        let (sql_name, version) = match name.rsplit_once("__v") {
            Some((base, v)) if base.contains("__") && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                (base.to_owned(), v.parse().ok())
            }
            _ => (name.clone(), None),
        };
        self.relations.push(Relation { name, sql_name, version });
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<ApiError> {
        if let Expr::Function(f) = expr {
            let name = f.name.to_string().to_lowercase();
            if name.starts_with("read_") || name.starts_with("scan_") {
                return ControlFlow::Break(not_allowed(&format!(
                    "`{name}` reads files; only catalog tables can be read"
                )));
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> Code {
        check(sql).expect_err(sql).code
    }

    #[test]
    fn only_queries_over_catalog_tables_pass() {
        let r = check(
            "WITH t AS (SELECT * FROM nso__pop) SELECT a, count(*) FROM t JOIN agaar__air__v2 USING (a) GROUP BY 1",
        )
        .unwrap();
        assert_eq!(
            r.relations,
            [
                Relation { name: "nso__pop".into(), sql_name: "nso__pop".into(), version: None },
                Relation { name: "agaar__air__v2".into(), sql_name: "agaar__air".into(), version: Some(2) },
            ]
        );
        assert_eq!(refused("DROP TABLE nso__pop"), Code::SqlNotAllowed);
        assert_eq!(refused("INSERT INTO nso__pop VALUES (1)"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT 1; SELECT 2"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT * FROM read_csv('/etc/passwd')"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT * FROM read_parquet('data/tables/x.parquet')"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT * FROM \"/etc/passwd\""), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT * FROM public.nso__pop"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT read_csv('x')"), Code::SqlNotAllowed);
        assert_eq!(refused("SELECT * FROM (SELECT * FROM scan_parquet('x'))"), Code::SqlNotAllowed);
        assert_eq!(refused("SELEC 1"), Code::InvalidSql);
    }

    #[test]
    fn categoricals_reach_only_uses_that_answer_as_text() {
        let columns: HashSet<&str> = ["aimag", "indicator", "value", "code"].into_iter().collect();
        let uses = |sql: &str| check(sql).unwrap().uses;

        let plain = uses(
            "SELECT aimag, indicator AS i, avg(value), count(DISTINCT code) FROM t \
             WHERE aimag = 'Дархан' AND indicator IN ('PM2.5', 'NO2') AND code IS NOT NULL \
             GROUP BY 1, 2 ORDER BY aimag",
        );
        assert!(plain.allow_codes(&columns));
        assert!(!plain.needs_text("aimag") && !plain.needs_text("indicator") && !plain.needs_text("code"));
        assert!(plain.needs_text("value"), "avg reads numbers");

        let window = uses("SELECT row_number() OVER (PARTITION BY t.aimag ORDER BY indicator) FROM t");
        assert!(!window.needs_text("aimag") && !window.needs_text("indicator"));

        for (sql, text) in [
            ("SELECT upper(aimag) FROM t GROUP BY aimag", "aimag"),
            ("SELECT * FROM t WHERE indicator LIKE 'PM%'", "indicator"),
            ("SELECT CAST(code AS INTEGER) FROM t", "code"),
            ("SELECT * FROM t WHERE code = 5", "code"),
            ("SELECT * FROM t WHERE aimag > 'Д'", "aimag"),
            ("SELECT * FROM t WHERE indicator IN ('NO2', 5)", "indicator"),
        ] {
            let u = uses(sql);
            assert!(u.needs_text(text), "{sql}");
            assert!(u.allow_codes(&columns), "{sql}: the other columns may still be codes");
        }

        // An alias or a name the tables do not have may stand for a categorical.
        for sql in [
            "SELECT CAST(x AS INTEGER) FROM (SELECT code AS x FROM t)",
            "WITH c(x) AS (SELECT code FROM t) SELECT upper(x) FROM c",
            "SELECT length(v) FROM (SELECT code FROM t) AS d(v)",
            "SELECT upper(aimag) FROM (SELECT code AS aimag FROM t)",
        ] {
            assert!(!uses(sql).allow_codes(&columns), "{sql}");
        }
    }
}
