//! The image as SVG: one path of dark modules in module units, scaled to `size` pixels by the
//! viewBox, so it stays sharp at any print size; the logo is embedded as an `<image>`.

use std::fmt::Write;

use super::{hex, Design, Symbol};

/// The SVG of `text` in `design`, `size`×`size` pixels.
pub fn svg(text: &str, design: &Design, size: u32) -> Result<String, String> {
    let symbol = Symbol::new(text, design)?;
    let total = symbol.total;
    let mut out = String::with_capacity(symbol.width * symbol.width * 4 + 512);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="{size}" height="{size}" viewBox="0 0 {total} {total}" shape-rendering="crispEdges"><rect width="{total}" height="{total}" fill="{}"/><path fill="{}" d=""#,
        hex(design.background),
        hex(design.foreground),
    );
    // One subpath per horizontal run of dark modules: a fraction of one per module.
    for y in 0..symbol.width {
        let mut x = 0;
        while x < symbol.width {
            if !symbol.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < symbol.width && symbol.is_dark(x, y) {
                x += 1;
            }
            let _ = write!(
                out,
                "M{} {}h{}v1h-{}z",
                start + symbol.margin,
                y + symbol.margin,
                x - start,
                x - start
            );
        }
    }
    out.push_str(r#""/>"#);
    if let (Some(logo), Some((start, side))) = (&design.logo, symbol.pad) {
        // The logo sits half a module inside its pad, so that no module touches it.
        let _ = write!(
            out,
            r#"<rect x="{start}" y="{start}" width="{side}" height="{side}" fill="{}"/><image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="xMidYMid meet" href="{url}" xlink:href="{url}"/>"#,
            hex(design.background),
            start as f64 + 0.5,
            start as f64 + 0.5,
            side as f64 - 1.0,
            side as f64 - 1.0,
            url = logo.data_url,
        );
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::design;
    use super::*;
    use crate::model::template::ErrorCorrection;

    #[test]
    fn the_svg_has_the_size_colours_margin_and_logo() {
        let mut d = design(ErrorCorrection::H, true);
        d.foreground = [0x1e, 0x3a, 0x8a];
        d.margin = 2;
        let image = svg("https://qr.example/abc", &d, 300).unwrap();
        assert!(image.contains(r#"width="300" height="300""#), "{image}");
        assert!(image.contains(r##"fill="#1e3a8a""##));
        assert!(image.contains(r#"href="data:image/png;base64,"#));
        let symbol = Symbol::new("https://qr.example/abc", &d).unwrap();
        let total = symbol.width + 4;
        assert!(image.contains(&format!(r#"viewBox="0 0 {total} {total}""#)));
        // The top-left finder pattern starts at the margin.
        assert!(image.contains(r#"d="M2 2h7v1h-7z"#), "{image}");
    }
}
