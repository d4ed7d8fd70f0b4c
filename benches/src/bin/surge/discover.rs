//! What the clients read before they ask for tiles, as they read it: QGIS the WMTS
//! capabilities (the EPSG:3826 tile matrix set and its matrices), CesiumJS the terrain's
//! layer.json and each 3D tileset.json (the content tiles and their regions).

use reqwest::Client;
use serde_json::Value;

/// One WMTS tile matrix: its identifier, top-left corner and span of a tile in metres.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub id: String,
    pub origin: (f64, f64),
    pub tile_span_m: f64,
}

/// A 3D Tiles content tile: its path under the tileset and its region in degrees.
#[derive(Debug, Clone)]
pub struct Content {
    pub path: String,
    pub level: usize,
    pub bounds: [f64; 4],
}

#[derive(Debug, Clone)]
pub struct Tileset {
    pub layer: String,
    pub contents: Vec<Content>,
}

#[derive(Debug, Clone)]
pub struct Terrain {
    pub bounds: [f64; 4],
    pub max_zoom: u8,
}

/// Everything discovered, shared by the sessions.
#[derive(Debug, Clone)]
pub struct Server {
    pub twd97_set: String,
    pub twd97: Vec<Matrix>,
    pub terrain: Option<Terrain>,
    pub tilesets: Vec<Tileset>,
}

async fn get_text(client: &Client, url: &str) -> Result<String, String> {
    let r = client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("{url}: HTTP {}", r.status()));
    }
    r.text().await.map_err(|e| format!("{url}: {e}"))
}

pub async fn discover(client: &Client, base: &str) -> Result<Server, String> {
    let caps = get_text(client, &format!("{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")).await?;
    let (twd97_set, twd97) = matrix_set(&caps, "3826").ok_or("the WMTS capabilities have no tile matrix set in EPSG:3826")?;
    let terrain = match get_text(client, &format!("{base}/terrain/layer.json")).await {
        Ok(text) => Some(terrain(&serde_json::from_str(&text).map_err(|e| format!("layer.json: {e}"))?)?),
        Err(_) => None,
    };
    let catalog: Value = serde_json::from_str(&get_text(client, &format!("{base}/catalog")).await?).map_err(|e| format!("/catalog: {e}"))?;
    let mut tilesets = Vec::new();
    for layer in catalog["layers"].as_array().into_iter().flatten() {
        let (Some(name), Some(kind)) = (layer["name"].as_str(), layer["kind"].as_str()) else { continue };
        if kind == "buildings" || kind == "pipelines" {
            let text = get_text(client, &format!("{base}/3dtiles/{name}/tileset.json")).await?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{name}/tileset.json: {e}"))?;
            let mut contents = Vec::new();
            collect_contents(&doc["root"], 0, &mut contents);
            tilesets.push(Tileset { layer: name.to_string(), contents });
        }
    }
    Ok(Server { twd97_set, twd97, terrain, tilesets })
}

/// The first tile matrix set whose SupportedCRS names `epsg`, and its matrices. The
/// capabilities are Formosa's own (one element a line is not assumed): plain string
/// scanning is enough.
fn matrix_set(caps: &str, epsg: &str) -> Option<(String, Vec<Matrix>)> {
    for block in caps.split("<TileMatrixSet>").skip(1) {
        let block = block.split("</TileMatrixSet>").next()?;
        if !element(block, "ows:SupportedCRS").is_some_and(|c| c.ends_with(&format!(":{epsg}"))) {
            continue;
        }
        let id = element(block, "ows:Identifier")?.to_string();
        let matrices = block
            .split("<TileMatrix>")
            .skip(1)
            .filter_map(|m| {
                let scale: f64 = element(m, "ScaleDenominator")?.parse().ok()?;
                let mut corner = element(m, "TopLeftCorner")?.split_whitespace().filter_map(|v| v.parse::<f64>().ok());
                let width: f64 = element(m, "TileWidth")?.parse().ok()?;
                // OGC's standardised pixel is 0.28 mm.
                Some(Matrix { id: element(m, "ows:Identifier")?.to_string(), origin: (corner.next()?, corner.next()?), tile_span_m: scale * 0.00028 * width })
            })
            .collect();
        return Some((id, matrices));
    }
    None
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + end].trim())
}

fn terrain(doc: &Value) -> Result<Terrain, String> {
    let b: Vec<f64> = doc["bounds"].as_array().ok_or("layer.json has no bounds")?.iter().filter_map(Value::as_f64).collect();
    if b.len() != 4 {
        return Err("layer.json: bounds are not four numbers".into());
    }
    Ok(Terrain { bounds: [b[0], b[1], b[2], b[3]], max_zoom: doc["maxzoom"].as_u64().unwrap_or(0) as u8 })
}

/// Every tile with content below `tile`, with its level in the tree and its region
/// (3D Tiles regions are radians: west, south, east, north, min and max height).
fn collect_contents(tile: &Value, level: usize, out: &mut Vec<Content>) {
    if let (Some(uri), Some(region)) = (tile["content"]["uri"].as_str(), tile["boundingVolume"]["region"].as_array()) {
        let r: Vec<f64> = region.iter().filter_map(Value::as_f64).map(f64::to_degrees).collect();
        if r.len() >= 4 {
            out.push(Content { path: uri.to_string(), level, bounds: [r[0], r[1], r[2], r[3]] });
        }
    }
    for child in tile["children"].as_array().into_iter().flatten() {
        collect_contents(child, level + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_epsg_3826_set_from_capabilities() {
        let caps = "<Contents><TileMatrixSet><ows:Identifier>GoogleMapsCompatible</ows:Identifier><ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>\
            <TileMatrix><ows:Identifier>0</ows:Identifier><ScaleDenominator>559082264.0287178</ScaleDenominator><TopLeftCorner>-20037508.34 20037508.34</TopLeftCorner><TileWidth>256</TileWidth></TileMatrix></TileMatrixSet>\n\
            <TileMatrixSet><ows:Identifier>TWD97</ows:Identifier><ows:SupportedCRS>urn:ogc:def:crs:EPSG::3826</ows:SupportedCRS>\
            <TileMatrix><ows:Identifier>13</ows:Identifier><ScaleDenominator>944.9</ScaleDenominator><TopLeftCorner>50000 3000000</TopLeftCorner><TileWidth>256</TileWidth></TileMatrix></TileMatrixSet></Contents>";
        let (id, m) = matrix_set(caps, "3826").unwrap();
        assert_eq!(id, "TWD97");
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].id.as_str(), m[0].origin), ("13", (50_000.0, 3_000_000.0)));
        assert!((m[0].tile_span_m - 944.9 * 0.00028 * 256.0).abs() < 1e-9);
    }

    #[test]
    fn collects_content_tiles_with_their_levels() {
        let doc = serde_json::json!({ "root": { "boundingVolume": { "region": [0, 0, 1, 1, 0, 0] }, "children": [
            { "boundingVolume": { "region": [0.1, 0.2, 0.3, 0.4, 0, 10] }, "content": { "uri": "13/1/2.glb" },
              "children": [{ "boundingVolume": { "region": [0.1, 0.2, 0.2, 0.3, 0, 10] }, "content": { "uri": "14/2/4.glb" } }] } ] } });
        let mut out = Vec::new();
        collect_contents(&doc["root"], 0, &mut out);
        assert_eq!(out.iter().map(|c| (c.path.as_str(), c.level)).collect::<Vec<_>>(), [("13/1/2.glb", 1), ("14/2/4.glb", 2)]);
        assert!((out[0].bounds[0] - 0.1f64.to_degrees()).abs() < 1e-12);
    }
}
