//! Labels: text shaped from the font's outlines (ttf-parser → tiny-skia paths, so any
//! size is sharp and a halo is a stroke of the same outline), placed without collisions.
//!
//! Shaping is one line, left to right, by advance widths: enough for 地號, 段名 and
//! town names (CJK has no ligatures); no bidi, no line breaking.

use super::color::Rgba;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Stroke, Transform};

/// One font face, its bytes kept for the process's life (faces borrow them), and its
/// glyph outlines cached at font units.
pub struct Font {
    face: ttf_parser::Face<'static>,
    outlines: Mutex<HashMap<u16, Option<Arc<tiny_skia::Path>>>>,
}

impl Font {
    /// Loads face `index` of a TTF/OTF/TTC file.
    pub fn load(path: &Path, index: u32) -> Result<Font, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read font {}: {e}", path.display()))?;
        // One font per server, read once: leaking it gives the face a 'static borrow.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let face = ttf_parser::Face::parse(bytes, index).map_err(|e| format!("font {}: {e}", path.display()))?;
        Ok(Font { face, outlines: Mutex::new(HashMap::new()) })
    }

    fn outline(&self, glyph: ttf_parser::GlyphId) -> Option<Arc<tiny_skia::Path>> {
        if let Some(p) = self.outlines.lock().expect("glyph cache").get(&glyph.0) {
            return p.clone();
        }
        let mut b = Outline(PathBuilder::new());
        let path = self.face.outline_glyph(glyph, &mut b).and_then(|_| b.0.finish()).map(Arc::new);
        self.outlines.lock().expect("glyph cache").insert(glyph.0, path.clone());
        path
    }

    /// Lays out `text` at `size` px: glyphs with their x offsets, and the line's box.
    pub fn shape(&self, text: &str, size: f32) -> Shaped {
        let scale = size / self.face.units_per_em() as f32;
        let mut x = 0.0;
        let mut glyphs = Vec::new();
        for ch in text.chars() {
            let Some(id) = self.face.glyph_index(ch) else { continue };
            glyphs.push((id, x));
            x += self.face.glyph_hor_advance(id).unwrap_or(0) as f32 * scale;
        }
        let ascent = self.face.ascender() as f32 * scale;
        let descent = self.face.descender() as f32 * scale;
        Shaped { glyphs, width: x, ascent, descent, scale }
    }

    /// Draws shaped text centred on (cx, cy): the halo first (a stroke of the outlines),
    /// then the fill.
    pub fn draw(&self, pixmap: &mut Pixmap, s: &Shaped, cx: f32, cy: f32, color: Rgba, halo: Option<(Rgba, f32)>) {
        let left = cx - s.width / 2.0;
        let baseline = cy + (s.ascent + s.descent) / 2.0;
        let mut paint = Paint { anti_alias: true, ..Default::default() };
        let place = |x: f32| Transform::from_row(s.scale, 0.0, 0.0, -s.scale, left + x, baseline);
        if let Some((halo_color, width)) = halo.filter(|(c, w)| *w > 0.0 && c.a > 0.0) {
            paint.set_color(halo_color.to_skia());
            // The stroke is in font units (the transform scales it): 2 × halo width wide.
            let stroke = Stroke { width: 2.0 * width / s.scale, line_join: tiny_skia::LineJoin::Round, ..Default::default() };
            for (g, x) in &s.glyphs {
                if let Some(p) = self.outline(*g) {
                    pixmap.stroke_path(&p, &paint, &stroke, place(*x), None);
                }
            }
        }
        paint.set_color(color.to_skia());
        for (g, x) in &s.glyphs {
            if let Some(p) = self.outline(*g) {
                pixmap.fill_path(&p, &paint, FillRule::Winding, place(*x), None);
            }
        }
    }
}

pub struct Shaped {
    glyphs: Vec<(ttf_parser::GlyphId, f32)>,
    pub width: f32,
    ascent: f32,
    descent: f32,
    scale: f32,
}

impl Shaped {
    pub fn is_empty(&self) -> bool {
        self.glyphs.is_empty()
    }

    /// The box a label centred on (cx, cy) covers, grown by `padding` px.
    pub fn bounds(&self, cx: f32, cy: f32, padding: f32) -> [f32; 4] {
        let h = self.ascent - self.descent;
        [cx - self.width / 2.0 - padding, cy - h / 2.0 - padding, cx + self.width / 2.0 + padding, cy + h / 2.0 + padding]
    }
}

struct Outline(PathBuilder);

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

/// Boxes of the labels placed so far, in a grid of 64-px cells: a label goes where no
/// placed label's box overlaps its own.
#[derive(Default)]
pub struct Collisions {
    boxes: Vec<[f32; 4]>,
    cells: HashMap<(i32, i32), Vec<usize>>,
}

const CELL: f32 = 64.0;

impl Collisions {
    /// Places `b` unless it overlaps a placed box; true when placed.
    pub fn try_place(&mut self, b: [f32; 4]) -> bool {
        let cells = || {
            let (x0, y0, x1, y1) = ((b[0] / CELL).floor() as i32, (b[1] / CELL).floor() as i32, (b[2] / CELL).floor() as i32, (b[3] / CELL).floor() as i32);
            (x0..=x1).flat_map(move |x| (y0..=y1).map(move |y| (x, y)))
        };
        for c in cells() {
            if let Some(ids) = self.cells.get(&c) {
                if ids.iter().any(|&i| overlaps(&self.boxes[i], &b)) {
                    return false;
                }
            }
        }
        let id = self.boxes.len();
        self.boxes.push(b);
        for c in cells() {
            self.cells.entry(c).or_default().push(id);
        }
        true
    }
}

fn overlaps(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_is_drawn_centred_where_asked() {
        let font = Font::load(Path::new(crate::fonts::DEFAULT_FONT), 0).unwrap();
        let s = font.shape("信義區", 20.0);
        assert!(s.width > 55.0 && s.width < 65.0, "three 20-px CJK glyphs: {}", s.width);
        let mut pixmap = Pixmap::new(100, 40).unwrap();
        font.draw(&mut pixmap, &s, 50.0, 20.0, Rgba::BLACK, Some((Rgba::WHITE, 1.0)));
        let inked: Vec<(u32, u32)> = (0..40).flat_map(|y| (0..100).map(move |x| (x, y))).filter(|&(x, y)| pixmap.pixel(x, y).unwrap().alpha() > 128).collect();
        let (xs, ys): (Vec<u32>, Vec<u32>) = inked.iter().copied().unzip();
        let (cx, cy) = (xs.iter().sum::<u32>() as f32 / xs.len() as f32, ys.iter().sum::<u32>() as f32 / ys.len() as f32);
        assert!(inked.len() > 200 && (cx - 50.0).abs() < 4.0 && (cy - 20.0).abs() < 4.0, "{} px inked around ({cx}, {cy})", inked.len());
    }

    #[test]
    fn overlapping_labels_are_refused() {
        let mut c = Collisions::default();
        assert!(c.try_place([0.0, 0.0, 50.0, 20.0]));
        assert!(!c.try_place([40.0, 10.0, 90.0, 30.0]));
        assert!(c.try_place([51.0, 0.0, 200.0, 20.0]), "touching is fine, across cells");
        assert!(!c.try_place([150.0, 5.0, 160.0, 8.0]), "inside a placed box in another cell");
    }
}
