//! VCARD: a contact page (call, write, visit) with a "Save contact" button that downloads the
//! contact as a `.vcf` file, served beside the page at `/{displayId}/contact.vcf` (embedded in
//! the page instead when the code has a password).

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::vcf::vcard_file;
use super::{Download, Hosted, PageContext};

/// The name of the `.vcf` file under the code's path.
pub const VCARD_FILE_NAME: &str = "contact.vcf";
const VCARD_CONTENT_TYPE: &str = "text/vcard; charset=utf-8";

/// Validated VCARD settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vcard {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub organization: Option<String>,
    pub job_title: Option<String>,
    #[serde(default)]
    pub phones: Vec<Phone>,
    #[serde(default)]
    pub emails: Vec<Email>,
    pub website: Option<String>,
    pub address: Option<Address>,
    pub note: Option<String>,
    pub photo_url: Option<String>,
    pub accent_color: Option<String>,
}

/// What a phone number is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneKind {
    #[default]
    Mobile,
    Work,
    Home,
    Fax,
    Other,
}

/// One phone number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Phone {
    #[serde(rename = "type", default)]
    pub kind: PhoneKind,
    pub number: String,
}

/// What an e-mail address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailKind {
    #[default]
    Work,
    Home,
    Other,
}

/// One e-mail address.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Email {
    #[serde(rename = "type", default)]
    pub kind: EmailKind,
    pub address: String,
}

/// A postal address; every part optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// Most phones or e-mail addresses on one card.
const MAX_CONTACTS: usize = 10;

fn address(a: Address) -> Result<Option<Address>, String> {
    let part = |name: &str, v| fields::opt_title(&format!("settings.address.{name}"), v, MAX_TITLE);
    let a = Address {
        street: fields::opt_text("settings.address.street", a.street)?,
        city: part("city", a.city)?,
        region: part("region", a.region)?,
        postal_code: part("postalCode", a.postal_code)?,
        country: part("country", a.country)?,
    };
    let empty = [&a.street, &a.city, &a.region, &a.postal_code, &a.country]
        .iter()
        .all(|p| p.is_none());
    Ok((!empty).then_some(a))
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Vcard, String> {
    let s: Vcard = fields::deserialize(settings)?;
    for (path, len) in [
        ("settings.phones", s.phones.len()),
        ("settings.emails", s.emails.len()),
    ] {
        if len > MAX_CONTACTS {
            return Err(format!("{path} has more than {MAX_CONTACTS} entries"));
        }
    }
    let phones = s
        .phones
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(Phone {
                kind: p.kind,
                number: fields::phone(&format!("settings.phones[{i}].number"), &p.number)?,
            })
        })
        .collect::<Result<_, String>>()?;
    let emails = s
        .emails
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(Email {
                kind: e.kind,
                address: fields::email(&format!("settings.emails[{i}].address"), &e.address)?,
            })
        })
        .collect::<Result<_, String>>()?;
    let card = Vcard {
        first_name: fields::opt_title("settings.firstName", s.first_name, MAX_TITLE)?,
        last_name: fields::opt_title("settings.lastName", s.last_name, MAX_TITLE)?,
        organization: fields::opt_title("settings.organization", s.organization, MAX_TITLE)?,
        job_title: fields::opt_title("settings.jobTitle", s.job_title, MAX_TITLE)?,
        phones,
        emails,
        website: fields::opt_url("settings.website", s.website)?,
        address: s.address.map(address).transpose()?.flatten(),
        note: fields::opt_text("settings.note", s.note)?,
        photo_url: fields::opt_url("settings.photoUrl", s.photo_url)?,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    };
    if card.first_name.is_none() && card.last_name.is_none() && card.organization.is_none() {
        return Err(
            "settings.firstName, settings.lastName or settings.organization is required".into(),
        );
    }
    Ok(card)
}

/// `+41 44 668 18 00` as a `tel:` URI: the leading `+` and the digits.
fn tel_uri(number: &str) -> String {
    let mut uri = String::from("tel:");
    uri.extend(
        number
            .chars()
            .enumerate()
            .filter(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
            .map(|(_, c)| c),
    );
    uri
}

impl Vcard {
    /// "First Last", or the organization for a company card.
    pub fn full_name(&self) -> String {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if parts.is_empty() {
            self.organization.clone().unwrap_or_default()
        } else {
            parts.join(" ")
        }
    }

    fn row(page: &mut Page, label: &str, href: Option<&str>, text: &str) {
        w!(
            page.body,
            "<div class=\"row\"><div><div class=\"label\">{}</div>",
            escape(label)
        );
        match href {
            Some(href) => w!(
                page.body,
                "<a href=\"{}\">{}</a>",
                escape(href),
                escape(text)
            ),
            None => w!(page.body, "<p>{}</p>", escape(text)),
        }
        page.body.push_str("</div></div>");
    }

    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let name = self.full_name();
        let mut page = Page::new(
            &name,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        let subtitle = match (&self.job_title, &self.organization) {
            (Some(t), Some(o)) if self.first_name.is_some() || self.last_name.is_some() => {
                Some(format!("{t} · {o}"))
            }
            (Some(t), _) => Some(t.clone()),
            (None, Some(o)) if o != &name => Some(o.clone()),
            _ => None,
        };
        page.intro(self.photo_url.as_deref(), &name, subtitle.as_deref());
        if ctx.protected {
            let card = base64::engine::general_purpose::STANDARD.encode(vcard_file(self));
            let url = format!("data:text/vcard;charset=utf-8;base64,{card}");
            page.download_button(&url, VCARD_FILE_NAME, "Save contact");
        } else {
            page.button(
                &format!("/{}/{VCARD_FILE_NAME}", ctx.display_id),
                "Save contact",
                false,
            );
        }
        page.body.push_str("</div><div class=\"card\">");
        for phone in &self.phones {
            let label = match phone.kind {
                PhoneKind::Mobile => "Mobile",
                PhoneKind::Work => "Work phone",
                PhoneKind::Home => "Home phone",
                PhoneKind::Fax => "Fax",
                PhoneKind::Other => "Phone",
            };
            Self::row(
                &mut page,
                label,
                Some(&tel_uri(&phone.number)),
                &phone.number,
            );
        }
        for email in &self.emails {
            let label = match email.kind {
                EmailKind::Work => "Work e-mail",
                EmailKind::Home => "Home e-mail",
                EmailKind::Other => "E-mail",
            };
            let href = format!("mailto:{}", email.address);
            Self::row(&mut page, label, Some(&href), &email.address);
        }
        if let Some(url) = &self.website {
            Self::row(&mut page, "Website", Some(url), url);
        }
        if let Some(a) = &self.address {
            let city_line = [&a.postal_code, &a.city, &a.region]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            let lines = [
                a.street.as_deref(),
                Some(city_line.as_str()),
                a.country.as_deref(),
            ]
            .into_iter()
            .flatten()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
            Self::row(&mut page, "Address", None, &lines);
        }
        if let Some(note) = &self.note {
            Self::row(&mut page, "Note", None, note);
        }
        page.body.push_str("</div>");
        let mut hosted = page.finish();
        hosted.download = Some(Download {
            file_name: VCARD_FILE_NAME.to_owned(),
            content_type: VCARD_CONTENT_TYPE,
            body: vcard_file(self).into_bytes(),
        });
        hosted
    }
}
