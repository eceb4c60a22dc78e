//! The two scalar types the schemas need and serde does not give the right wire form for:
//! [`Decimal`] for JSON `number` fields and [`datetime`] for `date-time` strings.
//!
//! OCPP `number` fields carry measured and configured values (current limits, meter readings,
//! prices). A binary float would turn `0.1` into `0.1000000000000000055...` as soon as anyone
//! does arithmetic on it, so the generated types hold a decimal instead; on the wire it is
//! still a plain JSON number, as the schemas require.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An exact decimal number, serialized as a JSON number (never a string).
///
/// # Precision
///
/// Reading goes through `serde_json`, which without its `arbitrary_precision` feature hands
/// non-integer numbers over as an `f64`. The value is recovered from the shortest decimal text
/// that reads back as that `f64`, so every number written with at most 15 significant digits
/// (`0.1`, `16.5`, `1e-3`, `-3.25`, `12345.678`) comes back exactly as written. Numbers with 16
/// or 17 significant digits may come back as a nearby shorter number; integers are exact up to
/// the `i64`/`u64` range. The magnitude limit is that of [`rust_decimal::Decimal`]: about
/// ±7.9e28 with at most 28 decimal places; a number outside it is a deserialization error, not
/// a silent rounding.
///
/// Writing emits an integer-valued decimal as a JSON integer (`230`, not `230.0`) and any other
/// value as the `f64` nearest to it, which `serde_json` prints as the shortest text that reads
/// back as that `f64`: the original digits, within the 15-digit bound above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal(rust_decimal::Decimal::ZERO);

    /// The decimal `mantissa * 10^-scale`, e.g. `Decimal::new(165, 1)` is 16.5.
    ///
    /// # Panics
    ///
    /// If `scale` is greater than 28, like [`rust_decimal::Decimal::new`].
    pub fn new(mantissa: i64, scale: u32) -> Decimal {
        Decimal(rust_decimal::Decimal::new(mantissa, scale))
    }

    /// The wrapped [`rust_decimal::Decimal`].
    pub const fn get(self) -> rust_decimal::Decimal {
        self.0
    }
}

impl From<rust_decimal::Decimal> for Decimal {
    fn from(value: rust_decimal::Decimal) -> Self {
        Decimal(value)
    }
}

impl From<Decimal> for rust_decimal::Decimal {
    fn from(value: Decimal) -> Self {
        value.0
    }
}

impl From<i32> for Decimal {
    fn from(value: i32) -> Self {
        Decimal(value.into())
    }
}

impl From<i64> for Decimal {
    fn from(value: i64) -> Self {
        Decimal(value.into())
    }
}

impl FromStr for Decimal {
    type Err = rust_decimal::Error;

    /// Reads decimal text (`16.5`, `-3.25`) or scientific notation (`1e-3`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(['e', 'E']) {
            rust_decimal::Decimal::from_scientific(s).map(Decimal)
        } else {
            rust_decimal::Decimal::from_str_exact(s).map(Decimal)
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0.normalize();
        if value.is_integer()
            && let Some(i) = value.to_i64()
        {
            return serializer.serialize_i64(i);
        }
        // Parsing the decimal's text is correctly rounded, unlike summing its digits in floats.
        let float: f64 = value
            .to_string()
            .parse()
            .map_err(|e| serde::ser::Error::custom(format!("decimal {value} as f64: {e}")))?;
        serializer.serialize_f64(float)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // `Display` for f64 prints the shortest digits that read back as `v`, without exponent.
        let text = v.to_string();
        rust_decimal::Decimal::from_str_exact(&text)
            .map(Decimal)
            .map_err(|e| E::custom(format!("number {text} does not fit a decimal: {e}")))
    }
}

