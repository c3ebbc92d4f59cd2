//! SOCIAL_BIO: a person's or brand's name, picture and bio over one button per social network.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// The networks a SOCIAL_BIO link can name (lower case in JSON: `"instagram"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Instagram,
    Facebook,
    X,
    Twitter,
    Linkedin,
    Tiktok,
    Youtube,
    Github,
    Threads,
    Mastodon,
    Bluesky,
    Pinterest,
    Snapchat,
    Whatsapp,
    Telegram,
    Twitch,
    Discord,
    Spotify,
    Soundcloud,
    Reddit,
    Medium,
    Behance,
    Dribbble,
    Website,
}

impl Network {
    /// The network's name as people write it.
    pub fn label(self) -> &'static str {
        match self {
            Network::Instagram => "Instagram",
            Network::Facebook => "Facebook",
            Network::X => "X",
            Network::Twitter => "Twitter",
            Network::Linkedin => "LinkedIn",
            Network::Tiktok => "TikTok",
            Network::Youtube => "YouTube",
            Network::Github => "GitHub",
            Network::Threads => "Threads",
            Network::Mastodon => "Mastodon",
            Network::Bluesky => "Bluesky",
            Network::Pinterest => "Pinterest",
            Network::Snapchat => "Snapchat",
            Network::Whatsapp => "WhatsApp",
            Network::Telegram => "Telegram",
            Network::Twitch => "Twitch",
            Network::Discord => "Discord",
            Network::Spotify => "Spotify",
            Network::Soundcloud => "SoundCloud",
            Network::Reddit => "Reddit",
            Network::Medium => "Medium",
            Network::Behance => "Behance",
            Network::Dribbble => "Dribbble",
            Network::Website => "Website",
        }
    }
}

/// Validated SOCIAL_BIO settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SocialBio {
    pub name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub links: Vec<SocialLink>,
    pub accent_color: Option<String>,
}

/// One network button.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SocialLink {
    pub network: Network,
    pub url: String,
    /// The button text; default: the network's name.
    pub label: Option<String>,
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<SocialBio, String> {
    let s: SocialBio = fields::deserialize(settings)?;
    fields::list_len("settings.links", s.links.len(), 0)?;
    let links = s
        .links
        .into_iter()
        .enumerate()
        .map(|(i, link)| {
            Ok(SocialLink {
                network: link.network,
                url: fields::url(&format!("settings.links[{i}].url"), &link.url)?,
                label: fields::opt_title(
                    &format!("settings.links[{i}].label"),
                    link.label,
                    MAX_TITLE,
                )?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(SocialBio {
        name: fields::title("settings.name", s.name, MAX_TITLE)?,
        bio: fields::opt_text("settings.bio", s.bio)?,
        avatar_url: fields::opt_url("settings.avatarUrl", s.avatar_url)?,
        links,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl SocialBio {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let mut page = Page::new(
            &self.name,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(self.avatar_url.as_deref(), &self.name, self.bio.as_deref());
        page.body.push_str("</div><nav>");
        for link in &self.links {
            let text = link.label.as_deref().unwrap_or(link.network.label());
            w!(
                page.body,
                "<a class=\"btn\" href=\"{}\" rel=\"noopener me\">{}</a>",
                escape(&link.url),
                escape(text)
            );
        }
        page.body.push_str("</nav>");
        page.finish()
    }
}
