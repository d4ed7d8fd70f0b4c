//! Glyph ranges for MapLibre labels (`/fonts/{fontstack}/{start}-{end}.pbf`), rendered as
//! signed distance fields from fonts installed on the machine — by default Debian's
//! WenQuanYi Micro Hei, which covers Traditional Chinese — so 中文 labels need no internet.

use bytes::Bytes;
use moka::sync::Cache;
use prost::Message;
use sdf_glyph_renderer::freetype;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where Debian's fonts-wqy-microhei puts its font.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
/// The font stack the base-map style asks for.
pub const DEFAULT_FONTSTACK: &str = "WenQuanYi Micro Hei Regular";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FontError {
    #[error("glyph range '{0}' is not of the form START-END with START a multiple of 256 and END = START + 255, up to 65535")]
    BadRange(String),
    #[error("no font in '{requested}'; this server has: {available}")]
    UnknownFont { requested: String, available: String },
    #[error("cannot render glyphs: {0}")]
    Render(String),
}

/// The fonts this server can render, by name ("Family Style"), and a cache of ranges.
#[derive(Clone)]
pub struct Fonts {
    faces: std::sync::Arc<BTreeMap<String, (PathBuf, isize)>>,
    cache: Cache<(String, u32), Bytes>,
}

impl Fonts {
    /// Loads the faces of every font file given; missing files are logged and skipped.
    pub fn load(paths: &[PathBuf]) -> Fonts {
        let mut faces = BTreeMap::new();
        if let Ok(lib) = freetype::Library::init() {
            for path in paths {
                let Ok(face) = lib.new_face(path, 0) else {
                    tracing::warn!("font {} not found or unreadable; labels using it will not render", path.display());
                    continue;
                };
                for i in 0..face.num_faces() as isize {
                    if let Ok(f) = lib.new_face(path, i) {
                        if let Some(family) = f.family_name() {
                            let name = match f.style_name() {
                                Some(style) => format!("{family} {style}"),
                                None => family,
                            };
                            faces.entry(name).or_insert((path.clone(), i));
                        }
                    }
                }
            }
        }
        tracing::info!("fonts: {}", faces.keys().cloned().collect::<Vec<_>>().join(", "));
        Fonts { faces: std::sync::Arc::new(faces), cache: Cache::new(512) }
    }

    /// The file and face index of the first font of `fontstack` we have, else of any.
    pub fn face(&self, fontstack: &str) -> Option<(PathBuf, isize)> {
        fontstack.split(',').map(str::trim).find_map(|n| self.faces.get(n)).or_else(|| self.faces.values().next()).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.faces.keys().cloned().collect()
    }

    /// The PBF glyph range for the first font of `fontstack` (comma-separated) we have.
    pub fn range(&self, fontstack: &str, range: &str) -> Result<Bytes, FontError> {
        let start = parse_range(range)?;
        let name = fontstack
            .split(',')
            .map(str::trim)
            .find(|n| self.faces.contains_key(*n))
            .ok_or_else(|| FontError::UnknownFont { requested: fontstack.to_string(), available: self.names().join(", ") })?
            .to_string();
        let key = (name.clone(), start);
        if let Some(b) = self.cache.get(&key) {
            return Ok(b);
        }
        let (path, index) = &self.faces[&name];
        let bytes = render(path, *index, start)?;
        self.cache.insert(key, bytes.clone());
        Ok(bytes)
    }
}

fn parse_range(range: &str) -> Result<u32, FontError> {
    let bad = || FontError::BadRange(range.to_string());
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let (start, end): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if start % 256 != 0 || end != start + 255 || end > 65535 {
        return Err(bad());
    }
    Ok(start)
}

