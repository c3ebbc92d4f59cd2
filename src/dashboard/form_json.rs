//! Between the code form's texts, named by path (`settings.links[0].url`), and the JSON of an
//! API request, both ways and driven by the tables of `code_fields.rs`: what the form posts
//! becomes a request body (blank fields and blank rows left out, each text typed as its field
//! says), and a stored code becomes the texts its form shows. A form read and turned back into
//! texts is renumbered without its blank rows, so the rows the API names are the rows shown.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Number, Value};

use super::code_fields::{Field, Group, Kind, Section};

/// The form's texts by path; blank ones absent.
pub type Values = BTreeMap<String, String>;

/// How `datetime-local` inputs write a time (seconds optional).
const DATE_TIME: &str = "%Y-%m-%dT%H:%M";

/// How many rows the form has for the list at `path` (one past the highest row named).
pub fn rows(values: &Values, path: &str) -> usize {
    let start = format!("{path}[");
    values
        .range(start.clone()..)
        .take_while(|(k, _)| k.starts_with(&start))
        .filter_map(|(k, _)| k[start.len()..].split(']').next()?.parse::<usize>().ok())
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// The JSON of `section`'s fields under `prefix` ("" or "settings.").
pub fn to_json(section: &Section, prefix: &str, values: &Values) -> Map<String, Value> {
    object_of(section.fields, section.groups, prefix, values)
}

fn object_of(
    fields: &[Field],
    groups: &[Group],
    prefix: &str,
    values: &Values,
) -> Map<String, Value> {
    let mut object = Map::new();
    for field in fields {
        let text = values.get(&format!("{prefix}{}", field.key));
        if let Some(value) = text.and_then(|t| typed(field.kind, t)) {
            insert_dotted(&mut object, field.key, value);
        }
    }
    for group in groups {
        let path = format!("{prefix}{}", group.key);
        let items: Vec<Map<String, Value>> = (0..rows(values, &path))
            .map(|i| object_of(group.fields, group.groups, &format!("{path}[{i}]."), values))
            .filter(|row| !row.is_empty())
            .collect();
        if items.is_empty() {
            continue;
        }
        let value = if group.keyed {
            Value::Object(keyed(group, items))
        } else {
            Value::Array(items.into_iter().map(Value::Object).collect())
        };
        object.insert(group.key.to_owned(), value);
    }
    object
}

/// Rows of a keyed list as one object: the first field's text → the second field's value.
fn keyed(group: &Group, items: Vec<Map<String, Value>>) -> Map<String, Value> {
    let (key, value) = (group.fields[0].key, group.fields[1].key);
    items
        .into_iter()
        .map(|row| {
            let name = row.get(key).and_then(Value::as_str).unwrap_or_default();
            (name.to_owned(), row.get(value).cloned().unwrap_or_default())
        })
        .collect()
}

/// A field's text as the JSON its kind sends; None for a blank one (left out).
fn typed(kind: Kind, text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let as_text = || Value::String(text.to_owned());
    Some(match kind {
        Kind::Number => number(text).map_or_else(as_text, Value::Number),
        // A choice of numbers (redirect statuses) is sent as a number.
        Kind::Choice(_) => number(text).map_or_else(as_text, Value::Number),
        Kind::Words => {
            let words: Vec<Value> = text
                .split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(|w| Value::String(w.to_owned()))
                .collect();
            Value::Array(words)
        }
        Kind::DateTime => epoch_ms(text).map_or_else(as_text, Value::from),
        // Browsers send a text area's line breaks as CRLF; the API keeps what it is sent.
        Kind::LongText => Value::String(text.replace("\r\n", "\n")),
        Kind::YesNo => match text {
            "yes" => Value::Bool(true),
            "no" => Value::Bool(false),
            _ => as_text(),
        },
        _ => as_text(),
    })
}

fn number(text: &str) -> Option<Number> {
    match text.parse::<i64>() {
        Ok(whole) => Some(whole.into()),
        Err(_) => Number::from_f64(text.parse::<f64>().ok()?),
    }
}

/// A `datetime-local` text, read as UTC, in epoch milliseconds.
fn epoch_ms(text: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(text, DATE_TIME)
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

fn insert_dotted(object: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            object.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = object
                .entry(head)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

fn get_dotted<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match key.split_once('.') {
        None => object.get(key),
        Some((head, rest)) => get_dotted(object.get(head)?.as_object()?, rest),
    }
}

/// The texts `section`'s fields under `prefix` show for `object` (passwords never).
pub fn from_json(
    section: &Section,
    prefix: &str,
    object: &Map<String, Value>,
    values: &mut Values,
) {
    texts_of(section.fields, section.groups, prefix, object, values);
}

fn texts_of(
    fields: &[Field],
    groups: &[Group],
    prefix: &str,
    object: &Map<String, Value>,
    values: &mut Values,
) {
    for field in fields {
        if let Some(text) = get_dotted(object, field.key).and_then(|v| text_of(field.kind, v)) {
            values.insert(format!("{prefix}{}", field.key), text);
        }
    }
    for group in groups {
        let rows: Vec<Map<String, Value>> = match object.get(group.key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_object().cloned())
                .collect(),
            Some(Value::Object(map)) if group.keyed => map
                .iter()
                .map(|(key, value)| {
                    let mut row = Map::new();
                    row.insert(group.fields[0].key.to_owned(), Value::String(key.clone()));
                    row.insert(group.fields[1].key.to_owned(), value.clone());
                    row
                })
                .collect(),
            _ => Vec::new(),
        };
        for (i, row) in rows.iter().enumerate() {
            let row_prefix = format!("{prefix}{}[{i}].", group.key);
            texts_of(group.fields, group.groups, &row_prefix, row, values);
        }
    }
}

/// A JSON value as its field's text; None for what the field does not show.
fn text_of(kind: Kind, value: &Value) -> Option<String> {
    let text = match (kind, value) {
        (Kind::Password, _) | (_, Value::Null) => return None,
        (Kind::YesNo, Value::Bool(yes)) => (if *yes { "yes" } else { "no" }).to_owned(),
        (Kind::DateTime, Value::Number(ms)) => {
            let at = DateTime::from_timestamp_millis(ms.as_i64()?)?;
            at.naive_utc().format(DATE_TIME).to_string()
        }
        (_, Value::Array(words)) => words
            .iter()
            .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    };
    Some(text).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::code_fields::{type_settings, BEHAVIOUR};
    use crate::model::QrType;
    use serde_json::json;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn blank_rows_are_left_out_and_texts_are_typed() {
        let form = values(&[
            ("settings.sections[0].name", "Pizze"),
            ("settings.sections[0].items[1].name", "Diavola"),
            ("settings.sections[0].items[1].price", "22.5"),
            ("settings.sections[0].items[1].tags", "spicy, , hot"),
            ("settings.sections[2].name", "Dolci"),
            ("settings.currency", "CHF"),
        ]);
        let json = to_json(&type_settings(QrType::RestaurantMenu), "settings.", &form);
        assert_eq!(
            Value::Object(json),
            json!({"currency": "CHF", "sections": [
                {"name": "Pizze", "items": [{"name": "Diavola", "price": 22.5, "tags": ["spicy", "hot"]}]},
                {"name": "Dolci"}]})
        );
    }

    #[test]
    fn a_stored_code_becomes_the_texts_that_make_it_again() {
        let settings = json!({"urls": {"de": "https://a.example/de", "en": "https://a.example/en"},
            "defaultLocale": "en"});
        let section = type_settings(QrType::MultiLocale);
        let mut texts = Values::new();
        from_json(
            &section,
            "settings.",
            settings.as_object().unwrap(),
            &mut texts,
        );
        assert_eq!(texts["settings.urls[1].locale"], "en");
        assert_eq!(rows(&texts, "settings.urls"), 2);
        assert_eq!(
            Value::Object(to_json(&section, "settings.", &texts)),
            settings
        );

        let behaviour = json!({"rules": [{"url": "https://a.example", "os": ["ios", "android"],
            "startAt": 1_700_000_000_000_i64}], "forwardQuery": false, "maxScans": 5,
            "passwordHash": "kept out"});
        let mut texts = Values::new();
        from_json(
            &BEHAVIOUR,
            "settings.",
            behaviour.as_object().unwrap(),
            &mut texts,
        );
        assert_eq!(texts["settings.rules[0].os"], "ios, android");
        assert_eq!(texts["settings.rules[0].startAt"], "2023-11-14T22:13");
        assert_eq!(texts["settings.forwardQuery"], "no");
        let again = to_json(&BEHAVIOUR, "settings.", &texts);
        assert_eq!(again["maxScans"], json!(5));
        assert_eq!(again["rules"][0]["startAt"], json!(1_699_999_980_000_i64));
        assert!(!again.contains_key("passwordHash"));
    }

    #[test]
    fn nested_objects_use_dotted_keys() {
        let form = values(&[
            ("settings.address.city", "Zürich"),
            ("settings.firstName", "Jane"),
        ]);
        let json = to_json(&type_settings(QrType::Vcard), "settings.", &form);
        assert_eq!(
            Value::Object(json),
            json!({"firstName": "Jane", "address": {"city": "Zürich"}})
        );
    }
}
