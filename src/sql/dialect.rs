//! The SQL dialects a plan renders in: DataFusion (the one backfill executes) and five
//! warehouses a team runs the plan's scripts on with its own client. Per dialect: its
//! sqlparser parser, identifier quoting, string literals and column type names.

use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::dialect::{
    BigQueryDialect, DuckDbDialect, GenericDialect, PostgreSqlDialect, SnowflakeDialect, SparkSqlDialect,
};
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use serde::{Deserialize, Serialize};

/// A SQL dialect. `datafusion` is executed by `backfill run --execute`; the others are
/// rendered as scripts (`plan --dialect D --out DIR`) for the warehouse's own client.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Apache DataFusion: what backfill executes.
    #[default]
    #[value(name = "datafusion")]
    DataFusion,
    /// PostgreSQL (15 and later).
    Postgres,
    /// DuckDB (1.x).
    #[value(name = "duckdb")]
    DuckDb,
    /// Spark SQL (3.x, with Hive support, as `spark-sql` has).
    Spark,
    /// Google BigQuery (GoogleSQL).
    #[value(name = "bigquery")]
    BigQuery,
    /// Snowflake.
    Snowflake,
}

impl Dialect {
    /// Every dialect, in the order the README lists them.
    pub const ALL: [Dialect; 6] = [
        Dialect::DataFusion,
        Dialect::Postgres,
        Dialect::DuckDb,
        Dialect::Spark,
        Dialect::BigQuery,
        Dialect::Snowflake,
    ];

