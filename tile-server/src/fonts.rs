//! Glyph ranges for MapLibre labels (`/fonts/{fontstack}/{start}-{end}.pbf`), rendered as
//! signed distance fields from fonts installed on the machine — by default Debian's
//! WenQuanYi Micro Hei, which covers Traditional Chinese — so 中文 labels need no internet.

use bytes::Bytes;
use moka::sync::Cache;
use pbf_font_tools::freetype;
use pbf_font_tools::prost::Message;
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

fn render(path: &Path, index: isize, start: u32) -> Result<Bytes, FontError> {
    let lib = freetype::Library::init().map_err(|e| FontError::Render(e.to_string()))?;
    let face = lib.new_face(path, index).map_err(|e| FontError::Render(e.to_string()))?;
    // 24 px glyphs, 8 px SDF radius, 0.25 cutoff: what MapLibre's own glyph tools use.
    let stack = pbf_font_tools::glyph_range_for_face(&face, start, start + 255, 24, 8, 0.25).map_err(|e| FontError::Render(e.to_string()))?;
    let glyphs = pbf_font_tools::Glyphs { stacks: vec![stack] };
    Ok(Bytes::from(glyphs.encode_to_vec()))
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
