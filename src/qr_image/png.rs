//! The image as PNG: whole pixels per module (sharp edges a decoder reads reliably), the logo
//! scaled into its pad and blended over the background.

use image::imageops::{overlay, resize, FilterType};
use image::{Rgba, RgbaImage};

use super::{Design, Symbol};

/// The PNG of `text` in `design`: `size`×`size` pixels, the modules whole pixels and what does
/// not divide evenly background around them; a symbol with more modules than `size` pixels is
/// drawn at one pixel per module (and so larger).
pub fn png(text: &str, design: &Design, size: u32) -> Result<Vec<u8>, String> {
    let symbol = Symbol::new(text, design)?;
    let total = symbol.total as u32;
    let scale = (size / total).max(1);
    let side = size.max(total * scale);
    let offset = (side - total * scale) / 2;
    let [r, g, b] = design.background;
    let mut canvas = RgbaImage::from_pixel(side, side, Rgba([r, g, b, 255]));
    let [r, g, b] = design.foreground;
    let dark = Rgba([r, g, b, 255]);
    let margin = symbol.margin as u32;
    for y in 0..symbol.width {
        for x in 0..symbol.width {
            if !symbol.is_dark(x, y) {
                continue;
            }
            let left = offset + (x as u32 + margin) * scale;
            let top = offset + (y as u32 + margin) * scale;
            for py in top..top + scale {
                for px in left..left + scale {
                    canvas.put_pixel(px, py, dark);
                }
            }
        }
    }
    if let (Some(logo), Some((start, pad))) = (&design.logo, symbol.pad) {
        // Inside the pad by half a module on each side, aspect ratio kept, centred.
        let room = (pad as u32 * scale).saturating_sub(scale).max(1);
        let (w, h) = logo.pixels.dimensions();
        let fit = f64::from(room) / f64::from(w.max(h));
        let (w, h) = (
            ((f64::from(w) * fit).round() as u32).max(1),
            ((f64::from(h) * fit).round() as u32).max(1),
        );
        let scaled = resize(&logo.pixels, w, h, FilterType::Triangle);
        let pad_left = offset + start as u32 * scale;
        let pad_px = pad as u32 * scale;
        overlay(
            &mut canvas,
            &scaled,
            i64::from(pad_left + (pad_px - w) / 2),
            i64::from(pad_left + (pad_px - h) / 2),
        );
    }
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgba8(canvas)
        .into_rgb8()
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| format!("cannot write the PNG image: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::super::tests::design;
    use super::*;
    use crate::model::template::ErrorCorrection;

    fn decode(bytes: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
            .unwrap()
            .into_rgb8()
    }

    #[test]
    fn the_png_has_the_asked_size_colours_and_logo() {
        let mut d = design(ErrorCorrection::H, true);
        d.foreground = [0x1e, 0x3a, 0x8a];
        d.background = [0xfd, 0xfb, 0xf3];
        let text = "https://qr.example/abc";
        let image = decode(&png(text, &d, 300).unwrap());
        assert_eq!(image.dimensions(), (300, 300));
        assert_eq!(image.get_pixel(0, 0).0, d.background);
        let symbol = Symbol::new(text, &d).unwrap();
        let scale = 300 / symbol.total as u32;
        let offset = (300 - symbol.total as u32 * scale) / 2;
        // The top-left finder pattern's corner module is dark.
        let corner = offset + symbol.margin as u32 * scale;
        assert_eq!(image.get_pixel(corner, corner).0, d.foreground);
        // The logo (red) is in the centre.
        assert_eq!(image.get_pixel(150, 150).0, [200, 0, 0]);
    }

    #[test]
    fn a_symbol_larger_than_the_size_gets_a_pixel_per_module() {
        let text = format!("https://qr.example/{}", "x".repeat(300));
        let image = decode(&png(&text, &design(ErrorCorrection::H, false), 64).unwrap());
        let symbol = Symbol::new(&text, &design(ErrorCorrection::H, false)).unwrap();
        assert_eq!(image.width(), symbol.total as u32);
    }
}
