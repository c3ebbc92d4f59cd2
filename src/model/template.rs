//! Design templates: how a code's image looks (colours, error correction, margin, an optional
//! centre logo). Pure: the rules a template must meet so that scanners still read the code are
//! here, unit-tested without servers.
//!
//! Every team sees the built-in templates; a team's own templates are its alone.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::model::text;

/// The template of codes that name none, and of codes whose template was deleted.
pub const DEFAULT_TEMPLATE_ID: &str = "classic";
/// Margins (the quiet zone) in modules; the QR standard asks for 4, which is the default.
pub const MAX_MARGIN: u8 = 16;
pub const DEFAULT_MARGIN: u8 = 4;
/// Foreground against background, as WCAG reckons contrast: 3:1 is its minimum for graphics
/// (1.4.11), and what keeps a code readable by phone cameras in poor light; a pale pair below it
/// is refused.
pub const MIN_CONTRAST: f64 = 3.0;
/// A logo is a PNG of at most this many bytes and this many pixels a side: it is stored with the
/// template and decoded for every PNG image drawn with it.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;
pub const MAX_LOGO_SIDE: u32 = 1024;
pub const LOGO_PREFIX: &str = "data:image/png;base64,";
/// Templates a team may have (beyond the built-ins).
pub const MAX_TEAM_TEMPLATES: usize = 100;
const MAX_NAME_LEN: usize = 100;
const MAX_DESCRIPTION_LEN: usize = 500;

/// The four error-correction levels of the QR standard: the share of the symbol that may be
/// lost (or covered by a logo) and still decode, roughly 7, 15, 25 and 30 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ErrorCorrection {
    L,
    M,
    Q,
    H,
}

impl ErrorCorrection {
    /// "L", "M", "Q" or "H" (either case).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "L" => Ok(Self::L),
            "M" => Ok(Self::M),
            "Q" => Ok(Self::Q),
            "H" => Ok(Self::H),
            _ => Err(format!("errorCorrection {text:?} must be L, M, Q or H")),
        }
    }

    pub fn level(self) -> qrcode::EcLevel {
        match self {
            Self::L => qrcode::EcLevel::L,
            Self::M => qrcode::EcLevel::M,
            Self::Q => qrcode::EcLevel::Q,
            Self::H => qrcode::EcLevel::H,
        }
    }

    /// The logo's pad as a share of the symbol's width: a centred square that costs far fewer
    /// codewords than the level restores (about 4 % of the area at Q, 7 % at H), so that a worn
    /// or badly lit print still has error correction to spare. None: the level cannot carry one.
    pub fn logo_share(self) -> Option<f64> {
        match self {
            Self::L | Self::M => None,
            Self::Q => Some(0.20),
            Self::H => Some(0.26),
        }
    }
}

/// A `#rrggbb` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    pub fn parse(field: &str, text: &str) -> Result<Rgb, String> {
        let bad = || format!("{field} {text:?} must be a colour like #1a2b3c");
        let hex = text
            .strip_prefix('#')
            .filter(|h| h.len() == 6)
            .ok_or_else(bad)?;
        let mut rgb = [0; 3];
        for (i, channel) in rgb.iter_mut().enumerate() {
            *channel = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Rgb(rgb))
    }

    pub fn hex(self) -> String {
        format!("#{}", hex::encode(self.0))
    }

    /// WCAG relative luminance (0 black .. 1 white).
    pub fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    /// WCAG contrast ratio (1 .. 21).
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// A design template, built in or a team's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    /// None: built in, every team's.
    pub team_id: Option<String>,
    pub name: String,
    pub description: String,
    /// `#rrggbb`, lower case.
    pub foreground_color: String,
    pub background_color: String,
    pub error_correction: ErrorCorrection,
    /// The quiet zone around the symbol, in modules.
    pub margin: u8,
    /// A `data:image/png;base64,…` URL drawn in the centre; needs error correction Q or H.
    pub logo: Option<String>,
    pub created_at: i64,
    pub created_by: Option<String>,
    /// Counts the writes of the record (the store sets it; 0: stored before versions existed).
    #[serde(default)]
    pub version: u64,
}

