//! Read-only SQL over the catalog: one `SELECT` (CTEs, joins, GROUP BY, window functions, what
//! polars SQL supports) over tables named by their `sql_name`, `<sql_name>__v<N>` for a pinned
//! version. The query is parsed and checked before anything runs: it must be one query, it may
//! name only catalog tables, and no table function or path ever reaches polars, so nothing
//! outside the data folder can be read.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, Statement, TableFactor, Visit, Visitor};
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

/// Parses `sql` and checks it may run; returns the tables it reads.
pub fn check(sql: &str) -> ApiResult<Vec<Relation>> {
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
    Ok(check.relations.into_iter().filter(|r| seen.insert(r.name.clone())).collect())
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
            r,
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
}
