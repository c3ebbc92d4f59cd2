//! A code's image: the URL encoded with the `qrcode` crate, then drawn by us as SVG or PNG in a
//! template's design (colours, margin, error correction, a centre logo on a pad of background).
//! Pure: no I/O, unit-tested here; the API serves what these functions return.

mod png;
mod svg;

use qrcode::{Color, QrCode};

use crate::model::template::{decode_logo, ErrorCorrection, Template};

pub use png::png;
pub use svg::svg;

/// Image sizes in pixels that `?size=` may ask for.
pub const SIZES: std::ops::RangeInclusive<u32> = 64..=2048;
pub const DEFAULT_SIZE: u32 = 256;

/// How one image is drawn: a template's design, with the error correction possibly overridden.
pub struct Design {
    pub foreground: [u8; 3],
    pub background: [u8; 3],
    pub error_correction: ErrorCorrection,
    pub margin: u32,
    pub logo: Option<Logo>,
}

/// A template's logo: the data URL (embedded as is in SVG) and its pixels (drawn into PNG).
pub struct Logo {
    pub data_url: String,
    pub pixels: image::RgbaImage,
}

impl Design {
    /// The template's design; `error_correction` replaces its level (a logo needs Q or H).
    pub fn of(
        template: &Template,
        error_correction: Option<ErrorCorrection>,
    ) -> Result<Design, String> {
        let (foreground, background) = template.colours()?;
        let error_correction = error_correction.unwrap_or(template.error_correction);
        let logo = match &template.logo {
            None => None,
            Some(data_url) => {
                if error_correction.logo_share().is_none() {
                    return Err(format!(
                        "template {:?} has a logo, which needs errorCorrection Q or H (not {:?})",
                        template.id, error_correction
                    ));
                }
                Some(Logo {
                    data_url: data_url.clone(),
                    pixels: decode_logo(data_url)?,
                })
            }
        };
        Ok(Design {
            foreground: foreground.0,
            background: background.0,
            error_correction,
            margin: u32::from(template.margin),
            logo,
        })
    }
}

/// The symbol of a text in a design, in modules.
pub(crate) struct Symbol {
    /// Modules a side, without the margin.
    pub width: usize,
    dark: Vec<bool>,
    /// Margin plus symbol, a side.
    pub total: usize,
    pub margin: usize,
    /// The logo's pad: first module (from the image's edge) and modules a side.
    pub pad: Option<(usize, usize)>,
}

impl Symbol {
    pub fn new(text: &str, design: &Design) -> Result<Symbol, String> {
        let code =
            QrCode::with_error_correction_level(text.as_bytes(), design.error_correction.level())
                .map_err(|e| format!("cannot encode {text:?} as a QR code: {e}"))?;
        let width = code.width();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        let margin = design.margin as usize;
        let pad = match (&design.logo, design.error_correction.logo_share()) {
            (Some(_), Some(share)) => {
                // Same parity as the width (always odd) so that the pad sits exactly in the centre.
                let mut side = (width as f64 * share).floor() as usize;
                if side % 2 == 0 {
                    side = side.saturating_sub(1);
                }
                (side > 0).then(|| (margin + (width - side) / 2, side))
            }
            _ => None,
        };
        Ok(Symbol {
            width,
            dark,
            total: width + 2 * margin,
            margin,
            pad,
        })
    }

    /// Whether the module at (x, y) of the symbol (margin excluded) is dark and drawn (not under
    /// the logo's pad).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        if let Some((start, side)) = self.pad {
            let inside = |v: usize| (start..start + side).contains(&(v + self.margin));
            if inside(x) && inside(y) {
                return false;
            }
        }
        self.dark[y * self.width + x]
    }
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::{builtin_template, DEFAULT_TEMPLATE_ID};

    pub(super) fn design(ec: ErrorCorrection, with_logo: bool) -> Design {
        let mut template = builtin_template(DEFAULT_TEMPLATE_ID).unwrap();
        template.error_correction = ec;
        if with_logo {
            let mut bytes = Vec::new();
            image::RgbaImage::from_pixel(4, 2, image::Rgba([200, 0, 0, 255]))
                .write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .unwrap();
            use base64::Engine;
            template.logo = Some(format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ));
        }
        Design::of(&template, None).unwrap()
    }

    #[test]
    fn the_logo_pad_is_centred_and_small() {
        let symbol = Symbol::new(
            "https://qr.example/abc1234",
            &design(ErrorCorrection::H, true),
        )
        .unwrap();
        let (start, side) = symbol.pad.unwrap();
        assert_eq!(side % 2, 1);
        assert_eq!(
            start - symbol.margin,
            symbol.width - start + symbol.margin - side
        );
        assert!((side * side) as f64 <= 0.07 * (symbol.width * symbol.width) as f64);
        let centre = symbol.width / 2;
        assert!(!symbol.is_dark(centre, centre));
        assert!(Symbol::new("x", &design(ErrorCorrection::H, false))
            .unwrap()
            .pad
            .is_none());
    }

    #[test]
    fn a_logo_needs_q_or_h() {
        let mut template = builtin_template(DEFAULT_TEMPLATE_ID).unwrap();
        template.logo = design(ErrorCorrection::H, true).logo.map(|l| l.data_url);
        let err = Design::of(&template, Some(ErrorCorrection::L))
            .err()
            .unwrap();
        assert!(err.contains("needs errorCorrection Q or H"), "{err}");
        assert!(Design::of(&template, Some(ErrorCorrection::Q)).is_ok());
    }
}
