//! How many rows a query's joins would make, told before it runs, so that a query that would
//! multiply two large tables is refused at once (`limits.max_join_rows`) instead of running
//! until its time or memory limit stops it.
//!
//! The estimate is the textbook one: an equi-join of `A` and `B` on a key makes
//! `|A| × |B| / max(distinct keys)` rows, and a join with no equality (`CROSS JOIN`, a comma,
//! an `ON` of inequalities) `|A| × |B|`. Row and distinct counts come from the catalog. A
//! join over a subquery or a CTE, whose size is not known before it runs, is not estimated:
//! the worker's limits bound it.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, Query, SetExpr, TableFactor, TableWithJoins, Visit, Visitor,
};

/// One table a FROM clause combines with what comes before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The catalog table, lowercased as the query names it; none for anything else.
    pub table: Option<String>,
    pub on: On,
}

/// How a step joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum On {
    /// The first table of a FROM clause.
    Start,
    /// On equal columns (`=`, `USING`), by these names.
    Equal(Vec<String>),
    /// On nothing that limits the product.
    Product,
}

/// The FROM clauses of every SELECT of `statement`.
pub fn shapes(statement: &impl Visit) -> Vec<Vec<Step>> {
    let mut collect = Collect::default();
    let _ = statement.visit(&mut collect);
    collect.shapes
}

/// The largest number of rows any FROM clause would make, when every table in it is known:
/// `rows(table)` gives a table's rows, `distinct(table, column)` a column's distinct values.
pub fn estimate(
    shapes: &[Vec<Step>],
    rows: impl Fn(&str) -> Option<u64>,
    distinct: impl Fn(&str, &str) -> Option<u64>,
) -> Option<u64> {
    let mut largest = None;
    'shapes: for steps in shapes.iter().filter(|s| s.len() > 1) {
        let mut made: u64 = 1;
        let mut seen: Vec<&str> = Vec::new();
        for step in steps {
            let Some(table) = step.table.as_deref() else { continue 'shapes };
            let Some(n) = rows(table) else { continue 'shapes };
            made = match &step.on {
                On::Start => n,
                On::Product => made.saturating_mul(n),
                On::Equal(keys) => {
                    let mut d = 1;
                    for key in keys {
                        for t in seen.iter().copied().chain([table]) {
                            d = d.max(distinct(t, key).unwrap_or(1));
                        }
                    }
                    made.saturating_mul(n) / d
                }
            };
            seen.push(table);
        }
        largest = largest.max(Some(made));
    }
    largest
}

#[derive(Default)]
struct Collect {
    shapes: Vec<Vec<Step>>,
}

fn table_of(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table { name, args: None, .. } if name.0.len() == 1 => {
            Some(name.to_string().trim_matches(['"', '`', '\'']).to_lowercase())
        }
        _ => None,
    }
}

/// The column names an `ON` condition compares for equality, through `AND`s.
fn equal_columns(expr: &Expr, out: &mut Vec<String>) {
    let name = |e: &Expr| match e {
        Expr::Identifier(i) => Some(i.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_lowercase()),
        _ => None,
    };
    match expr {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            equal_columns(left, out);
            equal_columns(right, out);
        }
        Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => {
            if let (Some(a), Some(b)) = (name(left), name(right)) {
                out.extend([a, b]);
            }
        }
        Expr::Nested(inner) => equal_columns(inner, out),
        _ => {}
    }
}

fn on(operator: &JoinOperator) -> On {
    let constraint = match operator {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c) => c,
        // Semi and anti joins make no more rows than their left side.
        _ => return On::Equal(Vec::new()),
    };
    match constraint {
        JoinConstraint::On(expr) => {
            let mut keys = Vec::new();
            equal_columns(expr, &mut keys);
            if keys.is_empty() { On::Product } else { On::Equal(keys) }
        }
        JoinConstraint::Using(names) => On::Equal(names.iter().map(|n| n.to_string().to_lowercase()).collect()),
        JoinConstraint::Natural => On::Equal(Vec::new()),
        JoinConstraint::None => On::Product,
    }
}

impl Collect {
    fn body(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                let mut steps = Vec::new();
                for (i, TableWithJoins { relation, joins }) in select.from.iter().enumerate() {
                    steps.push(Step { table: table_of(relation), on: if i == 0 { On::Start } else { On::Product } });
                    for join in joins {
                        steps.push(Step { table: table_of(&join.relation), on: on(&join.join_operator) });
                    }
                }
                self.shapes.push(steps);
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.body(left);
                self.body(right);
            }
            _ => {}
        }
    }
}

impl Visitor for Collect {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.body(&query.body);
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn estimated(sql: &str) -> Option<u64> {
        let statement = Parser::parse_sql(&GenericDialect {}, sql).unwrap().remove(0);
        let rows = |t: &str| match t {
            "big" => Some(1_000_000),
            "small" => Some(100),
            _ => None,
        };
        let distinct = |t: &str, c: &str| match (t, c) {
            ("big", "id") => Some(1_000_000),
            ("small", "id") => Some(100),
            (_, "grp") => Some(10),
            _ => None,
        };
        estimate(&shapes(&statement), rows, distinct)
    }

    #[test]
    fn joins_are_sized_before_they_run() {
        assert_eq!(estimated("SELECT * FROM big"), None, "no join");
        assert_eq!(estimated("SELECT * FROM big a JOIN big b ON a.id = b.id"), Some(1_000_000));
        assert_eq!(estimated("SELECT * FROM big a JOIN big b USING (grp)"), Some(100_000_000_000));
        assert_eq!(estimated("SELECT * FROM big, small"), Some(100_000_000));
        assert_eq!(estimated("SELECT * FROM big CROSS JOIN big AS b"), Some(1_000_000_000_000));
        assert_eq!(estimated("SELECT * FROM big a JOIN small b ON a.v < b.v"), Some(100_000_000));
        assert_eq!(estimated("SELECT * FROM big a JOIN (SELECT * FROM small) b ON a.id = b.id"), None);
        assert_eq!(
            estimated("SELECT count(*) FROM (SELECT * FROM big a, big b) UNION ALL SELECT 1 FROM small"),
            Some(1_000_000_000_000),
            "every SELECT counts"
        );
    }
}
