//! What the code form asks for, per type: the fields of docs/qr-types.md and the redirect
//! settings of docs/redirects.md, each named by its path in the API's request body
//! (`settings.links[0].url`), so that the form posts what an API request would send and the
//! API's message, which names that path, lands next to its field. The tables only describe;
//! the API's own functions validate.

use crate::model::QrType;

/// How a field is entered and what JSON value its text becomes.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    LongText,
    Url,
    Email,
    /// A JSON number (text that is not one is sent as is, for the API to refuse).
    Number,
    /// A comma-separated list, sent as an array of strings.
    Words,
    /// A date and time (UTC), sent as epoch milliseconds.
    DateTime,
    /// `YYYY-MM-DD`, sent as text.
    Date,
    /// `HH:MM`, sent as text.
    Time,
    /// One of (value, label); the blank choice leaves the field out.
    Choice(&'static [(&'static str, &'static str)]),
    /// Yes or no, sent as a boolean; the blank choice leaves it out.
    YesNo,
    /// Never shown again once saved.
    Password,
}

pub struct Field {
    /// The key in its object; a dotted key is a nested object (`address.city`).
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub hint: &'static str,
}

/// A list of objects, entered as repeated rows of `fields` (and lists of their own).
pub struct Group {
    pub key: &'static str,
    pub legend: &'static str,
    /// What one row is called ("Link"): its legend, and the add button's text.
    pub item: &'static str,
    pub fields: &'static [Field],
    pub groups: &'static [Group],
    /// The rows form an object instead: the first field's text is the key, the second's the
    /// value (MULTI_LOCALE's `urls`).
    pub keyed: bool,
}

/// Fields and lists under one path prefix ("settings." or the request's top level).
pub struct Section {
    pub fields: &'static [Field],
    pub groups: &'static [Group],
}

const fn field(key: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        key,
        label,
        kind,
        hint: "",
    }
}

const fn hinted(key: &'static str, label: &'static str, kind: Kind, hint: &'static str) -> Field {
    Field {
        key,
        label,
        kind,
        hint,
    }
}

const fn group(
    key: &'static str,
    legend: &'static str,
    item: &'static str,
    fields: &'static [Field],
) -> Group {
    Group {
        key,
        legend,
        item,
        fields,
        groups: &[],
        keyed: false,
    }
}

const ACCENT: Field = hinted(
    "accentColor",
    "Accent colour",
    Kind::Text,
    "#rrggbb; left empty, the team's colour.",
);
const TITLE: Field = field("title", "Page title", Kind::Text);
const DESCRIPTION: Field = field("description", "Description", Kind::LongText);

/// The request's own fields besides the type, the settings and the template.
pub fn top_level(redirect: bool, new: bool) -> Section {
    const NAME: Field = field("name", "Name", Kind::Text);
    const URL: Field = field(
        "qrRedirectUrl",
        "Where it leads (http or https URL)",
        Kind::Url,
    );
    const DISPLAY_ID: Field = hinted(
        "displayId",
        "Short link path (optional)",
        Kind::Text,
        "Letters, digits and - _ . ~; left empty, one is made up.",
    );
    const TAGS: Field = hinted("tags", "Tags", Kind::Words, "Comma-separated.");
    const EXPIRY: Field = hinted(
        "expiryDate",
        "Expires at (UTC, optional)",
        Kind::DateTime,
        "After it, scans go to the expired URL below, else get a 410 page; left empty, it never expires.",
    );
    match (redirect, new) {
        (true, true) => Section {
            fields: &[NAME, URL, DISPLAY_ID, TAGS, EXPIRY],
            groups: &[],
        },
        (true, false) => Section {
            fields: &[NAME, URL, TAGS, EXPIRY],
            groups: &[],
        },
        (false, true) => Section {
            fields: &[NAME, DISPLAY_ID, TAGS, EXPIRY],
            groups: &[],
        },
        (false, false) => Section {
            fields: &[NAME, TAGS, EXPIRY],
            groups: &[],
        },
    }
}

/// The type's own settings (docs/qr-types.md), under `settings.`.
pub fn type_settings(qr_type: QrType) -> Section {
    match qr_type {
        QrType::Web | QrType::ShortLink => Section {
            fields: &[],
            groups: &[],
        },
        QrType::MultiLocale => MULTI_LOCALE,
        QrType::AppDownload => APP_DOWNLOAD,
        QrType::Pdf => PDF,
        QrType::Vcard => VCARD,
        QrType::LinkList => LINK_LIST,
        QrType::CouponCode => COUPON,
        QrType::ImageGallery => GALLERY,
        QrType::SocialBio => SOCIAL_BIO,
        QrType::VideoPreview => VIDEO,
        QrType::RestaurantMenu => MENU,
    }
}