/// Serde helpers for `date-time` fields: `#[serde(with = "crate::primitives::datetime")]`, and
/// [`datetime::option`] for optional ones.
///
/// Reading accepts RFC 3339 with any UTC offset, a lowercase `t`/`z`, a space instead of the
/// `T` (RFC 3339 section 5.6 allows it), and fractional seconds of any length (digits past
/// nanoseconds are dropped). A timestamp without an offset is refused: its instant is unknown. Writing always uses UTC with a `Z`;
/// a value with a fractional second is written with milliseconds
/// (`2013-02-01T20:53:32.486Z`, sub-millisecond digits are dropped), a whole second without
/// a fraction (`2013-02-01T20:53:32Z`). Milliseconds are what OCPP peers commonly send and
/// accept; 2.0.1 part 2 section 2.1.4 asks for no more than three decimals.
pub mod datetime {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::{OffsetDateTime, UtcOffset};

    /// Reads an RFC 3339 timestamp (see the [module docs](self) for what is accepted).
    pub fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
        if text.bytes().any(|b| b == b't' || b == b'z') {
            // Only digits, separators, `T` and `Z` can occur in valid input.
            OffsetDateTime::parse(&text.to_ascii_uppercase(), &Rfc3339)
        } else {
            OffsetDateTime::parse(text, &Rfc3339)
        }
    }

    /// Whether `text` is `YYYY-MM-DDThh:mm:ssZ` or `YYYY-MM-DDThh:mm:ss.f…Z` (1 to 9 digits of
    /// fraction) with a date of the calendar and a time of the day: what this crate writes and
    /// most peers send. Every such text [`parse`]s (a test holds it to that), so the schemas'
    /// `date-time` check can accept it without running the parser; `false` says nothing.
    pub(crate) fn is_plain_utc(text: &str) -> bool {
        let b = text.as_bytes();
        let end = b.len().saturating_sub(1);
        let fraction_ok = match b.len() {
            20 => true,
            22..=30 => b[19] == b'.' && b[20..end].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if !fraction_ok || b[end] != b'Z' {
            return false;
        }
        let number = |at: usize, len: usize| {
            b[at..at + len].iter().try_fold(0u32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if punctuation.iter().any(|(at, c)| b[*at] != *c) {
            return false;
        }
        let fields = (
            number(0, 4),
            number(5, 2),
            number(8, 2),
            number(11, 2),
            number(14, 2),
            number(17, 2),
        );
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
        else {
            return false;
        };
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
    }

    /// Writes `value` in UTC as OCPP expects (see the [module docs](self)).
    pub fn format(value: OffsetDateTime) -> String {
        let mut buffer = Buffer::default();
        match buffer.write(value) {
            Some(text) => text.to_owned(),
            None => format_with_time(value),
        }
    }

    /// The `time` crate's formatting of the same text: the reference [`Buffer::write`] is
    /// tested against, and the writer of years outside 0000-9999, which never occur in OCPP.
    pub(crate) fn format_with_time(value: OffsetDateTime) -> String {
        let utc = value.to_offset(UtcOffset::UTC);
        let result = if utc.nanosecond() == 0 {
            utc.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
        } else {
            utc.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
        };
        // The descriptions only use components every OffsetDateTime has.
        result.unwrap_or_else(|_| utc.to_string())
    }

    /// Room for the longest text [`format`] writes by hand, `YYYY-MM-DDThh:mm:ss.mmmZ`: every
    /// response with a `currentTime` writes one, so it is written on the stack, digit by
    /// digit, rather than through `time`'s interpreter of format descriptions (a measurable
    /// share of a Heartbeat's cost).
    #[derive(Default)]
    struct Buffer([u8; 24]);

    impl Buffer {
        /// `value` in UTC as [`format`] writes it, or `None` for a year outside 0000-9999
        /// (which `time` writes with a sign or more digits).
        fn write(&mut self, value: OffsetDateTime) -> Option<&str> {
            let utc = value.to_offset(UtcOffset::UTC);
            // Each of `year()`, `month()`, `day()` would work the calendar date out again.
            let (year, month, day) = utc.to_calendar_date();
            let (hour, minute, second, nanosecond) = utc.to_hms_nano();
            let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
            // Fixed places in a fixed array, two digits at a time: no loop, no bounds checks.
            let text = &mut self.0;
            let mut two = |at: usize, number: u32, separator: u8| {
                text[at] = b'0' + (number / 10 % 10) as u8;
                text[at + 1] = b'0' + (number % 10) as u8;
                text[at + 2] = separator;
            };
            two(0, year / 100, b'0');
            two(2, year % 100, b'-');
            two(5, u32::from(u8::from(month)), b'-');
            two(8, u32::from(day), b'T');
            two(11, u32::from(hour), b':');
            two(14, u32::from(minute), b':');
            let len = if nanosecond == 0 {
                two(17, u32::from(second), b'Z');
                20
            } else {
                // Milliseconds are cut, not rounded, as `[subsecond digits:3]` does.
                let millis = nanosecond / 1_000_000;
                two(17, u32::from(second), b'.');
                two(20, millis / 10, b'0');
                text[22] = b'0' + (millis % 10) as u8;
                text[23] = b'Z';
                24
            };
            std::str::from_utf8(&self.0[..len]).ok()
        }
    }

    /// Appends `value` as [`format`] writes it, unless its year is outside 0000-9999 (then
    /// `false`, and nothing is appended): for writers of JSON text that bypass serde.
    pub(crate) fn push(out: &mut String, value: OffsetDateTime) -> bool {
        let mut buffer = Buffer::default();
        buffer.write(value).map(|text| out.push_str(text)).is_some()
    }

    /// Serializes a required `date-time` field.
    pub fn serialize<S: Serializer>(
        value: &OffsetDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut buffer = Buffer::default();
        match buffer.write(*value) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&format_with_time(*value)),
        }
    }

    /// Deserializes a required `date-time` field.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        parse(&text).map_err(|e| D::Error::custom(format!("invalid date-time {text:?}: {e}")))
    }

    /// The same for `Option<OffsetDateTime>` fields (with `default` and
    /// `skip_serializing_if = "Option::is_none"`, so absent stays absent).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        /// Serializes an optional `date-time` field.
        pub fn serialize<S: Serializer>(
            value: &Option<OffsetDateTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Deserializes an optional `date-time` field.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] OffsetDateTime);
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(v)| v))
        }
    }
}

