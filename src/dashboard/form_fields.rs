//! The code form's fields as HTML, from the tables of `code_fields.rs`: a labelled control per
//! field, a fieldset per list with its rows (one blank row to fill, more with the list's "Add"
//! button, which posts the form back to be shown again: no script needed), and the API's
//! refusal beside the field or list whose path it starts with.

use std::cell::Cell;

use maud::{html, Markup};

use super::code_fields::{Field, Group, Kind, Section};
use super::form_json::{rows, Values};

/// The name of the list buttons' field: its value is the path of the list to grow.
pub const ADD_ROW: &str = "add";

/// What the fields show: the texts, the refusal, and the list a row was asked for.
pub struct Shown<'a> {
    pub values: &'a Values,
    pub error: Option<&'a str>,
    /// The path of the list whose "Add" button was pressed ("" for none).
    pub grown: &'a str,
    /// Whether a field or list showed the refusal (else it goes above the form).
    placed: Cell<bool>,
}

impl<'a> Shown<'a> {
    pub fn new(values: &'a Values, error: Option<&'a str>, grown: &'a str) -> Self {
        Self {
            values,
            error,
            grown,
            placed: Cell::new(false),
        }
    }

    /// Whether the refusal was shown beside a field.
    pub fn placed(&self) -> bool {
        self.placed.get()
    }

    /// The refusal when it names `path` (the path, then a space, a colon or nothing).
    fn error_for(&self, path: &str) -> Option<&'a str> {
        let message = self.error?;
        let rest = message.strip_prefix(path)?;
        let named = rest.is_empty() || rest.starts_with(' ') || rest.starts_with(':');
        if named {
            self.placed.set(true);
        }
        named.then_some(message)
    }
}

/// A refusal beside what it names, tied to it for screen readers.
fn error_note(path: &str, error: Option<&str>) -> Markup {
    html! { @if let Some(error) = error { p.field-error id={ (path) "-error" } role="alert" { (error) } } }
}

pub fn section(section: &Section, prefix: &str, shown: &Shown) -> Markup {
    list_of(section.fields, section.groups, prefix, shown)
}

fn list_of(fields: &[Field], groups: &[Group], prefix: &str, shown: &Shown) -> Markup {
    html! {
        @for f in fields { (field(f, &format!("{prefix}{}", f.key), shown)) }
        @for g in groups { (group(g, &format!("{prefix}{}", g.key), shown)) }
    }
}

fn group(group: &Group, path: &str, shown: &Shown) -> Markup {
    let grown = usize::from(shown.grown == path);
    let count = rows(shown.values, path) + 1 + grown;
    html! {
        fieldset.list id=(path) {
            legend { (group.legend) }
            (error_note(path, shown.error_for(path)))
            @for i in 0..count {
                @let row = format!("{path}[{i}]");
                fieldset.row {
                    legend { (group.item) " " (i + 1) }
                    (error_note(&row, shown.error_for(&row)))
                    (list_of(group.fields, group.groups, &format!("{row}."), shown))
                }
            }
            button.secondary type="submit" name=(ADD_ROW) value=(path) formnovalidate {
                "Add a row: " (group.item)
            }
        }
    }
}

fn field(field: &Field, path: &str, shown: &Shown) -> Markup {
    let value = shown.values.get(path).map_or("", String::as_str);
    let error = shown.error_for(path);
    let error_id = format!("{path}-error");
    let invalid = error.map(|_| "true");
    let described = error.map(|_| error_id.as_str());
    html! {
        label for=(path) { (field.label) }
        @match field.kind {
            Kind::LongText => {
                textarea id=(path) name=(path) rows="3" aria-invalid=[invalid] aria-describedby=[described] { (value) }
            }
            Kind::Choice(choices) => {
                select id=(path) name=(path) aria-invalid=[invalid] aria-describedby=[described] {
                    option value="" { "—" }
                    @for (choice, label) in choices {
                        option value=(choice) selected[value == *choice] { (label) }
                    }
                }
            }
            Kind::YesNo => {
                select id=(path) name=(path) aria-invalid=[invalid] aria-describedby=[described] {
                    option value="" { "Default" }
                    option value="yes" selected[value == "yes"] { "Yes" }
                    option value="no" selected[value == "no"] { "No" }
                }
            }
            Kind::Password => {
                input id=(path) type="password" name=(path) autocomplete="new-password"
                    aria-invalid=[invalid] aria-describedby=[described];
            }
            kind => {
                input id=(path) type=(input_type(kind)) name=(path) value=(value)
                    step=[matches!(kind, Kind::Number).then_some("any")]
                    aria-invalid=[invalid] aria-describedby=[described];
            }
        }
        @if !field.hint.is_empty() { p.muted { (field.hint) } }
        (error_note(path, error))
    }
}

fn input_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Url => "url",
        Kind::Email => "email",
        Kind::Number => "number",
        Kind::DateTime => "datetime-local",
        Kind::Date => "date",
        Kind::Time => "time",
        _ => "text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::code_fields::type_settings;
    use crate::model::QrType;

    fn rendered(values: &Values, error: &str, grown: &str) -> (String, bool) {
        let shown = Shown::new(values, Some(error), grown);
        let html = section(&type_settings(QrType::LinkList), "settings.", &shown).into_string();
        (html, shown.placed())
    }

    #[test]
    fn a_refusal_is_shown_beside_the_field_or_list_it_names() {
        let values: Values = [(
            "settings.links[1].url".to_string(),
            "javascript:x".to_string(),
        )]
        .into();
        let (html, placed) = rendered(&values, "settings.links[1].url must use http or https", "");
        assert!(placed);
        assert!(
            html.contains(r#"id="settings.links[1].url-error""#),
            "{html}"
        );
        assert!(html.contains(r#"value="javascript:x""#));
        let (html, placed) = rendered(&Values::new(), "settings.links is required", "");
        assert!(placed && html.contains(r#"id="settings.links-error""#));
        // A longer key is another field: not this one's.
        let (_, placed) = rendered(&Values::new(), "settings.titles is wrong", "");
        assert!(!placed, "shown above the form");
    }

    #[test]
    fn a_list_shows_its_rows_one_blank_row_and_one_more_when_asked() {
        let values: Values = [(
            "settings.links[1].url".to_string(),
            "https://a.example".to_string(),
        )]
        .into();
        let (html, _) = rendered(&values, "", "");
        assert!(html.contains(r#"id="settings.links[2].url""#) && !html.contains("links[3]"));
        let (html, _) = rendered(&values, "", "settings.links");
        assert!(html.contains(r#"id="settings.links[3].url""#));
    }
}
