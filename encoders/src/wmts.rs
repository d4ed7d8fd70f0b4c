//! One rendered tile of a WMTS tile matrix set: what the server's WMTS GetTile and
//! `formosa seed --tiles raster:…` both answer, byte for byte.

use crate::grids::TileMatrixSet;
use crate::render::encode::{encode, ImageFormat};
use crate::render::{MapRequest, Rasters, Renderer, BASEMAP, LABEL_MARGIN_PX};
use formosa_store::Source;

/// The encoded tile (row, col) of `level` of `set`, showing `layer`: the base map is
/// opaque, a single layer an overlay (transparent unless JPEG); labels up to the margin
/// outside the tile are placed, so a label crossing an edge is drawn on both tiles.
#[allow(clippy::too_many_arguments)]
pub fn render_tile(
    renderer: &Renderer,
    store: &dyn Source,
    rasters: Rasters,
    set: &TileMatrixSet,
    level: usize,
    row: u32,
    col: u32,
    layer: &str,
    format: ImageFormat,
) -> Result<Vec<u8>, String> {
    let req = tile_request(set, level, row, col, layer, format);
    let pixmap = renderer.render(store, Some(rasters), &req).map_err(|e| e.to_string())?;
    encode(&pixmap, format)
}

/// The map a WMTS tile is: what `render_tile` draws, and what its cost is estimated on.
pub fn tile_request(set: &TileMatrixSet, level: usize, row: u32, col: u32, layer: &str, format: ImageFormat) -> MapRequest {
    let transparent = layer != BASEMAP && format != ImageFormat::Jpeg;
    MapRequest { view: set.tile_view(level, row, col), layers: vec![layer.to_string()], transparent, bgcolor: None, label_margin: LABEL_MARGIN_PX }
}