    /// The dialect's name, as in `--dialect`, the spec's `dialect:` and `templates/<name>/`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DataFusion => "datafusion",
            Dialect::Postgres => "postgres",
            Dialect::DuckDb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
        }
    }

    /// The sqlparser dialect that parses this dialect's statements. DataFusion's own
    /// statements (`COPY`, `CREATE EXTERNAL TABLE`) go through `DFParser`, over the
    /// generic dialect DataFusion itself uses.
    pub fn parser(self) -> Box<dyn datafusion::sql::sqlparser::dialect::Dialect + Send + Sync> {
        match self {
            Dialect::DataFusion => Box::new(GenericDialect {}),
            Dialect::Postgres => Box::new(PostgreSqlDialect {}),
            Dialect::DuckDb => Box::new(DuckDbDialect {}),
            Dialect::Spark => Box::new(SparkSqlDialect {}),
            Dialect::BigQuery => Box::new(BigQueryDialect {}),
            Dialect::Snowflake => Box::new(SnowflakeDialect {}),
        }
    }

    /// The character that quotes an identifier: a backtick for Spark and BigQuery, a
    /// double quote elsewhere.
    pub fn quote_char(self) -> char {
        match self {
            Dialect::Spark | Dialect::BigQuery => '`',
            _ => '"',
        }
    }

    /// Quote one identifier part: bare when it is a lowercase word that is not a SQL
    /// keyword (`merchant_id`), quoted with [`Dialect::quote_char`] (doubled inside)
    /// otherwise (`"date"`, `` `date` ``). Snowflake stores an unquoted name in upper
    /// case and matches a quoted one exactly, so a lowercase keyword is quoted there in
    /// upper case (`"DATE"`), the name an unquoted `date` column has.
    pub fn quote_ident(self, name: &str) -> String {
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let upper = name.to_ascii_uppercase();
        if plain && ALL_KEYWORDS.binary_search(&upper.as_str()).is_err() {
            return name.to_string();
        }
        let q = self.quote_char();
        let name = if plain && self == Dialect::Snowflake { upper.as_str() } else { name };
        format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
    }

    /// Quote a `schema.table` name part by part ([`Dialect::quote_ident`]).
    pub fn quote_table(self, name: &str) -> String {
        name.split('.').map(|p| self.quote_ident(p)).collect::<Vec<_>>().join(".")
    }

    /// A string literal. Standard SQL doubles a quote (`'it''s'`); BigQuery escapes it
    /// with a backslash (`'it\'s'`), where a doubled quote would be two adjacent literals.
    ///
    /// Errors: text this dialect's literal cannot hold safely: a backslash in Spark,
    /// BigQuery or Snowflake (an escape character there), a quote in Spark (whose
    /// backslash escape sqlparser's Spark dialect does not read).
    pub fn string_literal(self, text: &str) -> Result<String, String> {
        let escapes = matches!(self, Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake);
        if escapes && text.contains('\\') {
            return Err(format!("a backslash cannot be written into a {} string literal: {text:?}", self.name()));
        }
        match self {
            Dialect::Spark if text.contains('\'') => {
                Err(format!("a quote cannot be written into a spark string literal: {text:?}"))
            }
            Dialect::BigQuery => Ok(format!("'{}'", text.replace('\'', "\\'"))),
            _ => Ok(format!("'{}'", text.replace('\'', "''"))),
        }
    }

    /// The dialect's name for the column type of Arrow type `t`, for shadow DDL and casts.
    /// Returns `None` for types a shadow column cannot declare (lists, structs, maps).
    pub fn type_name(self, t: &DataType) -> Option<String> {
        if self == Dialect::DataFusion {
            return super::sql_type(t);
        }
        use Dialect::*;
        let name = |pg: &str, duck: &str, spark: &str, bq: &str, sf: &str| {
            match self {
                Postgres => pg,
                DuckDb => duck,
                Spark => spark,
                BigQuery => bq,
                Snowflake | DataFusion => sf,
            }
            .to_string()
        };
        Some(match t {
            DataType::Boolean => name("BOOLEAN", "BOOLEAN", "BOOLEAN", "BOOL", "BOOLEAN"),
            DataType::Int8 => name("SMALLINT", "TINYINT", "TINYINT", "INT64", "TINYINT"),
            DataType::Int16 | DataType::UInt8 => name("SMALLINT", "SMALLINT", "SMALLINT", "INT64", "SMALLINT"),
            DataType::Int32 | DataType::UInt16 => name("INTEGER", "INTEGER", "INT", "INT64", "INTEGER"),
            DataType::Int64 | DataType::UInt32 => name("BIGINT", "BIGINT", "BIGINT", "INT64", "BIGINT"),
            DataType::UInt64 => return self.type_name(&DataType::Decimal128(20, 0)),
            DataType::Float32 => name("REAL", "REAL", "FLOAT", "FLOAT64", "FLOAT"),
            DataType::Float64 => name("DOUBLE PRECISION", "DOUBLE", "DOUBLE", "FLOAT64", "DOUBLE"),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                name("TEXT", "VARCHAR", "STRING", "STRING", "VARCHAR")
            }
            DataType::Date32 | DataType::Date64 => "DATE".to_string(),
            DataType::Timestamp(_, None) => {
                name("TIMESTAMP", "TIMESTAMP", "TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP_NTZ")
            }
            DataType::Timestamp(_, Some(_)) => {
                name("TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMP", "TIMESTAMP", "TIMESTAMP_TZ")
            }
            // Beyond 38 digits (or with a negative scale) only PostgreSQL has a type.
            DataType::Decimal128(p, s) | DataType::Decimal256(p, s)
                if self == Postgres || (*p <= 38 && *s >= 0 && (self != BigQuery || *p as i16 - *s as i16 <= 38)) =>
            {
                self.decimal(*p, *s)
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                name("BYTEA", "BLOB", "BINARY", "BYTES", "BINARY")
            }
            DataType::Dictionary(_, v) => return self.type_name(v),
            _ => return None,
        })
    }

    /// An exact decimal type of `precision` digits, `scale` after the point. BigQuery's
    /// NUMERIC holds 29 integer and 9 fractional digits; wider ones are BIGNUMERIC.
    pub fn decimal(self, precision: u8, scale: i8) -> String {
        match self {
            Dialect::Postgres => format!("NUMERIC({precision}, {scale})"),
            Dialect::BigQuery if i16::from(precision) - i16::from(scale) <= 29 && scale <= 9 => {
                format!("NUMERIC({precision}, {scale})")
            }
            Dialect::BigQuery => format!("BIGNUMERIC({precision}, {scale})"),
            Dialect::Snowflake => format!("NUMBER({precision}, {scale})"),
            _ => format!("DECIMAL({precision}, {scale})"),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_literals_per_dialect() {
        assert_eq!(Dialect::Postgres.quote_ident("date"), "\"date\"");
        assert_eq!(Dialect::Spark.quote_ident("date"), "`date`");
        assert_eq!(Dialect::BigQuery.quote_ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Snowflake.quote_ident("merchant_id"), "merchant_id");
        assert_eq!(Dialect::Snowflake.quote_ident("status"), "\"STATUS\"");
        assert_eq!(Dialect::Snowflake.quote_ident("Mixed"), "\"Mixed\"");
        assert_eq!(Dialect::Postgres.quote_ident("status"), "\"status\"");
        assert_eq!(Dialect::Spark.type_name(&DataType::Decimal256(60, 2)), None);
        assert_eq!(Dialect::Postgres.type_name(&DataType::Decimal256(60, 2)).unwrap(), "NUMERIC(60, 2)");
        assert_eq!(Dialect::Postgres.string_literal("it's").unwrap(), "'it''s'");
        assert_eq!(Dialect::BigQuery.string_literal("it's").unwrap(), "'it\\'s'");
        assert!(Dialect::Spark.string_literal("it's").is_err());
        assert!(Dialect::Snowflake.string_literal("a\\b").is_err());
        assert_eq!(Dialect::BigQuery.decimal(12, 2), "NUMERIC(12, 2)");
        assert_eq!(Dialect::BigQuery.decimal(38, 2), "BIGNUMERIC(38, 2)");
    }
}
