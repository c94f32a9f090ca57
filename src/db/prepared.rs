//! Hand-written SQL that PostgreSQL parses and plans once per connection.
//!
//! Diesel prepares and caches a statement only when it can tell two calls
//! apart by type: `sql_query`, `dsl::sql` fragments and every `UPDATE` are
//! marked unsafe to cache, so each call is parsed and planned afresh. For a
//! query with sub-selects that planning costs more than running it (measured
//! on a link's submission: 137 µs to plan, 52 µs to run). A [`Prepared`]
//! statement has a fixed text, named by its own type, so diesel keeps it
//! prepared on the connection.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Untyped, Uuid as SqlUuid};
use uuid::Uuid;

/// A fixed statement whose parameters are all uuids, written `$1`, `$2`, ...
/// (each may appear more than once). Load its rows with `QueryableByName`.
pub trait Statement: 'static {
    const SQL: &'static str;
}

/// A [`Statement`] with its parameters bound.
pub struct Prepared<S, const N: usize> {
    params: [Uuid; N],
    statement: PhantomData<S>,
}

impl<S: Statement, const N: usize> Prepared<S, N> {
    pub fn new(params: [Uuid; N]) -> Self {
        Prepared { params, statement: PhantomData }
    }
}

/// The statement's text cut at its placeholders: the text before each one
/// with the (zero-based) parameter it names, then what follows the last.
fn pieces(sql: &str) -> (Vec<(&str, usize)>, &str) {
    let mut pieces = Vec::new();
    let mut rest = sql;
    while let Some(dollar) = rest.find('$') {
        let digits = rest[dollar + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let Ok(number) = rest[dollar + 1..dollar + 1 + digits].parse::<usize>() else {
            // A `$` that is no placeholder stays text.
            let (text, after) = rest.split_at(dollar + 1);
            pieces.push((text, usize::MAX));
            rest = after;
            continue;
        };
        pieces.push((&rest[..dollar], number.saturating_sub(1)));
        rest = &rest[dollar + 1 + digits..];
    }
    (pieces, rest)
}

impl<S: Statement, const N: usize> QueryFragment<Pg> for Prepared<S, N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (pieces, tail) = pieces(S::SQL);
        for (text, param) in pieces {
            out.push_sql(text);
            if param != usize::MAX {
                let value = self.params.get(param).ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(format!("${} has no bound value", param + 1).into())
                })?;
                out.push_bind_param::<SqlUuid, _>(value)?;
            }
        }
        out.push_sql(tail);
        Ok(())
    }
}

impl<S: Statement, const N: usize> QueryId for Prepared<S, N> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: Statement, const N: usize> Query for Prepared<S, N> {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_the_text_and_may_repeat() {
        let (pieces, tail) = pieces("SELECT $1 WHERE a = $2 AND b = $1 LIMIT 10");
        assert_eq!(pieces, vec![("SELECT ", 0), (" WHERE a = ", 1), (" AND b = ", 0)]);
        assert_eq!(tail, " LIMIT 10");
    }

    #[test]
    fn a_dollar_without_digits_is_text() {
        let (pieces, tail) = pieces("SELECT '$x', $12");
        assert_eq!(pieces, vec![("SELECT '$", usize::MAX), ("x', ", 11)]);
        assert_eq!(tail, "");
    }

    struct Probe;
    impl Statement for Probe {
        const SQL: &'static str = "SELECT $2, $1, $2";
    }

    #[test]
    fn every_occurrence_binds_its_own_value_in_order() {
        let query = Prepared::<Probe, 2>::new([Uuid::nil(), Uuid::max()]);
        let sql = diesel::debug_query::<Pg, _>(&query).to_string();
        assert!(sql.starts_with("SELECT $1, $2, $3"), "{sql}");
        let nil = Uuid::nil().to_string();
        let max = Uuid::max().to_string();
        let (first, second, third) = (sql.find(&max), sql.find(&nil), sql.rfind(&max));
        assert!(first < second && second < third, "{sql}");
    }

    struct Broken;
    impl Statement for Broken {
        const SQL: &'static str = "SELECT $3";
    }

    #[test]
    fn a_placeholder_past_the_parameters_is_an_error_not_a_panic() {
        let query = Prepared::<Broken, 1>::new([Uuid::nil()]);
        let mut out = diesel::pg::PgQueryBuilder::default();
        assert!(QueryFragment::<Pg>::to_sql(&query, &mut out, &Pg).is_err());
    }
}
