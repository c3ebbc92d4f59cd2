//! A submitted HTML form (`application/x-www-form-urlencoded`), read by field name.

use std::collections::HashMap;

pub struct FormData(HashMap<String, String>);

impl FormData {
    /// The fields of `body`; of a field given twice, the last counts.
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The field's value as sent ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The field's value trimmed, None when absent or blank: what an API request would leave out.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every field given, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
