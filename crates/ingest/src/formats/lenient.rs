//! Reading a JSON record straight into the few typed fields a format needs, as leniently as the
//! `serde_json::Value` tree was read: a field of the wrong JSON type is absent, never an error,
//! and a repeated key's last value wins.
//!
//! Everything else in the record is still parsed, not skipped: serde's `IgnoredAny` skips a value
//! without checking its strings' UTF-8 and escapes, its numbers' range or its nesting depth, so a
//! record the tree parser rejects could have been read. Parsing every value through
//! `deserialize_any` and dropping it makes a record fail here exactly when it fails as a `Value`;
//! the caller then reports it through the tree parser, whose messages the diagnostics keep.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a field makes of each kind of JSON value: `None`, the default, for the kinds it does not
/// expect (the value is still parsed and dropped).
pub(super) trait Lenient<'de>: Sized {
    fn from_str(_: Cow<'de, str>) -> Option<Self> {
        None
    }

    fn from_i64(_: i64) -> Option<Self> {
        None
    }

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(None)
    }

    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }
}

/// A JSON object read into its fields of interest.
pub(super) trait Object<'de>: Default {
    /// Reads `key`'s value into its field, overwriting any earlier one; false, having read
    /// nothing, for a key of no interest.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

impl<'de, T: Object<'de>> Lenient<'de> for T {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut object = T::default();
        while let Some(Key(key)) = map.next_key()? {
            if !object.field(&key, &mut map)? {
                map.next_value::<Skip>()?;
            }
        }
        Ok(Some(object))
    }
}

/// A string, borrowed from the input unless it was written with escapes.
impl<'de> Lenient<'de> for Cow<'de, str> {
    fn from_str(text: Cow<'de, str>) -> Option<Self> {
        Some(text)
    }
}

/// An array's elements that have the expected type; empty when the value is not an array.
pub(super) struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Lenient<'de>> Lenient<'de> for List<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::new();
        while let Some(Field(item)) = seq.next_element::<Field<T>>()? {
            items.extend(item);
        }
        Ok(Some(List(items)))
    }
}

/// No kind of value: a `Field<Nothing>` parses any value and keeps none.
pub(super) enum Nothing {}

impl Lenient<'_> for Nothing {}

/// Any value, parsed as strictly as a `Value` would be, and dropped.
pub(super) type Skip = Field<Nothing>;

/// A value read as `T` when it has the JSON type `T` expects, `None` otherwise.
pub(super) struct Field<T>(pub Option<T>);

impl<'de, T: Lenient<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field(None))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field(T::from_i64(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field(T::from_u64(v)))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field(None))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field(T::from_str(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field(T::from_str(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field(T::from_str(Cow::Owned(v))))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field(None))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Field::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq).map(Field)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(Field)
    }
}

/// An object key, unescaped as the tree's keys are, so that keys compare as they do there.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The next value of `map` read leniently as `T`.
pub(super) fn next<'de, T: Lenient<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    map.next_value::<Field<T>>().map(|f| f.0)
}

/// A string field as [`super::json_records::text`] reads it: trimmed, absent when empty.
pub(super) fn text<'s>(s: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// [`text`] copied.
pub(super) fn owned(s: &Option<Cow<'_, str>>) -> Option<String> {
    text(s).map(str::to_string)
}
