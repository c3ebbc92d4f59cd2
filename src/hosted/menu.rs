//! RESTAURANT_MENU: a restaurant's menu, section by section, with prices in its currency.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_ITEMS, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Highest price accepted: a typo guard, not a business rule.
const MAX_PRICE: f64 = 1e9;
/// Most tags on one dish, and their longest.
const MAX_TAGS: usize = 10;
const MAX_TAG_LEN: usize = 40;

/// Validated RESTAURANT_MENU settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Menu {
    pub name: String,
    pub description: Option<String>,
    /// ISO 4217 code (`EUR`, `CHF`, `USD`…) of every price.
    pub currency: String,
    pub logo_url: Option<String>,
    pub sections: Vec<MenuSection>,
    pub accent_color: Option<String>,
}

/// One section of a menu (`Starters`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MenuSection {
    pub name: String,
    pub description: Option<String>,
    pub items: Vec<MenuItem>,
}

/// One dish or drink.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MenuItem {
    pub name: String,
    pub description: Option<String>,
    /// Absent for "market price" items.
    pub price: Option<f64>,
    /// Short labels such as `vegan` or `spicy`.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn item(path: &str, item: MenuItem) -> Result<MenuItem, String> {
    if let Some(price) = item.price {
        if !(0.0..=MAX_PRICE).contains(&price) {
            return Err(format!(
                "{path}.price must be a number from 0 to {MAX_PRICE}"
            ));
        }
    }
    if item.tags.len() > MAX_TAGS {
        return Err(format!("{path}.tags has more than {MAX_TAGS} entries"));
    }
    let tags = item
        .tags
        .into_iter()
        .enumerate()
        .map(|(i, tag)| fields::title(&format!("{path}.tags[{i}]"), tag, MAX_TAG_LEN))
        .collect::<Result<_, String>>()?;
    Ok(MenuItem {
        name: fields::title(&format!("{path}.name"), item.name, MAX_TITLE)?,
        description: fields::opt_text(&format!("{path}.description"), item.description)?,
        price: item.price,
        tags,
    })
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Menu, String> {
    let s: Menu = fields::deserialize(settings)?;
    let currency = s.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "settings.currency must be a three-letter currency code like EUR, not {:?}",
            s.currency
        ));
    }
    fields::list_len("settings.sections", s.sections.len(), 1)?;
    let mut sections = Vec::with_capacity(s.sections.len());
    for (i, section) in s.sections.into_iter().enumerate() {
        let path = format!("settings.sections[{i}]");
        fields::list_len(&format!("{path}.items"), section.items.len(), 1)?;
        let items = section
            .items
            .into_iter()
            .enumerate()
            .map(|(j, it)| item(&format!("{path}.items[{j}]"), it))
            .collect::<Result<_, String>>()?;
        sections.push(MenuSection {
            name: fields::title(&format!("{path}.name"), section.name, MAX_TITLE)?,
            description: fields::opt_text(&format!("{path}.description"), section.description)?,
            items,
        });
    }
    let total: usize = sections.iter().map(|s| s.items.len()).sum();
    if total > 10 * MAX_ITEMS {
        return Err(format!(
            "settings.sections hold more than {} items in all",
            10 * MAX_ITEMS
        ));
    }
    Ok(Menu {
        name: fields::title("settings.name", s.name, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        currency,
        logo_url: fields::opt_url("settings.logoUrl", s.logo_url)?,
        sections,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

/// `€12.50`, `CHF 12.50`, `¥1200`: the symbol where it is unambiguous, else the code.
pub fn format_price(price: f64, currency: &str) -> String {
    let decimals = if matches!(currency, "JPY" | "KRW" | "ISK" | "CLP" | "VND") {
        0
    } else {
        2
    };
    match currency {
        "EUR" => format!("€{price:.decimals$}"),
        "USD" => format!("${price:.decimals$}"),
        "GBP" => format!("£{price:.decimals$}"),
        "JPY" => format!("¥{price:.decimals$}"),
        "INR" => format!("₹{price:.decimals$}"),
        _ => format!("{currency} {price:.decimals$}"),
    }
}

impl Menu {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let mut page = Page::new(
            &self.name,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(
            self.logo_url.as_deref(),
            &self.name,
            self.description.as_deref(),
        );
        page.body.push_str("</div>");
        for section in &self.sections {
            w!(
                page.body,
                "<section class=\"card\"><h2>{}</h2>",
                escape(&section.name)
            );
            if let Some(text) = &section.description {
                w!(page.body, "<p class=\"muted\">{}</p>", escape(text));
            }
            for item in &section.items {
                w!(
                    page.body,
                    "<div class=\"row\"><div><strong>{}</strong>",
                    escape(&item.name)
                );
                if let Some(text) = &item.description {
                    w!(page.body, "<div class=\"label\">{}</div>", escape(text));
                }
                for tag in &item.tags {
                    w!(page.body, "<span class=\"tag\">{}</span>", escape(tag));
                }
                page.body.push_str("</div>");
                if let Some(price) = item.price {
                    w!(
                        page.body,
                        "<div class=\"price\">{}</div>",
                        escape(&format_price(price, &self.currency))
                    );
                }
                page.body.push_str("</div>");
            }
            page.body.push_str("</section>");
        }
        page.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::format_price;

    #[test]
    fn prices_read_as_on_a_menu() {
        assert_eq!(format_price(12.5, "EUR"), "€12.50");
        assert_eq!(format_price(7.0, "CHF"), "CHF 7.00");
        assert_eq!(format_price(1200.0, "JPY"), "¥1200");
        assert_eq!(format_price(0.0, "USD"), "$0.00");
    }
}
