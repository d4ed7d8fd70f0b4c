//! GetLegendGraphic: one row per style layer drawing a map layer, and one per class where
//! the colour is a `match` on an attribute (pipelines by utility, parcels by land use).

use crate::render::color::Rgba;
use crate::render::expr::{Ctx, Expr};
use crate::render::style::LayerType;
use crate::render::{MapLayer, Renderer};
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

const ROW: f32 = 20.0;
const SWATCH: f32 = 16.0;
const TEXT_SIZE: f32 = 12.0;

struct Row {
    kind: LayerType,
    color: Rgba,
    width: f32,
    label: String,
}

/// The colour property a layer type draws with.
fn color_property(kind: LayerType) -> Option<&'static str> {
    Some(match kind {
        LayerType::Fill => "fill-color",
        LayerType::Line => "line-color",
        LayerType::Circle => "circle-color",
        LayerType::FillExtrusion => "fill-extrusion-color",
        LayerType::Symbol => "text-color",
        LayerType::Hillshade => "hillshade-shadow-color",
        LayerType::Background => return None,
    })
}

fn rows(renderer: &Renderer, layer: &MapLayer) -> Vec<Row> {
    let mut rows = Vec::new();
    for l in renderer.style.layers.iter().filter(|l| layer.style_layers.contains(&l.id)) {
        let Some(prop) = color_property(l.kind) else { continue };
        // At the first zoom the layer shows at, or 16 for layers shown at every zoom.
        let zoom = if l.minzoom > 0.0 { l.minzoom.max(16.0).min(l.maxzoom - 0.5) } else { 16.0 };
        let ctx = Ctx { zoom, properties: &[], geometry_type: "Polygon" };
        let width = l.num("line-width", &ctx, 1.0) as f32;
        match l.prop(prop) {
            Some(Expr::Match { arms, default, .. }) => {
                for (labels, e) in arms {
                    let color = e.eval(&ctx).color().unwrap_or(Rgba::BLACK);
                    rows.push(Row { kind: l.kind, color, width, label: labels.iter().map(|v| v.text()).collect::<Vec<_>>().join(", ") });
                }
                rows.push(Row { kind: l.kind, color: default.eval(&ctx).color().unwrap_or(Rgba::BLACK), width, label: format!("{} (other)", l.id) });
            }
            _ => rows.push(Row { kind: l.kind, color: l.color(prop, &ctx, Rgba::BLACK), width, label: l.id.clone() }),
        }
    }
    rows
}

/// The legend image of `layer`.
pub fn legend(renderer: &Renderer, layer: &MapLayer) -> Pixmap {
    let rows = rows(renderer, layer);
    let font = renderer.font();
    let text_width = rows.iter().map(|r| font.map_or(r.label.chars().count() as f32 * 7.0, |f| f.shape(&r.label, TEXT_SIZE).width)).fold(0.0, f32::max);
    let width = (SWATCH + 12.0 + text_width + 6.0).ceil().max(64.0) as u32;
    let height = (rows.len().max(1) as f32 * ROW + 4.0).ceil() as u32;
    let mut pixmap = Pixmap::new(width, height).expect("small, non-empty");
    pixmap.fill(tiny_skia::Color::WHITE);
    for (i, r) in rows.iter().enumerate() {
        let top = 2.0 + i as f32 * ROW + (ROW - SWATCH) / 2.0;
        let mut paint = Paint { anti_alias: true, ..Default::default() };
        paint.set_color(r.color.to_skia());
        match r.kind {
            LayerType::Line => {
                let mut pb = PathBuilder::new();
                pb.move_to(4.0, top + SWATCH / 2.0);
                pb.line_to(4.0 + SWATCH, top + SWATCH / 2.0);
                if let Some(p) = pb.finish() {
                    pixmap.stroke_path(&p, &paint, &Stroke { width: r.width.clamp(1.0, 6.0), ..Default::default() }, Transform::identity(), None);
                }
            }
            LayerType::Circle => {
                if let Some(p) = PathBuilder::from_circle(4.0 + SWATCH / 2.0, top + SWATCH / 2.0, SWATCH / 2.0 - 1.0) {
                    pixmap.fill_path(&p, &paint, FillRule::Winding, Transform::identity(), None);
                }
            }
            LayerType::Symbol => {
                if let Some(f) = font {
                    let s = f.shape("文", SWATCH);
                    f.draw(&mut pixmap, &s, 4.0 + SWATCH / 2.0, top + SWATCH / 2.0, r.color, None);
                }
            }
            _ => {
                if let Some(rect) = Rect::from_xywh(4.0, top, SWATCH, SWATCH) {
                    pixmap.fill_rect(rect, &paint, Transform::identity(), None);
                }
            }
        }
        if let Some(f) = font {
            let s = f.shape(&r.label, TEXT_SIZE);
            f.draw(&mut pixmap, &s, SWATCH + 12.0 + s.width / 2.0, top + SWATCH / 2.0, Rgba::BLACK, None);
        }
    }
    pixmap
}