/// Lenient reading of `integer` fields: `#[serde(deserialize_with =
/// "crate::primitives::integer::deserialize")]` on `i32`, `Option<i32>`, `Vec<i32>` and
/// `Option<Vec<i32>>` fields.
///
/// JSON Schema draft-06 (the 2.0.1 and 1.6 security schemas) counts a number with a zero
/// fraction, such as `300.0`, as an integer, and peers written in languages whose numbers are
/// all doubles send exactly that (Python's `json.dumps(300.0)`). A plain `i32` would refuse
/// what the schema accepts; this reads `300.0` as 300 and still refuses `1.5` and values
/// beyond 32 bits, with serde's usual "invalid value" message. Writing is unchanged: integers
/// are always written without a fraction.
pub mod integer {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, DeserializeOwned, Deserializer, Unexpected, Visitor};

    /// An `i32` read from an integer or from a number with a zero fraction.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Lenient(pub i32);

    impl<'de> Deserialize<'de> for Lenient {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(LenientVisitor)
        }
    }

    struct LenientVisitor;

    impl Visitor<'_> for LenientVisitor {
        type Value = Lenient;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a 32-bit integer")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient, E> {
            i32::try_from(v)
                .map(Lenient)
                .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient, E> {
            i32::try_from(v)
                .map(Lenient)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient, E> {
            let in_range = v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX);
            if in_range {
                // Exact: `v` is integral and within i32, so the cast neither rounds nor saturates.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Lenient(v as i32))
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }

    /// The field shapes an `integer` member takes in the generated types.
    pub trait Shape: Sized {
        /// The same shape with [`Lenient`] in place of `i32`.
        type Lenient: DeserializeOwned;
        /// Unwraps the lenient form.
        fn from_lenient(lenient: Self::Lenient) -> Self;
    }

    impl Shape for i32 {
        type Lenient = Lenient;
        fn from_lenient(lenient: Lenient) -> i32 {
            lenient.0
        }
    }

    impl Shape for Option<i32> {
        type Lenient = Option<Lenient>;
        fn from_lenient(lenient: Option<Lenient>) -> Option<i32> {
            lenient.map(|l| l.0)
        }
    }

    impl Shape for Vec<i32> {
        type Lenient = Vec<Lenient>;
        fn from_lenient(lenient: Vec<Lenient>) -> Vec<i32> {
            lenient.into_iter().map(|l| l.0).collect()
        }
    }

    impl Shape for Option<Vec<i32>> {
        type Lenient = Option<Vec<Lenient>>;
        fn from_lenient(lenient: Option<Vec<Lenient>>) -> Option<Vec<i32>> {
            lenient.map(|v| v.into_iter().map(|l| l.0).collect())
        }
    }

    /// Reads any [`Shape`] of integer field leniently; see the [module docs](self).
    pub fn deserialize<'de, D: Deserializer<'de>, T: Shape>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        T::Lenient::deserialize(deserializer).map(T::from_lenient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn round_trip(text: &str) -> String {
        let value: Decimal = serde_json::from_str(text).unwrap();
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn decimals_round_trip_text_to_typed_to_text_unchanged_in_value() {
        for (input, output, exact) in [
            ("0.1", "0.1", "0.1"),
            ("16.5", "16.5", "16.5"),
            ("230", "230", "230"),
            ("1e-3", "0.001", "0.001"),
            ("-3.25", "-3.25", "-3.25"),
            ("12345.678", "12345.678", "12345.678"),
            ("230.0", "230", "230"),
            ("-0.5", "-0.5", "-0.5"),
            ("0", "0", "0"),
            ("99999999999999.9", "99999999999999.9", "99999999999999.9"),
        ] {
            assert_eq!(round_trip(input), output, "{input}");
            let value: Decimal = serde_json::from_str(input).unwrap();
            assert_eq!(value, exact.parse::<Decimal>().unwrap(), "{input}");
        }
    }

    #[test]
    fn decimals_keep_the_exact_value_where_f64_would_not() {
        let value: Decimal = serde_json::from_str("0.1").unwrap();
        let sum = value.get() + value.get() + value.get();
        assert_eq!(sum, "0.3".parse::<rust_decimal::Decimal>().unwrap());
    }

    #[test]
    fn integer_valued_decimals_serialize_as_json_integers() {
        assert_eq!(
            serde_json::to_value(Decimal::from(230)).unwrap(),
            json!(230)
        );
        assert_eq!(
            serde_json::to_value(Decimal::new(2300, 1)).unwrap(),
            json!(230)
        );
        assert_eq!(
            serde_json::to_value(Decimal::new(165, 1)).unwrap(),
            json!(16.5)
        );
    }

    #[test]
    fn decimals_refuse_strings_and_out_of_range_numbers() {
        assert!(serde_json::from_str::<Decimal>("\"16.5\"").is_err());
        assert!(serde_json::from_str::<Decimal>("1e300").is_err());
        assert!(serde_json::from_str::<Decimal>("1e-40").is_err());
    }

    #[test]
    fn decimal_text_forms_parse() {
        assert_eq!("1e-3".parse::<Decimal>().unwrap(), Decimal::new(1, 3));
        assert_eq!(Decimal::new(-325, 2).to_string(), "-3.25");
        assert_eq!(Decimal::new(2300, 1).to_string(), "230");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamp {
        #[serde(with = "datetime")]
        at: time::OffsetDateTime,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "datetime::option"
        )]
        until: Option<time::OffsetDateTime>,
    }

    fn stamp(at: &str) -> Stamp {
        serde_json::from_value(json!({ "at": at })).unwrap()
    }

    #[test]
    fn date_times_serialize_in_utc_with_milliseconds_only_when_fractional() {
        assert_eq!(
            datetime::format(datetime!(2013-02-01 20:53:32.486 UTC)),
            "2013-02-01T20:53:32.486Z"
        );
        assert_eq!(
            datetime::format(datetime!(2013-02-01 20:53:32 UTC)),
            "2013-02-01T20:53:32Z"
        );
        assert_eq!(
            datetime::format(datetime!(2013-02-01 20:53:32.5 UTC)),
            "2013-02-01T20:53:32.500Z"
        );
        assert_eq!(
            datetime::format(datetime!(2013-02-01 22:53:32 +02:00)),
            "2013-02-01T20:53:32Z"
        );
    }

    /// A runner of 30,000 cases from a fixed seed: the same cases on every run.
    fn seeded_runner(seed: u8) -> proptest::test_runner::TestRunner {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        TestRunner::new_with_rng(
            Config {
                cases: 30_000,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        )
    }

    /// The hand-written formatter is byte for byte the `time` crate's formatting it replaced,
    /// over the whole range of years `time` holds (those outside 0000-9999 take `time`'s path)
    /// and every offset, with and without a fraction, sub-millisecond ones included.
    #[test]
    fn the_hand_written_date_time_format_is_the_time_crates() {
        use proptest::prelude::*;

        let mut runner = seeded_runner(7);
        let min = time::PrimitiveDateTime::MIN.assume_utc().unix_timestamp();
        let max = time::PrimitiveDateTime::MAX.assume_utc().unix_timestamp();
        let nanos = prop_oneof![
            Just(0u32),
            0u32..1_000_000,
            (0u32..1000).prop_map(|ms| ms * 1_000_000),
            0u32..1_000_000_000,
        ];
        let seconds = prop_oneof![min..=max, 0i64..=253_402_300_799, Just(min), Just(max)];
        let offset = -86_399i32..=86_399;
        runner
            .run(&(seconds, nanos, offset), |(seconds, nanos, offset)| {
                let offset = time::UtcOffset::from_whole_seconds(offset).unwrap();
                let utc = time::OffsetDateTime::from_unix_timestamp(seconds)
                    .unwrap()
                    .replace_nanosecond(nanos)
                    .unwrap();
                // Near the ends of the range not every offset can hold the instant.
                let Some(value) = utc.checked_to_offset(offset) else {
                    return Ok(());
                };
                let expected = datetime::format_with_time(value);
                prop_assert_eq!(datetime::format(value), expected.clone());
                let json = serde_json::to_string(&Stamp {
                    at: value,
                    until: None,
                })
                .unwrap();
                prop_assert_eq!(json, format!(r#"{{"at":"{expected}"}}"#));
                Ok(())
            })
            .unwrap();
    }

    /// The shortcut of the schemas' `date-time` check accepts only what the parser accepts
    /// (it may leave more to the parser), over texts of its shape with fields in and out of
    /// range and single characters changed; and it does take the texts this crate writes.
    #[test]
    fn plain_utc_date_times_are_ones_the_parser_accepts() {
        use proptest::prelude::*;

        let mut runner = seeded_runner(11);
        let fields = (
            prop_oneof![0u32..=9999, Just(1900), Just(2000), Just(2024), Just(2100)],
            0u32..=13,
            0u32..=32,
            0u32..=25,
            0u32..=61,
            0u32..=61,
            proptest::option::of("[0-9]{1,10}"),
            prop_oneof![Just("Z"), Just("z"), Just("+01:00"), Just("")],
        );
        let mutation = proptest::option::of((0usize..32, "[-0-9:.TZtz +]"));
        runner
            .run(
                &(fields, mutation),
                |((y, mo, d, h, mi, s, fraction, end), mutation)| {
                    let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
                    let mut text =
                        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{end}");
                    if let Some((at, with)) = mutation
                        && at < text.len()
                    {
                        text.replace_range(at..=at, &with);
                    }
                    if datetime::is_plain_utc(&text) {
                        prop_assert!(datetime::parse(&text).is_ok(), "{}", text);
                    }
                    Ok(())
                },
            )
            .unwrap();
        for value in [
            datetime!(2013-02-01 20:53:32.486 UTC),
            datetime!(2024-02-29 23:59:59 UTC),
            datetime!(0000-01-01 00:00:00.001 UTC),
        ] {
            assert!(datetime::is_plain_utc(&datetime::format(value)));
        }
        assert!(datetime::is_plain_utc("2024-05-01T10:00:00.123456789Z"));
        assert!(!datetime::is_plain_utc("2023-02-29T10:00:00Z"));
        assert!(!datetime::is_plain_utc("2024-05-01T10:00:60Z"));
    }

    #[test]
    fn date_times_parse_lowercase_z_offsets_and_any_fraction_length() {
        let expected = datetime!(2013-02-01 20:53:32 UTC);
        for text in [
            "2013-02-01T20:53:32Z",
            "2013-02-01t20:53:32z",
            "2013-02-01T22:53:32+02:00",
            "2013-02-01T19:53:32-01:00",
        ] {
            assert_eq!(stamp(text).at, expected, "{text}");
        }
        assert_eq!(
            stamp("2013-02-01T20:53:32.4Z").at,
            datetime!(2013-02-01 20:53:32.4 UTC)
        );
        assert_eq!(
            stamp("2013-02-01T20:53:32.123456789Z").at,
            datetime!(2013-02-01 20:53:32.123456789 UTC)
        );
        let long = stamp("2013-02-01T20:53:32.1234567891234Z").at;
        assert_eq!(long.millisecond(), 123);
        assert_eq!(
            serde_json::to_value(stamp("2013-02-01T20:53:32.486123Z")).unwrap(),
            json!({ "at": "2013-02-01T20:53:32.486Z" })
        );
    }

    #[test]
    fn date_times_refuse_what_is_not_rfc_3339() {
        for text in ["2013-02-01", "2013-02-01T20:53:32", "yesterday"] {
            let parsed: Result<Stamp, _> = serde_json::from_value(json!({ "at": text }));
            assert!(parsed.is_err(), "{text}");
        }
    }

    #[test]
    fn optional_date_times_are_omitted_when_absent_and_read_when_present() {
        let s = stamp("2013-02-01T20:53:32Z");
        assert_eq!(s.until, None);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({ "at": "2013-02-01T20:53:32Z" })
        );
        let both: Stamp = serde_json::from_value(
            json!({ "at": "2013-02-01T20:53:32Z", "until": "2013-02-02T00:00:00.001Z" }),
        )
        .unwrap();
        assert_eq!(both.until, Some(datetime!(2013-02-02 00:00:00.001 UTC)));
        assert_eq!(
            serde_json::to_value(&both).unwrap(),
            json!({ "at": "2013-02-01T20:53:32Z", "until": "2013-02-02T00:00:00.001Z" })
        );
    }

    /// Draft-06 counts `300.0` as an integer; the decoder must accept what the schema does.
    #[test]
    fn integers_accept_a_zero_fraction_and_refuse_the_rest() {
        use super::integer::Lenient;
        let read = |text: &str| serde_json::from_str::<Lenient>(text).map(|l| l.0);
        assert_eq!(read("300").unwrap(), 300);
        assert_eq!(read("300.0").unwrap(), 300);
        assert_eq!(read("-2147483648").unwrap(), i32::MIN);
        assert_eq!(read("2147483647.0").unwrap(), i32::MAX);
        for bad in ["1.5", "2147483648", "-2147483649", "3e10", "\"1\"", "null"] {
            let error = read(bad).unwrap_err().to_string();
            assert!(error.contains("invalid"), "{bad}: {error}");
        }
        // Out of range is serde's "invalid value", which callers can tell from a type error.
        assert!(
            read("2147483648")
                .unwrap_err()
                .to_string()
                .contains("invalid value: integer")
        );
    }
}
