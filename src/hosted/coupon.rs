//! COUPON_CODE: a coupon to show at the till or copy: the code in large letters, the discount,
//! until when it is valid, the terms, and an optional button to redeem it online.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Longest coupon code.
const MAX_CODE: usize = 64;

/// Validated COUPON_CODE settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Coupon {
    pub title: Option<String>,
    pub description: Option<String>,
    /// What the customer types or shows (`SUMMER25`).
    pub code: String,
    /// The offer in words (`25% off`, `Free coffee`).
    pub discount: Option<String>,
    /// The last day the coupon is valid, `YYYY-MM-DD`.
    pub valid_until: Option<String>,
    pub terms: Option<String>,
    pub redeem_url: Option<String>,
    pub image_url: Option<String>,
    pub accent_color: Option<String>,
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Coupon, String> {
    let s: Coupon = fields::deserialize(settings)?;
    let valid_until = match s.valid_until.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(date) => Some(
            NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| {
                    format!("settings.validUntil must be a date like 2025-12-31, not {date:?}")
                })?
                .format("%Y-%m-%d")
                .to_string(),
        ),
    };
    Ok(Coupon {
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        code: fields::title("settings.code", s.code, MAX_CODE)?,
        discount: fields::opt_title("settings.discount", s.discount, MAX_TITLE)?,
        valid_until,
        terms: fields::opt_text("settings.terms", s.terms)?,
        redeem_url: fields::opt_url("settings.redeemUrl", s.redeem_url)?,
        image_url: fields::opt_url("settings.imageUrl", s.image_url)?,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl Coupon {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let title = self.title.as_deref().unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.body.push_str("<div class=\"card center\">");
        if let Some(url) = &self.image_url {
            page.image(url, "hero", "");
        }
        w!(page.body, "<h1>{}</h1>", escape(title));
        if let Some(discount) = &self.discount {
            w!(page.body, "<div class=\"badge\">{}</div>", escape(discount));
        }
        if let Some(text) = &self.description {
            w!(page.body, "<p>{}</p>", escape(text));
        }
        w!(
            page.body,
            "<div class=\"code\" aria-label=\"Coupon code\">{}</div>",
            escape(&self.code)
        );
        if let Some(date) = &self.valid_until {
            let shown = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(|d| d.format("%-d %B %Y").to_string())
                .unwrap_or_else(|_| date.clone());
            w!(
                page.body,
                "<p class=\"muted\">Valid until <time datetime=\"{}\">{}</time></p>",
                escape(date),
                escape(&shown)
            );
        }
        if let Some(url) = &self.redeem_url {
            page.button(url, "Redeem online", false);
        }
        page.body.push_str("</div>");
        if let Some(terms) = &self.terms {
            w!(
                page.body,
                "<div class=\"card\"><h2>Terms</h2><p class=\"muted\">{}</p></div>",
                escape(terms)
            );
        }
        page.finish()
    }
}
