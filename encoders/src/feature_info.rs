//! GetFeatureInfo for WMS and WMTS: the features under a map pixel, from the R-tree, as
//! HTML, GeoJSON or XML.

use crate::markup::escape_xml;
use crate::render::MapView;
use formosa_store::{Attributes, Catalog, Envelope, Feature, Geometry, StoreError};
use serde_json::json;

/// How close (in pixels) a line or point must be to the clicked pixel.
pub const TOLERANCE_PX: f64 = 4.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InfoFormat {
    Html,
    Json,
    Xml,
}

impl InfoFormat {
    pub const ALL: [InfoFormat; 3] = [InfoFormat::Html, InfoFormat::Json, InfoFormat::Xml];

    pub fn parse(mime: &str) -> Option<InfoFormat> {
        match mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
            "text/html" => Some(InfoFormat::Html),
            "application/json" | "application/geo+json" => Some(InfoFormat::Json),
            "text/xml" | "application/xml" => Some(InfoFormat::Xml),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            InfoFormat::Html => "text/html",
            InfoFormat::Json => "application/json",
            InfoFormat::Xml => "text/xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            InfoFormat::Html => "html",
            InfoFormat::Json => "json",
            InfoFormat::Xml => "xml",
        }
    }
}

/// Up to `count` features of each layer at pixel (i, j) of `view`, nearest first: those
/// whose polygon contains the pixel centre, or whose line or point lies within
/// `TOLERANCE_PX` of it.
pub fn query(store: &dyn Catalog, view: &MapView, i: f64, j: f64, layers: &[String], count: usize) -> Result<Vec<(String, Vec<Feature>)>, StoreError> {
    let (px, py) = (i + 0.5, j + 0.5);
    let mut area: Option<Envelope> = None;
    for (dx, dy) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
        let (lon, lat) = view.lonlat_at(px + dx * TOLERANCE_PX, py + dy * TOLERANCE_PX);
        area = Some(match area {
            None => Envelope { min_x: lon, min_y: lat, max_x: lon, max_y: lat },
            Some(e) => e.expand(lon, lat),
        });
    }
    let area = area.expect("four corners");
    let mut out = Vec::new();
    for name in layers {
        let Some(layer) = store.layer_info(name) else { continue };
        let layer = store.feature_layer(name).ok_or_else(|| StoreError::UnknownLayer(layer.name))?;
        let ids = layer.query(&area);
        let mut hits: Vec<(f64, Feature)> = layer
            .features(&ids, Attributes::All)?
            .into_iter()
            .filter_map(|f| {
                let d = distance_px(&f.geometry, view, px, py);
                (d <= TOLERANCE_PX).then_some((d, f))
            })
            .collect();
        hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        out.push((name.clone(), hits.into_iter().take(count).map(|(_, f)| f).collect()));
    }
    Ok(out)
}

/// Pixel distance from (px, py) to the geometry (0 inside a polygon).
fn distance_px(g: &Geometry, view: &MapView, px: f64, py: f64) -> f64 {
    let p = |c: &formosa_store::Coord| {
        let (x, y) = view.pixel(c[0], c[1]);
        (x as f64, y as f64)
    };
    let to_segment = |a: (f64, f64), b: (f64, f64)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 { (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        ((a.0 + t * dx - px).powi(2) + (a.1 + t * dy - py).powi(2)).sqrt()
    };
    let line = |l: &[formosa_store::Coord]| l.windows(2).map(|w| to_segment(p(&w[0]), p(&w[1]))).fold(f64::INFINITY, f64::min);
    match g {
        Geometry::Point(c) => to_segment(p(c), p(c)),
        Geometry::MultiPoint(v) => v.iter().map(|c| to_segment(p(c), p(c))).fold(f64::INFINITY, f64::min),
        Geometry::MultiLineString(ls) => ls.iter().map(|l| line(l)).fold(f64::INFINITY, f64::min),
        Geometry::MultiPolygon(polys) => {
            let mut best = f64::INFINITY;
            for rings in polys {
                // Even-odd over exterior and holes: inside the polygon proper.
                let mut inside = false;
                for ring in rings {
                    for w in ring.windows(2) {
                        let (a, b) = (p(&w[0]), p(&w[1]));
                        if (a.1 > py) != (b.1 > py) && px < a.0 + (py - a.1) * (b.0 - a.0) / (b.1 - a.1) {
                            inside = !inside;
                        }
                    }
                    best = best.min(line(ring));
                }
                if inside {
                    return 0.0;
                }
            }
            best
        }
    }
}

/// The answer in the asked format, with its content type. Every attribute is escaped for
/// its format.
pub fn document(format: InfoFormat, results: &[(String, Vec<Feature>)]) -> (&'static str, String) {
    let body = match format {
        InfoFormat::Json => {
            let features =
                results.iter().flat_map(|(layer, fs)| fs.iter().map(move |f| crate::geojson::feature(f, false, json!({ "layer": layer }).as_object().cloned()))).collect();
            crate::geojson::collection(features, None).to_string()
        }
        InfoFormat::Html => {
            let mut html = String::from("<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\"><title>Feature info</title></head><body>");
            for (layer, fs) in results {
                html.push_str(&format!("<h2>{}</h2>", escape_xml(layer)));
                if fs.is_empty() {
                    html.push_str("<p>no feature here</p>");
                }
                for f in fs {
                    html.push_str(&format!("<table border=\"1\"><caption>{} {}</caption>", escape_xml(layer), f.id));
                    for (k, v) in &f.properties {
                        html.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", escape_xml(k), escape_xml(&value_text(v))));
                    }
                    html.push_str("</table>");
                }
            }
            html.push_str("</body></html>");
            html
        }
        InfoFormat::Xml => {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FeatureInfoResponse>\n");
            for (layer, fs) in results {
                xml.push_str(&format!("  <Layer name=\"{}\">\n", escape_xml(layer)));
                for f in fs {
                    xml.push_str(&format!("    <Feature id=\"{}\">\n", f.id));
                    for (k, v) in &f.properties {
                        xml.push_str(&format!("      <Attribute name=\"{}\">{}</Attribute>\n", escape_xml(k), escape_xml(&value_text(v))));
                    }
                    xml.push_str("    </Feature>\n");
                }
                xml.push_str("  </Layer>\n");
            }
            xml.push_str("</FeatureInfoResponse>\n");
            xml
        }
    };
    let mime = match format {
        InfoFormat::Json => "application/json",
        InfoFormat::Html => "text/html; charset=utf-8",
        InfoFormat::Xml => "text/xml; charset=utf-8",
    };
    (mime, body)
}

fn value_text(v: &formosa_store::Value) -> String {
    use formosa_store::Value;
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
    }
}
