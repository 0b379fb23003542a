//! Numbers as reconciliation reads them from query results, and as people read them.
//!
//! Integer and decimal results are exact ([`Number::Exact`], a `bigdecimal` value that
//! keeps the column's scale): sums, differences and comparisons of money never pass
//! through binary floating point (DESIGN.md, numbers). Float results stay `f64`
//! ([`Number::Float`]). A relative change in percent is a ratio, not an amount: it is
//! computed exactly and only then rounded to `f64` for comparison with a spec's bounds.
//!
//! JSON keeps every digit: an exact value is a string (`"28164536.16"`), a float a number.
//! Text for people ([`Number::for_people`], [`percent`], [`count`]) has thousands
//! separators, decimals at their scale and percentages with two decimals (`+12.46 %`).

use bigdecimal::{BigDecimal, Signed, ToPrimitive, Zero};
use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One numeric value of a query result.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An integer or decimal, exact, at the scale the engine returned (a `SUM` of a
    /// `DECIMAL(18, 2)` column has scale 2).
    Exact(BigDecimal),
    /// A binary floating-point value (from a float column or a float result such as
    /// `avg` of a float column).
    Float(f64),
}

impl Number {
    /// The cell at `row` of `array`; `None` for NULL.
    ///
    /// Errors: a non-numeric type (the message names it), or a value Arrow cannot format.
    pub fn from_array(array: &dyn Array, row: usize) -> Result<Option<Number>, String> {
        if array.is_null(row) {
            return Ok(None);
        }
        let t = array.data_type();
        if t.is_integer()
            || matches!(
                t,
                DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..)
            )
        {
            // Arrow's display of an integer or decimal is exact, at the type's scale.
            let text = ArrayFormatter::try_new(array, &FormatOptions::default())
                .map_err(|e| e.to_string())?
                .value(row)
                .to_string();
            return text
                .parse::<BigDecimal>()
                .map(|d| Some(Number::Exact(d)))
                .map_err(|e| format!("`{text}` is not a number: {e}"));
        }
        if t.is_floating() {
            let floats = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
            let floats =
                floats.as_any().downcast_ref::<Float64Array>().ok_or("a float column did not cast to Float64")?;
            return Ok(Some(Number::Float(floats.value(row))));
        }
        Err(format!("the value is of type {t}, not a number"))
    }

    /// `self − other`: exact when both are exact, else in floating point.
    pub fn minus(&self, other: &Number) -> Number {
        match (self, other) {
            (Number::Exact(a), Number::Exact(b)) => Number::Exact(a - b),
            _ => Number::Float(self.to_f64() - other.to_f64()),
        }
    }

    /// The nearest `f64`: for charts and interval arithmetic only, never for amounts shown.
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Exact(d) => d.to_f64().unwrap_or(f64::NAN),
            Number::Float(f) => *f,
        }
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        match self {
            Number::Exact(d) => d.is_zero(),
            Number::Float(f) => *f == 0.0,
        }
    }

    /// Every digit, no separators: `28164536.16`, `-0.5`, `9.691234567`.
    pub fn plain(&self) -> String {
        match self {
            Number::Exact(d) => d.to_plain_string(),
            Number::Float(f) => f.to_string(),
        }
    }

    /// For people: thousands separators; an exact value at its scale (`28,164,536.16`);
    /// a float with six significant digits, at least two and at most six decimals
    /// (`1,980.17`, `9.69123`, `0.012346`).
    pub fn for_people(&self) -> String {
        match self {
            Number::Exact(d) => group(&d.to_plain_string()),
            Number::Float(f) if !f.is_finite() => f.to_string(),
            Number::Float(f) => {
                let magnitude = if *f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
                let decimals = (5 - magnitude).clamp(2, 6) as usize;
                group(&format!("{f:.decimals$}"))
            }
        }
    }
}

