//! A lazy, lenient view of a JSON object.
//!
//! [`Fields`] splits an object into its keys and their unparsed values in one pass that allocates
//! only the key list. [`Lenient`] then reads single fields on demand; a field of the wrong type is
//! ignored and noted on the event as degraded instead of failing the whole record, because losing
//! a NodePort exposure over a malformed `userAgent` would be the wrong trade for a security tool.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::{SkipReason, repair};
use crate::model::Degradation;

/// The members of one JSON object, values left unparsed.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// Parses `text` as an object; any other JSON value or invalid JSON is an error.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The object held by `raw`, or `None` when it is not an object.
    pub fn of(raw: &'a RawValue) -> Option<Self> {
        let text = raw.get();
        if !text.starts_with('{') {
            return None;
        }
        Self::parse(text).ok()
    }

    /// The value of `key`, treating `null` as absent. A repeated key reads as its last value,
    /// as Go's decoder in the API server reads it.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = Fields<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Fields { entries })
            }
        }

        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

/// The elements of a JSON array, left unparsed.
pub(crate) fn elements(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// Reads typed fields, recording on the event every field whose type was wrong.
pub(crate) struct Lenient<'e> {
    degraded: &'e mut Vec<Degradation>,
}

impl<'e> Lenient<'e> {
    pub fn new(degraded: &'e mut Vec<Degradation>) -> Self {
        Lenient { degraded }
    }

    /// Records that part of the record could not be read.
    pub fn note(&mut self, why: Degradation) {
        if !self.degraded.contains(&why) {
            self.degraded.push(why);
        }
    }

    fn wrong_type(&mut self, path: &str) {
        self.note(Degradation::InvalidField(path.to_owned()));
    }

    /// Deserializes `key` as `T`; absent or null gives `None`, a wrong type is noted.
    pub fn typed<T: DeserializeOwned>(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        path: &str,
    ) -> Option<T> {
        let raw = fields.get(key)?;
        match serde_json::from_str(raw.get()) {
            Ok(v) => Some(v),
            Err(_) => {
                self.wrong_type(path);
                None
            }
        }
    }

    pub fn string(&mut self, fields: &Fields<'_>, key: &str, path: &str) -> Option<String> {
        self.typed::<String>(fields, key, path)
    }

    /// An integer, also accepted as a numeric string (Log Analytics sends some that way).
    pub fn integer(&mut self, fields: &Fields<'_>, key: &str, path: &str) -> Option<i64> {
        let raw = fields.get(key)?;
        if let Ok(n) = serde_json::from_str::<i64>(raw.get()) {
            return Some(n);
        }
        if let Some(n) = serde_json::from_str::<String>(raw.get())
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            return Some(n);
        }
        self.wrong_type(path);
        None
    }

    /// A list of strings; a lone string is read as a one-element list.
    pub fn strings(&mut self, fields: &Fields<'_>, key: &str, path: &str) -> Vec<String> {
        let Some(raw) = fields.get(key) else {
            return Vec::new();
        };
        if let Ok(list) = serde_json::from_str::<Vec<String>>(raw.get()) {
            return list;
        }
        if let Ok(one) = serde_json::from_str::<String>(raw.get()) {
            return vec![one];
        }
        self.wrong_type(path);
        Vec::new()
    }

    /// A nested object; anything else is noted and ignored.
    pub fn object<'a>(&mut self, fields: &Fields<'a>, key: &str, path: &str) -> Option<Fields<'a>> {
        let raw = fields.get(key)?;
        let nested = Fields::of(raw);
        if nested.is_none() {
            self.wrong_type(path);
        }
        nested
    }

    /// A string-to-string map such as `annotations` or `labels`; non-string values are skipped.
    pub fn string_map(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        path: &str,
    ) -> Vec<(String, String)> {
        let Some(map) = self.object(fields, key, path) else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(k, v)| {
                serde_json::from_str::<String>(v.get())
                    .ok()
                    .map(|v| (k.to_owned(), v))
            })
            .collect()
    }
}

/// Whether a JSON parse failure means the text ended too early (as opposed to being garbage).
pub(crate) fn is_eof(err: &serde_json::Error) -> bool {
    err.classify() == serde_json::error::Category::Eof
}

/// Parses a JSON string literal into its text.
pub(crate) fn string_value(raw: &RawValue) -> Option<String> {
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// Parses a record that must be a JSON object, recovering the readable prefix of a truncated
/// one; `f` receives the fields and whether they come from a repaired prefix.
pub(crate) fn with_object<R>(
    text: &str,
    f: impl FnOnce(&Fields<'_>, bool) -> Result<R, SkipReason>,
) -> Result<R, SkipReason> {
    match Fields::parse(text) {
        Ok(fields) => f(&fields, false),
        Err(e) if is_eof(&e) => {
            let repaired = repair::close_truncated(text).ok_or(SkipReason::Truncated)?;
            let fields = Fields::parse(&repaired).map_err(|_| SkipReason::Truncated)?;
            f(&fields, true)
        }
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(SkipReason::WrongType),
        Err(_) => Err(SkipReason::InvalidJson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_objects_and_keeps_values_raw() {
        let f = Fields::parse(r#"{"a": {"b": [1,2]}, "c": "x\"y", "n": null}"#).unwrap();
        assert_eq!(f.get("a").unwrap().get(), r#"{"b": [1,2]}"#);
        assert_eq!(string_value(f.get("c").unwrap()).unwrap(), "x\"y");
        assert!(f.get("n").is_none());
        assert!(Fields::parse("[1]").is_err());
    }

    #[test]
    fn escaped_keys_are_found() {
        let f = Fields::parse(r#"{"a\u0062": 1}"#).unwrap();
        assert!(f.contains("ab"));
    }

    #[test]
    fn wrong_types_are_noted_not_fatal() {
        let f = Fields::parse(r#"{"verb": 5, "code": "201", "ips": "1.2.3.4"}"#).unwrap();
        let mut degraded = Vec::new();
        let mut r = Lenient::new(&mut degraded);
        assert_eq!(r.string(&f, "verb", "verb"), None);
        assert_eq!(r.integer(&f, "code", "code"), Some(201));
        assert_eq!(r.strings(&f, "ips", "ips"), vec!["1.2.3.4".to_owned()]);
        assert_eq!(degraded, vec![Degradation::InvalidField("verb".into())]);
    }
}