/// MapLibre's glyph PBF (glyphs.proto of the Mapbox GL style spec's font tools).
#[derive(Clone, PartialEq, prost::Message)]
struct Glyphs {
    #[prost(message, repeated, tag = "1")]
    stacks: Vec<Fontstack>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Fontstack {
    #[prost(string, required, tag = "1")]
    name: String,
    #[prost(string, required, tag = "2")]
    range: String,
    #[prost(message, repeated, tag = "3")]
    glyphs: Vec<Glyph>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Glyph {
    #[prost(uint32, required, tag = "1")]
    id: u32,
    #[prost(bytes = "vec", optional, tag = "2")]
    bitmap: Option<Vec<u8>>,
    #[prost(uint32, required, tag = "3")]
    width: u32,
    #[prost(uint32, required, tag = "4")]
    height: u32,
    #[prost(sint32, required, tag = "5")]
    left: i32,
    #[prost(sint32, required, tag = "6")]
    top: i32,
    #[prost(uint32, required, tag = "7")]
    advance: u32,
}

/// Glyph size in pixels, SDF buffer and radius in pixels, and the cutoff: what MapLibre's
/// own glyph tools use (24, 3, 8, 0.25).
const GLYPH_PX: isize = 24;
const BUFFER_PX: usize = 3;
const RADIUS_PX: usize = 8;
const CUTOFF: f64 = 0.25;

/// Renders one range of 256 code points of a face as SDF glyphs. Rendered here on
/// `sdf_glyph_renderer` rather than through `pbf_font_tools`, whose crate always pulls in
/// tokio (the encoders stay free of any async runtime); the output is the same message.
fn render(path: &Path, index: isize, start: u32) -> Result<Bytes, FontError> {
    let failed = |e: &dyn std::fmt::Display| FontError::Render(e.to_string());
    let lib = freetype::Library::init().map_err(|e| failed(&e))?;
    let face = lib.new_face(path, index).map_err(|e| failed(&e))?;
    let mut name = face.family_name().ok_or_else(|| FontError::Render(format!("{} has no family name", path.display())))?;
    if let Some(style) = face.style_name() {
        name = format!("{name} {style}");
    }
    // A char size of 0 for the width means "as the height"; 0 dpi means FreeType's 72.
    face.set_char_size(0, GLYPH_PX << 6, 0, 0).map_err(|e| failed(&e))?;
    let end = start + 255;
    let mut glyphs = Vec::new();
    for code in start..=end {
        let glyph = match sdf_glyph_renderer::render_sdf_from_face(&face, code, BUFFER_PX, RADIUS_PX) {
            Ok(g) => g,
            // Not every code point has a glyph in a font.
            Err(sdf_glyph_renderer::SdfGlyphError::FreeTypeError(freetype::Error::InvalidGlyphIndex)) => continue,
            Err(e) => return Err(failed(&e)),
        };
        glyphs.push(Glyph {
            id: code,
            bitmap: Some(sdf_glyph_renderer::clamp_to_u8(&glyph.sdf, CUTOFF).map_err(|e| failed(&e))?),
            width: glyph.metrics.width as u32,
            height: glyph.metrics.height as u32,
            left: glyph.metrics.left_bearing,
            top: glyph.metrics.top_bearing - glyph.metrics.ascender,
            advance: glyph.metrics.h_advance,
        });
    }
    let message = Glyphs { stacks: vec![Fontstack { name, range: format!("{start}-{end}"), glyphs }] };
    Ok(Bytes::from(message.encode_to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_must_be_aligned_blocks_of_256() {
        assert_eq!(parse_range("0-255"), Ok(0));
        assert_eq!(parse_range("19968-20223"), Ok(19968));
        for bad in ["0-256", "1-256", "65536-65791", "a-b", "0", "-1-254"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn renders_chinese_glyphs_from_the_debian_font() {
        let fonts = Fonts::load(&[PathBuf::from(DEFAULT_FONT)]);
        assert!(fonts.names().contains(&DEFAULT_FONTSTACK.to_string()), "{:?}", fonts.names());
        // 地 is U+5730 = 22320, in range 22272-22527.
        let bytes = fonts.range(&format!("Nope Sans,{DEFAULT_FONTSTACK}"), "22272-22527").unwrap();
        let decoded = pbf_font_tools::Glyphs::decode(&bytes[..]).unwrap();
        let stack = &decoded.stacks[0];
        assert_eq!(stack.name, DEFAULT_FONTSTACK);
        assert_eq!(stack.range, "22272-22527");
        let di = stack.glyphs.iter().find(|g| g.id == 0x5730).expect("地 rendered");
        assert!(di.width > 10 && di.bitmap.as_ref().unwrap().len() as u32 == (di.width + 6) * (di.height + 6));
        assert!(matches!(fonts.range("Nope Sans", "0-255"), Err(FontError::UnknownFont { .. })));
    }
}
