//! styles/basemap.json read for drawing: each MapLibre layer with its type, source layer,
//! zoom range, filter, and paint/layout properties as expressions (MapLibre's defaults
//! where the style says nothing).

use super::color::Rgba;
use super::expr::{Ctx, Expr, V};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerType {
    Background,
    Fill,
    Line,
    Circle,
    Symbol,
    FillExtrusion,
    Hillshade,
}

#[derive(Debug, Clone)]
pub struct StyleLayer {
    pub id: String,
    pub kind: LayerType,
    /// The store layer (or `{layer}_label` points) the layer draws.
    pub source_layer: Option<String>,
    pub minzoom: f64,
    pub maxzoom: f64,
    pub filter: Option<Expr>,
    props: HashMap<String, Expr>,
}

impl StyleLayer {
    /// Whether the layer draws at `zoom` (MapLibre: minzoom ≤ zoom < maxzoom).
    pub fn visible_at(&self, zoom: f64) -> bool {
        zoom >= self.minzoom && zoom < self.maxzoom
    }

    pub fn prop(&self, name: &str) -> Option<&Expr> {
        self.props.get(name)
    }

    pub fn num(&self, name: &str, ctx: &Ctx, default: f64) -> f64 {
        self.prop(name).and_then(|e| e.eval(ctx).num()).unwrap_or(default)
    }

    pub fn color(&self, name: &str, ctx: &Ctx, default: Rgba) -> Rgba {
        self.prop(name).and_then(|e| e.eval(ctx).color()).unwrap_or(default)
    }

    pub fn string(&self, name: &str, ctx: &Ctx) -> Option<String> {
        match self.prop(name)?.eval(ctx) {
            V::Null => None,
            v => Some(v.text()),
        }
    }

    pub fn passes(&self, ctx: &Ctx) -> bool {
        self.filter.as_ref().is_none_or(|f| f.eval(ctx).truthy())
    }

    /// Whether every property the layer draws with is the same for all features (so one
    /// evaluation serves the whole layer).
    pub fn feature_constant(&self) -> bool {
        self.props.values().all(Expr::feature_constant)
    }
}

#[derive(Debug, Clone)]
pub struct RenderStyle {
    pub name: String,
    pub layers: Vec<StyleLayer>,
}

impl RenderStyle {
    pub fn load(path: &Path) -> Result<RenderStyle, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read style {}: {e}", path.display()))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| format!("style {} is not JSON: {e}", path.display()))?;
        RenderStyle::parse(&json).map_err(|e| format!("style {}: {e}", path.display()))
    }

    pub fn parse(style: &Json) -> Result<RenderStyle, String> {
        let name = style["name"].as_str().unwrap_or("style").to_string();
        let mut layers = Vec::new();
        for l in style["layers"].as_array().ok_or("no layers array")? {
            let id = l["id"].as_str().unwrap_or("?").to_string();
            let kind = match l["type"].as_str() {
                Some("background") => LayerType::Background,
                Some("fill") => LayerType::Fill,
                Some("line") => LayerType::Line,
                Some("circle") => LayerType::Circle,
                Some("symbol") => LayerType::Symbol,
                Some("fill-extrusion") => LayerType::FillExtrusion,
                Some("hillshade") => LayerType::Hillshade,
                other => {
                    tracing::warn!("style layer '{id}': type {other:?} is not drawn by the server renderer");
                    continue;
                }
            };
            if l["layout"]["visibility"].as_str() == Some("none") {
                continue;
            }
            let mut props = HashMap::new();
            for group in ["paint", "layout"] {
                if let Some(o) = l[group].as_object() {
                    for (k, v) in o {
                        // A font stack is a plain array of names, not an expression.
                        let expr = match v {
                            Json::Array(names) if k == "text-font" && names.iter().all(Json::is_string) => {
                                Ok(Expr::Lit(V::Str(names.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(","))))
                            }
                            v => Expr::parse(v),
                        };
                        props.insert(k.clone(), expr.map_err(|e| format!("layer '{id}', {k}: {e}"))?);
                    }
                }
            }
            let filter = l.get("filter").map(Expr::parse_filter).transpose().map_err(|e| format!("layer '{id}', filter: {e}"))?;
            layers.push(StyleLayer {
                id,
                kind,
                source_layer: l["source-layer"].as_str().map(str::to_string),
                minzoom: l["minzoom"].as_f64().unwrap_or(0.0),
                maxzoom: l["maxzoom"].as_f64().unwrap_or(24.0),
                filter,
                props,
            });
        }
        Ok(RenderStyle { name, layers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_style_parses_completely() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../styles/basemap.json");
        let style = RenderStyle::load(&path).unwrap();
        let json: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(style.layers.len(), json["layers"].as_array().unwrap().len(), "every layer of the style is drawn");
        let parcels = style.layers.iter().find(|l| l.id == "parcel-lines").unwrap();
        assert_eq!(parcels.source_layer.as_deref(), Some("cadastral"));
        assert!(parcels.visible_at(15.0) && !parcels.visible_at(14.9));
        assert!(parcels.feature_constant());
    }
}