impl Template {
    pub fn is_builtin(&self) -> bool {
        self.team_id.is_none()
    }

    /// The colours, checked when the template was made.
    pub fn colours(&self) -> Result<(Rgb, Rgb), String> {
        Ok((
            Rgb::parse("foregroundColor", &self.foreground_color)?,
            Rgb::parse("backgroundColor", &self.background_color)?,
        ))
    }
}

fn builtin(
    id: &str,
    name: &str,
    description: &str,
    colours: (&str, &str),
    ec: ErrorCorrection,
) -> Template {
    Template {
        version: crate::model::FIRST_VERSION,
        id: id.into(),
        team_id: None,
        name: name.into(),
        description: description.into(),
        foreground_color: colours.0.into(),
        background_color: colours.1.into(),
        error_correction: ec,
        margin: DEFAULT_MARGIN,
        logo: None,
        created_at: 0,
        created_by: None,
    }
}

/// The templates every team sees, the default first.
pub fn builtins() -> Vec<Template> {
    vec![
        builtin(
            DEFAULT_TEMPLATE_ID,
            "Classic",
            "Black on white, error correction M: the default, read by every scanner.",
            ("#000000", "#ffffff"),
            ErrorCorrection::M,
        ),
        builtin(
            "navy",
            "Navy",
            "Dark blue on white, error correction Q.",
            ("#1e3a8a", "#ffffff"),
            ErrorCorrection::Q,
        ),
        builtin(
            "forest",
            "Forest",
            "Deep green on cream, error correction H: for prints that get worn or dirty.",
            ("#14532d", "#fdfbf3"),
            ErrorCorrection::H,
        ),
    ]
}

pub fn builtin_template(id: &str) -> Option<Template> {
    builtins().into_iter().find(|t| t.id == id)
}

/// The body of `POST /api/qr-templates-api`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub foreground_color: Option<String>,
    pub background_color: Option<String>,
    pub error_correction: Option<String>,
    pub margin: Option<i64>,
    pub logo: Option<String>,
}

/// Who makes the template, in which team, when.
pub struct TemplateOwner<'a> {
    pub team_id: &'a str,
    pub member_id: &'a str,
    pub now: i64,
}

/// A team's new template from a create request, or what is wrong with it.
pub fn new_template(
    input: TemplateInput,
    id: String,
    owner: &TemplateOwner,
) -> Result<Template, String> {
    let name = text::line(
        "name",
        input.name.as_deref().unwrap_or_default(),
        MAX_NAME_LEN,
    )?;
    if name.is_empty() {
        return Err(format!("name is required, 1 to {MAX_NAME_LEN} characters"));
    }
    let description = text::free(
        "description",
        input.description.as_deref().unwrap_or_default(),
        MAX_DESCRIPTION_LEN,
    )?;
    let foreground = Rgb::parse(
        "foregroundColor",
        input.foreground_color.as_deref().unwrap_or("#000000"),
    )?;
    let background = Rgb::parse(
        "backgroundColor",
        input.background_color.as_deref().unwrap_or("#ffffff"),
    )?;
    readable_colours(foreground, background)?;
    let margin = match input.margin {
        None => DEFAULT_MARGIN,
        Some(m) => u8::try_from(m)
            .ok()
            .filter(|m| *m <= MAX_MARGIN)
            .ok_or_else(|| format!("margin must be 0 to {MAX_MARGIN} modules"))?,
    };
    let error_correction = match (&input.error_correction, &input.logo) {
        (Some(text), _) => ErrorCorrection::parse(text)?,
        // A logo covers part of the symbol: the level that restores the most.
        (None, Some(_)) => ErrorCorrection::H,
        (None, None) => ErrorCorrection::M,
    };
    if let Some(logo) = &input.logo {
        if error_correction.logo_share().is_none() {
            return Err(format!(
                "a logo needs errorCorrection Q or H (not {error_correction:?}): it covers part \
                 of the code, which only those levels restore"
            ));
        }
        decode_logo(logo)?;
    }
    Ok(Template {
        version: crate::model::FIRST_VERSION,
        id,
        team_id: Some(owner.team_id.to_owned()),
        name,
        description,
        foreground_color: foreground.hex(),
        background_color: background.hex(),
        error_correction,
        margin,
        logo: input.logo,
        created_at: owner.now,
        created_by: Some(owner.member_id.to_owned()),
    })
}