const MULTI_LOCALE: Section = Section {
    fields: &[
        field("defaultUrl", "Default URL", Kind::Url),
        hinted(
            "defaultLocale",
            "Default language",
            Kind::Text,
            "Or a language of the list whose URL is the default.",
        ),
    ],
    groups: &[Group {
        keyed: true,
        ..group(
            "urls",
            "URL per language",
            "Language",
            &[
                hinted("locale", "Language tag", Kind::Text, "en, de, de-CH…"),
                field("url", "URL", Kind::Url),
            ],
        )
    }],
};

const APP_DOWNLOAD: Section = Section {
    fields: &[
        field("iosUrl", "App Store link", Kind::Url),
        field("androidUrl", "Google Play link", Kind::Url),
        field("fallbackUrl", "Where other devices go", Kind::Url),
        field("appName", "App name", Kind::Text),
        TITLE,
        DESCRIPTION,
        field("iconUrl", "Icon URL", Kind::Url),
        ACCENT,
    ],
    groups: &[],
};

const PDF: Section = Section {
    fields: &[
        field("pdfUrl", "PDF URL", Kind::Url),
        TITLE,
        DESCRIPTION,
        field("fileName", "File name for downloads", Kind::Text),
        ACCENT,
    ],
    groups: &[],
};

const PHONE_TYPES: &[(&str, &str)] = &[
    ("mobile", "Mobile"),
    ("work", "Work"),
    ("home", "Home"),
    ("fax", "Fax"),
    ("other", "Other"),
];
const EMAIL_TYPES: &[(&str, &str)] = &[("work", "Work"), ("home", "Home"), ("other", "Other")];

const VCARD: Section = Section {
    fields: &[
        field("firstName", "First name", Kind::Text),
        field("lastName", "Last name", Kind::Text),
        field("organization", "Organization", Kind::Text),
        field("jobTitle", "Job title", Kind::Text),
        field("website", "Website", Kind::Url),
        field("address.street", "Street", Kind::LongText),
        field("address.city", "City", Kind::Text),
        field("address.region", "Region", Kind::Text),
        field("address.postalCode", "Postal code", Kind::Text),
        field("address.country", "Country", Kind::Text),
        field("note", "Note", Kind::LongText),
        field("photoUrl", "Photo URL", Kind::Url),
        ACCENT,
    ],
    groups: &[
        group(
            "phones",
            "Phones",
            "Phone",
            &[
                field("type", "Kind", Kind::Choice(PHONE_TYPES)),
                field("number", "Number", Kind::Text),
            ],
        ),
        group(
            "emails",
            "E-mail addresses",
            "E-mail",
            &[
                field("type", "Kind", Kind::Choice(EMAIL_TYPES)),
                field("address", "Address", Kind::Email),
            ],
        ),
    ],
};

const LINK_LIST: Section = Section {
    fields: &[
        TITLE,
        DESCRIPTION,
        field("imageUrl", "Picture URL", Kind::Url),
        ACCENT,
    ],
    groups: &[group(
        "links",
        "Links",
        "Link",
        &[
            field("title", "Title", Kind::Text),
            field("url", "URL", Kind::Url),
        ],
    )],
};

const COUPON: Section = Section {
    fields: &[
        field("code", "Coupon code", Kind::Text),
        TITLE,
        DESCRIPTION,
        hinted("discount", "Discount", Kind::Text, "25% off, Free coffee…"),
        field("validUntil", "Valid until", Kind::Date),
        field("terms", "Terms", Kind::LongText),
        field("redeemUrl", "Redeem online URL", Kind::Url),
        field("imageUrl", "Banner URL", Kind::Url),
        ACCENT,
    ],
    groups: &[],
};

const GALLERY: Section = Section {
    fields: &[TITLE, DESCRIPTION, ACCENT],
    groups: &[group(
        "images",
        "Images",
        "Image",
        &[
            field("url", "Image URL", Kind::Url),
            field("caption", "Caption", Kind::Text),
        ],
    )],
};

const NETWORKS: &[(&str, &str)] = &[
    ("instagram", "Instagram"),
    ("facebook", "Facebook"),
    ("x", "X"),
    ("twitter", "Twitter"),
    ("linkedin", "LinkedIn"),
    ("tiktok", "TikTok"),
    ("youtube", "YouTube"),
    ("github", "GitHub"),
    ("threads", "Threads"),
    ("mastodon", "Mastodon"),
    ("bluesky", "Bluesky"),
    ("pinterest", "Pinterest"),
    ("snapchat", "Snapchat"),
    ("whatsapp", "WhatsApp"),
    ("telegram", "Telegram"),
    ("twitch", "Twitch"),
    ("discord", "Discord"),
    ("spotify", "Spotify"),
    ("soundcloud", "SoundCloud"),
    ("reddit", "Reddit"),
    ("medium", "Medium"),
    ("behance", "Behance"),
    ("dribbble", "Dribbble"),
    ("website", "Website"),
];

