//! The domain's values kept in text columns, read as rows load: a row
//! holds a `NumberStatus`, a `WabaStatus`, a `QualityRating` or a
//! `ThroughputLevel`, never the text, and code past the store compares
//! values, not strings. Writes bind `as_str()`, the text as it was read.
//!
//! A status the database's CHECK constraint admits always parses; Meta's
//! ratings and levels keep any text they do not know.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::pg::Pg;
use diesel::sql_types::{SingleValue, Text};
use diesel::sqlite::Sqlite;

use crate::db::MultiBackend;
use crate::domain::{NumberStatus, QualityRating, ThroughputLevel, WabaStatus};

/// Reads the column's text with the backend's own `String` reader, then
/// turns it into the value with `$read`.
macro_rules! read_from_text {
    ($ty:ty, $read:expr) => {
        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                $read(<String as FromSql<Text, Pg>>::from_sql(value)?)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                $read(<String as FromSql<Text, Sqlite>>::from_sql(value)?)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                value.from_sql::<$ty, Text>()
            }
        }

        // What `#[derive(FromSqlRow)]` writes, kept here so the domain
        // names no database crate: a column loads into the value itself.
        impl<DB: Backend, ST: SingleValue> Queryable<ST, DB> for $ty
        where
            Self: FromSql<ST, DB>,
        {
            type Row = Self;

            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }
    };
}

fn number_status(text: String) -> deserialize::Result<NumberStatus> {
    NumberStatus::parse(&text).ok_or_else(|| format!("unknown number status {text:?}").into())
}

fn waba_status(text: String) -> deserialize::Result<WabaStatus> {
    WabaStatus::parse(&text).ok_or_else(|| format!("unknown WABA status {text:?}").into())
}

read_from_text!(NumberStatus, number_status);
read_from_text!(WabaStatus, waba_status);
read_from_text!(QualityRating, |text: String| Ok(QualityRating::from(text)));
read_from_text!(ThroughputLevel, |text: String| Ok(ThroughputLevel::from(text)));