/// (new − old) / |old| × 100; `None` when a side is missing or old is 0. Exact inputs
/// give an exact ratio, rounded once to the nearest `f64`.
pub fn percent_change(old: Option<&Number>, new: Option<&Number>) -> Option<f64> {
    let (old, new) = (old?, new?);
    if old.is_zero() {
        return None;
    }
    match (old, new) {
        (Number::Exact(o), Number::Exact(n)) => ((n - o) * BigDecimal::from(100) / o.abs()).to_f64(),
        _ => Some((new.to_f64() - old.to_f64()) / old.to_f64().abs() * 100.0),
    }
}

/// A percent for people: sign, two decimals, a space, `%` (`+12.46 %`); `n/a` for none.
pub fn percent(p: Option<f64>) -> String {
    match p {
        None => "n/a".into(),
        Some(p) if p.abs() < 0.005 => format!("{:+.2} %", 0.0),
        Some(p) => format!("{p:+.2} %"),
    }
}

/// A count with thousands separators: `2,184`.
pub fn count(n: u64) -> String {
    group(&n.to_string())
}

/// An optional number for people, `NULL` for none.
pub fn or_null(n: Option<&Number>) -> String {
    n.map_or_else(|| "NULL".into(), Number::for_people)
}

/// Thousands separators in the integer part of a plain decimal string.
fn group(plain: &str) -> String {
    let (sign, rest) = plain.strip_prefix('-').map_or(("", plain), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Number::Exact(d) => s.serialize_str(&d.to_plain_string()),
            Number::Float(f) => s.serialize_f64(*f),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Float(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => t
                .parse::<BigDecimal>()
                .map(Number::Exact)
                .map_err(|e| serde::de::Error::custom(format!("`{t}` is not a decimal: {e}"))),
            Raw::Float(f) => Ok(Number::Float(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Int64Array};
    use std::str::FromStr;

    fn exact(s: &str) -> Number {
        Number::Exact(BigDecimal::from_str(s).unwrap())
    }

    #[test]
    fn decimals_are_read_exactly_at_their_scale() {
        let a = Decimal128Array::from(vec![Some(2_816_453_616i128), None]).with_precision_and_scale(28, 2).unwrap();
        assert_eq!(Number::from_array(&a, 0).unwrap(), Some(exact("28164536.16")));
        assert_eq!(Number::from_array(&a, 1).unwrap(), None);
        let i = Int64Array::from(vec![16]);
        assert_eq!(Number::from_array(&i, 0).unwrap().unwrap().plain(), "16");
    }

    #[test]
    fn differences_of_exact_values_are_exact() {
        let d = exact("27860857.31").minus(&exact("28164536.16"));
        assert_eq!(d.plain(), "-303678.85");
        assert_eq!(d.for_people(), "-303,678.85");
        // 0.1 + 0.2 style trouble cannot happen: 0.3 − 0.1 is exactly 0.2.
        assert_eq!(exact("0.3").minus(&exact("0.1")), exact("0.2"));
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(exact("1751.800000").for_people(), "1,751.800000");
        assert_eq!(Number::Float(1980.1749).for_people(), "1,980.17");
        assert_eq!(Number::Float(9.691234).for_people(), "9.69123");
        assert_eq!(Number::Float(0.0123456).for_people(), "0.012346");
        assert_eq!(count(2715), "2,715");
        assert_eq!(count(16), "16");
        assert_eq!(percent(Some(12.4567)), "+12.46 %");
        assert_eq!(percent(Some(-1.0782)), "-1.08 %");
        assert_eq!(percent(Some(-0.001)), "+0.00 %");
        assert_eq!(
            percent_change(Some(&exact("28164536.16")), Some(&exact("27860857.31"))).map(|p| (p * 1e6).round() / 1e6),
            Some(-1.078231)
        );
        assert_eq!(percent_change(Some(&exact("0")), Some(&exact("1"))), None);
    }

    #[test]
    fn json_keeps_every_digit() {
        let text = serde_json::to_string(&vec![exact("12345678901234567890.12"), Number::Float(9.5)]).unwrap();
        assert_eq!(text, r#"["12345678901234567890.12",9.5]"#);
        let back: Vec<Number> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vec![exact("12345678901234567890.12"), Number::Float(9.5)]);
    }
}
