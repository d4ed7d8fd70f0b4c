//! Map images out: PNG, JPEG and WebP (lossless) from a rendered pixmap.

use tiny_skia::Pixmap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub const ALL: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp];

    /// From a MIME type as OGC requests give it (`image/png`, `image/png; mode=8bit`…).
    pub fn parse(mime: &str) -> Option<ImageFormat> {
        let m = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match m.as_str() {
            "image/png" | "png" => Some(ImageFormat::Png),
            "image/jpeg" | "image/jpg" | "jpeg" | "jpg" => Some(ImageFormat::Jpeg),
            "image/webp" | "webp" => Some(ImageFormat::Webp),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
        }
    }
}

/// Straight (not premultiplied) RGBA bytes of a pixmap.
pub fn rgba(pixmap: &Pixmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixmap.data().len());
    for p in pixmap.pixels() {
        let c = p.demultiply();
        out.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    out
}

/// Encodes a map image. JPEG has no alpha: transparent pixels come out on white.
pub fn encode(pixmap: &Pixmap, format: ImageFormat) -> Result<Vec<u8>, String> {
    let (w, h) = (pixmap.width(), pixmap.height());
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            // Fast deflate: a 1024 × 768 map encodes in a few ms (see docs/ARCHITECTURE.md).
            enc.set_compression(png::Compression::Fast);
            let mut writer = enc.write_header().map_err(|e| e.to_string())?;
            writer.write_image_data(&rgba(pixmap)).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
        }
        ImageFormat::Jpeg => {
            let rgb: Vec<u8> = pixmap
                .pixels()
                .iter()
                .flat_map(|p| {
                    // Over white: premultiplied c + 255 × (1 − a).
                    let inv = 255 - p.alpha() as u16;
                    [p.red() as u16 + inv, p.green() as u16 + inv, p.blue() as u16 + inv].map(|v| v.min(255) as u8)
                })
                .collect();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            image::ImageEncoder::write_image(enc, &rgb, w, h, image::ExtendedColorType::Rgb8).map_err(|e| e.to_string())?;
        }
        ImageFormat::Webp => {
            let enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
            image::ImageEncoder::write_image(enc, &rgba(pixmap), w, h, image::ExtendedColorType::Rgba8).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_decodes_back_to_the_drawn_colour() {
        let mut pixmap = Pixmap::new(8, 4).unwrap();
        pixmap.fill(tiny_skia::Color::from_rgba8(31, 111, 209, 255));
        for f in ImageFormat::ALL {
            let bytes = encode(&pixmap, f).unwrap();
            let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
            assert_eq!((img.width(), img.height()), (8, 4));
            let p = img.get_pixel(3, 2).0;
            let close = |a: u8, b: u8| (a as i32 - b as i32).abs() <= 3;
            assert!(close(p[0], 31) && close(p[1], 111) && close(p[2], 209), "{f:?}: {p:?}");
        }
        assert_eq!(ImageFormat::parse("image/png; mode=8bit"), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::parse("image/gif"), None);
    }
}