/// Scanners look for dark modules on a light ground with a clear difference between the two.
pub fn readable_colours(foreground: Rgb, background: Rgb) -> Result<(), String> {
    let ratio = foreground.contrast(background);
    if ratio < MIN_CONTRAST {
        return Err(format!(
            "foregroundColor {} on backgroundColor {} has a contrast of {ratio:.1}:1; scanners \
             need at least {MIN_CONTRAST}:1 (a darker foreground or a lighter background)",
            foreground.hex(),
            background.hex()
        ));
    }
    if foreground.luminance() > background.luminance() {
        return Err(format!(
            "foregroundColor {} must be darker than backgroundColor {}: many scanners cannot \
             read light-on-dark codes",
            foreground.hex(),
            background.hex()
        ));
    }
    Ok(())
}

/// The logo of a `data:image/png;base64,…` URL as RGBA pixels, or why it is refused.
pub fn decode_logo(data_url: &str) -> Result<image::RgbaImage, String> {
    let encoded = data_url
        .strip_prefix(LOGO_PREFIX)
        .ok_or_else(|| format!("logo must be a {LOGO_PREFIX}… URL"))?;
    // Four base64 characters carry three bytes: refuse an oversized logo before decoding it.
    if encoded.len() > MAX_LOGO_BYTES.div_ceil(3) * 4 {
        return Err(format!("logo is larger than {} KiB", MAX_LOGO_BYTES / 1024));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_end())
        .map_err(|e| format!("logo is not valid base64: {e}"))?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!("logo is larger than {} KiB", MAX_LOGO_BYTES / 1024));
    }
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png);
    // A small file may still claim a huge canvas: the limits refuse it before any allocation.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_LOGO_SIDE);
    limits.max_image_height = Some(MAX_LOGO_SIDE);
    reader.limits(limits);
    let logo = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            format!("logo is larger than {MAX_LOGO_SIDE}×{MAX_LOGO_SIDE} pixels")
        }
        e => format!("logo is not a readable PNG image: {e}"),
    })?;
    Ok(logo.to_rgba8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> TemplateOwner<'static> {
        TemplateOwner {
            team_id: "team_1",
            member_id: "mem_1",
            now: 7,
        }
    }

    fn create(json: &str) -> Result<Template, String> {
        let input: TemplateInput = serde_json::from_str(json).map_err(|e| e.to_string())?;
        new_template(input, "tpl_1".into(), &owner())
    }

    /// A 2×2 PNG, as a data URL.
    pub(crate) fn tiny_png() -> String {
        let mut bytes = Vec::new();
        image::RgbaImage::from_pixel(2, 2, image::Rgba([200, 0, 0, 255]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        format!(
            "{LOGO_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn defaults_fill_what_the_request_leaves_out() {
        let t = create(r#"{"name": " Brand "}"#).unwrap();
        assert_eq!(t.name, "Brand");
        assert_eq!(
            (t.foreground_color.as_str(), t.background_color.as_str()),
            ("#000000", "#ffffff")
        );
        assert_eq!((t.error_correction, t.margin), (ErrorCorrection::M, 4));
        assert_eq!(t.team_id.as_deref(), Some("team_1"));
        let with_logo = create(&format!(r#"{{"name": "l", "logo": "{}"}}"#, tiny_png())).unwrap();
        assert_eq!(with_logo.error_correction, ErrorCorrection::H);
        let upper =
            create(r##"{"name": "c", "foregroundColor": "#1E3A8A", "errorCorrection": "q"}"##)
                .unwrap();
        assert_eq!(
            (upper.foreground_color.as_str(), upper.error_correction),
            ("#1e3a8a", ErrorCorrection::Q)
        );
    }

    #[test]
    fn contrast_follows_wcag() {
        let black = Rgb([0, 0, 0]);
        let white = Rgb([255, 255, 255]);
        assert!((black.contrast(white) - 21.0).abs() < 1e-9);
        assert!((white.contrast(white) - 1.0).abs() < 1e-9);
        assert!(readable_colours(Rgb([0x1e, 0x3a, 0x8a]), white).is_ok());
        assert!(readable_colours(Rgb([0xcc, 0xcc, 0xcc]), white).is_err());
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let logo = tiny_png();
        let cases = [
            (r#"{}"#.to_string(), "name is required"),
            (
                r#"{"name": "x", "foregroundColor": "red"}"#.into(),
                "foregroundColor \"red\" must be a colour",
            ),
            (
                r##"{"name": "x", "backgroundColor": "#ffffzz"}"##.into(),
                "backgroundColor",
            ),
            (
                r##"{"name": "x", "foregroundColor": "#eeeeee"}"##.into(),
                "contrast of 1.2:1",
            ),
            (
                r##"{"name": "x", "foregroundColor": "#ffffff", "backgroundColor": "#000000"}"##
                    .into(),
                "darker",
            ),
            (
                r#"{"name": "x", "margin": 17}"#.into(),
                "margin must be 0 to 16",
            ),
            (
                r#"{"name": "x", "margin": -1}"#.into(),
                "margin must be 0 to 16",
            ),
            (
                r#"{"name": "x", "errorCorrection": "X"}"#.into(),
                "must be L, M, Q or H",
            ),
            (
                format!(r#"{{"name": "x", "errorCorrection": "L", "logo": "{logo}"}}"#),
                "a logo needs errorCorrection Q or H",
            ),
            (
                r#"{"name": "x", "logo": "https://a.example/logo.png"}"#.into(),
                "logo must be a data:image/png;base64",
            ),
            (
                r#"{"name": "x", "logo": "data:image/png;base64,!!!"}"#.into(),
                "not valid base64",
            ),
            (
                r#"{"name": "x", "logo": "data:image/png;base64,aGVsbG8="}"#.into(),
                "not a readable PNG",
            ),
            (
                r##"{"name": "x", "colour": "#000000"}"##.into(),
                "unknown field `colour`",
            ),
        ];
        for (body, expected) in cases {
            let err = create(&body).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let huge = format!("{LOGO_PREFIX}{}", "A".repeat(MAX_LOGO_BYTES * 2));
        let err = create(&format!(r#"{{"name": "x", "logo": "{huge}"}}"#)).unwrap_err();
        assert!(err.contains("larger than 64 KiB"), "{err}");
    }

    #[test]
    fn a_logo_claiming_a_huge_canvas_is_refused() {
        let mut bytes = Vec::new();
        image::GrayImage::new(2000, 1)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        let url = format!(
            "{LOGO_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        assert!(decode_logo(&url).unwrap_err().contains("1024×1024"));
    }

    #[test]
    fn builtins_are_readable_and_the_default_is_first() {
        let all = builtins();
        assert_eq!(all[0].id, DEFAULT_TEMPLATE_ID);
        for t in &all {
            let (fg, bg) = t.colours().unwrap();
            readable_colours(fg, bg).unwrap();
            assert!(t.is_builtin());
        }
    }
}