const SOCIAL_BIO: Section = Section {
    fields: &[
        field("name", "Name shown", Kind::Text),
        field("bio", "Bio", Kind::LongText),
        field("avatarUrl", "Avatar URL", Kind::Url),
        ACCENT,
    ],
    groups: &[group(
        "links",
        "Links",
        "Link",
        &[
            field("network", "Network", Kind::Choice(NETWORKS)),
            field("url", "URL", Kind::Url),
            field("label", "Label (optional)", Kind::Text),
        ],
    )],
};

const VIDEO: Section = Section {
    fields: &[
        hinted(
            "videoUrl",
            "Video URL",
            Kind::Url,
            "A YouTube or Vimeo link, or a video file.",
        ),
        TITLE,
        DESCRIPTION,
        field("thumbnailUrl", "Poster URL", Kind::Url),
        ACCENT,
    ],
    groups: &[],
};

const MENU: Section = Section {
    fields: &[
        field("name", "Restaurant", Kind::Text),
        DESCRIPTION,
        hinted("currency", "Currency", Kind::Text, "EUR, CHF, USD…"),
        field("logoUrl", "Logo URL", Kind::Url),
        ACCENT,
    ],
    groups: &[Group {
        groups: &[group(
            "items",
            "Dishes",
            "Dish",
            &[
                field("name", "Dish", Kind::Text),
                field("description", "Description", Kind::LongText),
                hinted("price", "Price", Kind::Number, "Empty: market price."),
                hinted("tags", "Tags", Kind::Words, "vegan, spicy…"),
            ],
        )],
        ..group(
            "sections",
            "Sections",
            "Section",
            &[
                field("name", "Section", Kind::Text),
                field("description", "Description", Kind::LongText),
            ],
        )
    }],
};

const STATUSES: &[(&str, &str)] = &[
    ("301", "301 Moved Permanently"),
    ("302", "302 Found"),
    ("307", "307 Temporary Redirect"),
    ("308", "308 Permanent Redirect"),
];

/// The comma-separated values a rule's list takes, as its hint.
const RULE_DEVICES: &str = "Comma-separated: mobile, tablet, desktop.";
const RULE_OS: &str = "Comma-separated: ios, android, windows, macos, linux, chromeos.";
const RULE_WEEKDAYS: &str = "Comma-separated: mon, tue, wed, thu, fri, sat, sun.";

/// The redirect settings every type takes (docs/redirects.md), under `settings.`.
pub const BEHAVIOUR: Section = Section {
    fields: &[
        hinted(
            "password",
            "Password",
            Kind::Password,
            "Scans must give it first. Left empty, a saved one is kept.",
        ),
        field("redirectStatus", "Redirect status", Kind::Choice(STATUSES)),
        field("forwardQuery", "Pass the scan's query on", Kind::YesNo),
        field("expiredUrl", "Where scans go once expired", Kind::Url),
        field("maxScans", "Max scans", Kind::Number),
        field("maxScansUrl", "Where scans go past max scans", Kind::Url),
    ],
    groups: &[
        group(
            "rules",
            "Rules (the first that holds sends the scan to its URL)",
            "Rule",
            &[
                field("url", "URL", Kind::Url),
                hinted("devices", "Devices", Kind::Words, RULE_DEVICES),
                hinted("os", "Operating systems", Kind::Words, RULE_OS),
                hinted("countries", "Countries", Kind::Words, "DE, AT, CH…"),
                hinted("languages", "Languages", Kind::Words, "de, en…"),
                hinted("weekdays", "Weekdays", Kind::Words, RULE_WEEKDAYS),
                field("fromTime", "From", Kind::Time),
                field("toTime", "To", Kind::Time),
                hinted(
                    "timeZone",
                    "Time zone",
                    Kind::Text,
                    "Europe/Berlin; default UTC.",
                ),
                field("startAt", "Starts at (UTC)", Kind::DateTime),
                field("endAt", "Ends at (UTC)", Kind::DateTime),
            ],
        ),
        group(
            "abSplit",
            "A/B split (2 to 10 variants, when no rule holds)",
            "Variant",
            &[
                field("url", "URL", Kind::Url),
                hinted("weight", "Weight", Kind::Number, "1 to 1000."),
            ],
        ),
    ],
};

/// The lists named in hints are the model's own: a test keeps the two the same.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::redirect::{DEVICES, OPERATING_SYSTEMS, WEEKDAYS};

    #[test]
    fn the_rule_hints_name_the_values_the_model_takes() {
        for (hint, values) in [
            (RULE_DEVICES, DEVICES),
            (RULE_OS, OPERATING_SYSTEMS),
            (RULE_WEEKDAYS, WEEKDAYS),
        ] {
            let listed = hint
                .trim_start_matches("Comma-separated: ")
                .trim_end_matches('.');
            assert_eq!(listed, values.join(", "));
        }
    }
}
