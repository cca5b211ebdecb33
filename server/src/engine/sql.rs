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
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

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
    /// Its FROM clauses, to size its joins (see [`super::joins`]).
    pub joins: Vec<Vec<super::joins::Step>>,
}

/// How large a query may be before anything parses it.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Bytes of SQL text.
    pub max_bytes: usize,
    /// Nesting of parentheses and of expressions.
    pub max_depth: usize,
    /// Tokens: words, literals, operators and punctuation.
    pub max_tokens: usize,
}

/// Parses `sql` and checks it may run.
///
/// The bounds are checked first on the text and its tokens, which take a loop each, then on
/// the tree, where the walk stops as soon as it is too deep. Nothing recursive ever sees an
/// expression nested deeper than `max_depth`, so no query can overflow a stack, here or in
/// polars. The tree of a long operator chain (`1+1+…`) is as deep as the chain is long, and
/// dropping it recurses, so the token bound keeps that within a thread's stack too.
pub fn check(sql: &str, bounds: &Bounds) -> ApiResult<Checked> {
    if sql.len() > bounds.max_bytes {
        return Err(too_large(format!(
            "the query is {} bytes; at most {} are allowed (limits.max_sql_bytes)",
            sql.len(),
            bounds.max_bytes
        )));
    }
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| ApiError::new(Code::InvalidSql, format!("not valid SQL: {e}")))?;
    // A chain of set operations is a tree as deep as it is long, like a chain of operators,
    // but the walk below only measures expressions and queries: it is counted here.
    let (mut count, mut depth, mut sets) = (0usize, 0usize, 0usize);
    for token in &tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            Token::Word(w) if matches!(w.keyword, Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT) => sets += 1,
            _ => {}
        }
        count += 1;
        if depth > bounds.max_depth || sets > bounds.max_depth {
            return Err(too_deep(bounds.max_depth));
        }
    }
    if count > bounds.max_tokens {
        return Err(too_large(format!(
            "the query has {count} tokens; at most {} are allowed (limits.max_sql_tokens)",
            bounds.max_tokens
        )));
    }
    let statements =
        Parser::new(&dialect).with_recursion_limit(bounds.max_depth).with_tokens(tokens).parse_statements().map_err(
            |e| match e {
                sqlparser::parser::ParserError::RecursionLimitExceeded => too_deep(bounds.max_depth),
                e => ApiError::new(Code::InvalidSql, format!("not valid SQL: {e}")),
            },
        )?;
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(ApiError::new(Code::InvalidSql, "the query is empty")),
        _ => return Err(not_allowed("one statement at a time")),
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(not_allowed("only a SELECT query runs here; the catalog is read-only"));
    }
    let mut depth = Depth { depth: 0, max: bounds.max_depth };
    if let ControlFlow::Break(e) = statement.visit(&mut depth) {
        return Err(e);
    }
    let mut check = Check::default();
    if let ControlFlow::Break(e) = statement.visit(&mut check) {
        return Err(e);
    }
    let mut seen = HashSet::new();
    let relations = check.relations.into_iter().filter(|r| seen.insert(r.name.clone())).collect();
    let mut count = UseCount::default();
    let _ = statement.visit(&mut count);
    Ok(Checked { relations, uses: count.finish(), joins: super::joins::shapes(statement) })
}

/// How a query uses column names: whether a text column may reach it as a categorical (see
/// [`crate::engine::memtable`]). polars gives a categorical the same answer as its text when it is
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

fn too_large(detail: String) -> ApiError {
    ApiError::new(Code::LimitExceeded, detail)
}

fn too_deep(max: usize) -> ApiError {
    too_large(format!("the query nests deeper than {max} levels (limits.max_sql_depth)"))
}

/// Stops the walk at the first expression nested deeper than `max`, before the walk itself
/// goes deeper: a chain of operators is a tree as deep as it is long.
struct Depth {
    depth: usize,
    max: usize,
}

impl Visitor for Depth {
    type Break = ApiError;

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<ApiError> {
        self.depth += 1;
        if self.depth > self.max {
            return ControlFlow::Break(too_deep(self.max));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<ApiError> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<ApiError> {
        self.depth += 1;
        if self.depth > self.max {
            return ControlFlow::Break(too_deep(self.max));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<ApiError> {
        self.depth -= 1;
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

    const BOUNDS: Bounds = Bounds { max_bytes: 65_536, max_depth: 64, max_tokens: 10_000 };

    fn check(sql: &str) -> ApiResult<Checked> {
        super::check(sql, &BOUNDS)
    }

    fn refused(sql: &str) -> Code {
        check(sql).expect_err(sql).code
    }

    #[test]
    fn deep_long_and_large_queries_are_refused_before_they_parse() {
        let chain = format!("SELECT 1{}", "+1".repeat(1_500));
        let err = check(&chain).unwrap_err();
        assert_eq!(err.code, Code::LimitExceeded);
        assert!(err.detail.contains("limits.max_sql_depth"), "{}", err.detail);
        let nested = format!("SELECT {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(check(&nested).unwrap_err().detail.contains("max_sql_depth"));
        let subqueries = format!("SELECT * FROM {}t{}", "(SELECT * FROM ".repeat(40), ")".repeat(40));
        assert_eq!(check(&subqueries).unwrap_err().code, Code::LimitExceeded);
        let wide = format!("SELECT 1 FROM t WHERE a IN ({})", vec!["1"; 6_000].join(","));
        assert!(check(&wide).unwrap_err().detail.contains("limits.max_sql_tokens"));
        let unions = vec!["SELECT 1"; 100].join(" UNION ALL ");
        assert!(check(&unions).unwrap_err().detail.contains("max_sql_depth"));
        // The longest chain the token bound lets through is refused, and dropped, within a
        // test thread's stack.
        let longest = format!("SELECT 1{}", "+1".repeat(BOUNDS.max_tokens / 2 - 2));
        assert!(check(&longest).unwrap_err().detail.contains("max_sql_depth"));
        let long = format!("SELECT '{}'", "x".repeat(70_000));
        assert!(check(&long).unwrap_err().detail.contains("limits.max_sql_bytes"));
        // Within the bounds, the same shapes pass.
        assert!(check(&format!("SELECT 1{}", "+1".repeat(40))).is_ok());
        assert!(check(&format!("SELECT 1 FROM t WHERE a IN ({})", vec!["1"; 2_000].join(","))).is_ok());
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
