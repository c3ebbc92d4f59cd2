//! VIDEO_PREVIEW: a video with a title and description. YouTube and Vimeo links play in their
//! privacy-friendly embeds (youtube-nocookie.com, Vimeo with do-not-track); any other URL is
//! taken as a video file for a `<video>` element.

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// The settings as written.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    title: Option<String>,
    description: Option<String>,
    video_url: String,
    thumbnail_url: Option<String>,
    accent_color: Option<String>,
}

/// Where the video plays from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// `https://www.youtube-nocookie.com/embed/{id}`
    YouTube { id: String },
    /// `https://player.vimeo.com/video/{id}` (with the unlisted-video hash when there is one)
    Vimeo { id: String, hash: Option<String> },
    /// A video file URL played by the browser itself.
    File { url: String },
}

/// Validated VIDEO_PREVIEW settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub title: Option<String>,
    pub description: Option<String>,
    /// As the user gave it (normalised), shown as a link under the player.
    pub video_url: String,
    pub source: VideoSource,
    /// The poster of a video file.
    pub thumbnail_url: Option<String>,
    pub accent_color: Option<String>,
}

fn is_youtube_id(id: &str) -> bool {
    id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Recognises YouTube and Vimeo page and embed URLs; anything else is a file.
fn source_of(url: &str) -> VideoSource {
    let file = || VideoSource::File {
        url: url.to_owned(),
    };
    let Ok(parsed) = Url::parse(url) else {
        return file();
    };
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let host = host.strip_prefix("m.").unwrap_or(host);
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let youtube = match (host, segments.as_slice()) {
        ("youtu.be", [id, ..]) => Some(id.to_string()),
        ("youtube.com" | "music.youtube.com", ["watch"]) => parsed
            .query_pairs()
            .find(|(k, _)| k == "v")
            .map(|(_, v)| v.into_owned()),
        ("youtube.com" | "youtube-nocookie.com", ["embed" | "shorts" | "live" | "v", id, ..]) => {
            Some(id.to_string())
        }
        _ => None,
    };
    if let Some(id) = youtube.filter(|id| is_youtube_id(id)) {
        return VideoSource::YouTube { id };
    }
    let vimeo = match (host, segments.as_slice()) {
        ("player.vimeo.com", ["video", id, ..]) => Some((*id, None)),
        ("vimeo.com", [id]) => Some((*id, None)),
        ("vimeo.com", [id, hash]) if is_digits(id) => Some((*id, Some(*hash))),
        ("vimeo.com", ["channels" | "groups" | "album", .., id]) => Some((*id, None)),
        _ => None,
    };
    match vimeo {
        Some((id, hash)) if is_digits(id) => VideoSource::Vimeo {
            id: id.to_owned(),
            hash: hash
                .filter(|h| h.len() <= 32 && h.bytes().all(|b| b.is_ascii_alphanumeric()))
                .map(str::to_owned)
                .or_else(|| {
                    parsed
                        .query_pairs()
                        .find(|(k, _)| k == "h")
                        .map(|(_, v)| v.into_owned())
                        .filter(|h| h.len() <= 32 && h.bytes().all(|b| b.is_ascii_alphanumeric()))
                }),
        },
        _ => file(),
    }
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Video, String> {
    let s: Settings = fields::deserialize(settings)?;
    let video_url = fields::url("settings.videoUrl", &s.video_url)?;
    Ok(Video {
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        source: source_of(&video_url),
        video_url,
        thumbnail_url: fields::opt_url("settings.thumbnailUrl", s.thumbnail_url)?,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl Video {
    /// The player's URL for the embeds; `None` for a file.
    pub fn embed_url(&self) -> Option<String> {
        match &self.source {
            VideoSource::YouTube { id } => {
                Some(format!("https://www.youtube-nocookie.com/embed/{id}"))
            }
            VideoSource::Vimeo { id, hash: None } => {
                Some(format!("https://player.vimeo.com/video/{id}?dnt=1"))
            }
            VideoSource::Vimeo { id, hash: Some(h) } => {
                Some(format!("https://player.vimeo.com/video/{id}?h={h}&dnt=1"))
            }
            VideoSource::File { .. } => None,
        }
    }

    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let title = self.title.as_deref().unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.body.push_str("<div class=\"card\">");
        if let VideoSource::File { url } = &self.source {
            page.csp.media(url);
            w!(
                page.body,
                "<video class=\"frame\" src=\"{}\" controls playsinline preload=\"metadata\"",
                escape(url)
            );
            if let Some(poster) = &self.thumbnail_url {
                page.csp.image(poster);
                w!(page.body, " poster=\"{}\"", escape(poster));
            }
            page.body.push_str("></video>");
        } else if let Some(embed) = self.embed_url() {
            page.csp.frame(&embed);
            w!(
                page.body,
                "<iframe class=\"frame\" src=\"{}\" title=\"{}\" \
                 allow=\"fullscreen; picture-in-picture; encrypted-media\" allowfullscreen \
                 referrerpolicy=\"strict-origin-when-cross-origin\"></iframe>",
                escape(&embed),
                escape(title)
            );
        }
        w!(page.body, "<h1>{}</h1>", escape(title));
        if let Some(text) = &self.description {
            w!(page.body, "<p class=\"muted\">{}</p>", escape(text));
        }
        page.button(&self.video_url, "Watch on the original site", true);
        page.body.push_str("</div>");
        page.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn youtube_and_vimeo_links_become_private_embeds() {
        let yt = |id: &str| VideoSource::YouTube { id: id.into() };
        let vimeo = |id: &str, hash: Option<&str>| VideoSource::Vimeo {
            id: id.into(),
            hash: hash.map(Into::into),
        };
        for (url, want) in [
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
                yt("dQw4w9WgXcQ"),
            ),
            (
                "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
                yt("dQw4w9WgXcQ"),
            ),
            ("https://youtu.be/dQw4w9WgXcQ?si=abc", yt("dQw4w9WgXcQ")),
            (
                "https://www.youtube.com/shorts/dQw4w9WgXcQ",
                yt("dQw4w9WgXcQ"),
            ),
            (
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
                yt("dQw4w9WgXcQ"),
            ),
            ("https://vimeo.com/76979871", vimeo("76979871", None)),
            (
                "https://vimeo.com/76979871/8272103f6e",
                vimeo("76979871", Some("8272103f6e")),
            ),
            (
                "https://vimeo.com/channels/staffpicks/76979871",
                vimeo("76979871", None),
            ),
            (
                "https://player.vimeo.com/video/76979871?h=8272103f6e",
                vimeo("76979871", Some("8272103f6e")),
            ),
        ] {
            assert_eq!(source_of(url), want, "{url}");
        }
        for file in [
            "https://cdn.example/clip.mp4",
            "https://www.youtube.com/watch?v=<script>",
            "https://vimeo.com/about",
            "https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ",
        ] {
            assert_eq!(
                source_of(file),
                VideoSource::File { url: file.into() },
                "{file}"
            );
        }
    }
}
