//! Raster tiles as the store hands them out: elevation tiles of heights and the names of
//! the raster layers in the catalogue. Both pyramids use the GoogleMapsCompatible grid.
//! Every backend keeps elevation tiles as float32 TIFFs (the GeoPackage gridded-coverage
//! encoding) and snaps a pyramid's extent the same way, so stores copy between backends
//! byte for byte.

use crate::mercator::{tile_size_m, HALF_WORLD};
use crate::model::Envelope;
use crate::StoreError;
use std::io::Cursor;

/// Pixels per tile side of every pyramid.
pub const TILE_SIZE: usize = 256;
/// Value written where the DEM has no data.
pub const NO_DATA: f32 = -32768.0;
/// The catalogue name (and kind) of the elevation pyramid.
pub const TERRAIN: &str = "terrain";
/// The catalogue kind of imagery layers.
pub const IMAGERY: &str = "imagery";

/// One elevation tile: TILE_SIZE × TILE_SIZE heights, row-major from the north-west,
/// each the height at the *centre* of its cell (metres, orthometric as in the source).
#[derive(Debug, Clone, PartialEq)]
pub struct ElevationTile {
    pub heights: Vec<f32>,
}

impl ElevationTile {
    pub fn get(&self, col: usize, row: usize) -> Option<f32> {
        let v = self.heights[row * TILE_SIZE + col];
        (v != NO_DATA).then_some(v)
    }
}

/// Encodes heights as a single-band float32 TIFF, LZW-compressed (the encoding the
/// gridded-coverage extension prescribes for float data).
pub fn encode_tiff(heights: &[f32]) -> Result<Vec<u8>, StoreError> {
    let mut buf = Cursor::new(Vec::new());
    let mut enc = tiff::encoder::TiffEncoder::new(&mut buf).map_err(|e| StoreError::Elevation(e.to_string()))?.with_compression(tiff::encoder::Compression::Lzw);
    enc.write_image::<tiff::encoder::colortype::Gray32Float>(TILE_SIZE as u32, TILE_SIZE as u32, heights).map_err(|e| StoreError::Elevation(e.to_string()))?;
    Ok(buf.into_inner())
}

pub fn decode_tiff(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| StoreError::Elevation(e.to_string()))?;
    match dec.read_image().map_err(|e| StoreError::Elevation(e.to_string()))? {
        tiff::decoder::DecodingResult::F32(v) if v.len() == TILE_SIZE * TILE_SIZE => Ok(v),
        _ => Err(StoreError::Elevation("elevation tile is not 256×256 float32".into())),
    }
}

/// `extent_m` (Web Mercator metres) snapped outward to whole pixels of zoom `max_zoom`:
/// GDAL takes a raster's origin from the extent, and an origin between pixels shifts
/// every value it reads by a fraction of a pixel.
pub fn snap_extent(extent_m: Envelope, max_zoom: u8) -> Envelope {
    let px = tile_size_m(max_zoom) / TILE_SIZE as f64;
    let snap = |v: f64, up: bool| {
        let cells = (v + HALF_WORLD) / px;
        let cells = if up { (cells - 1e-6).ceil() } else { (cells + 1e-6).floor() };
        cells * px - HALF_WORLD
    };
    Envelope { min_x: snap(extent_m.min_x, false), min_y: snap(extent_m.min_y, false), max_x: snap(extent_m.max_x, true), max_y: snap(extent_m.max_y, true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiff_tiles_round_trip_exactly() {
        let heights: Vec<f32> = (0..TILE_SIZE * TILE_SIZE).map(|i| (i % 977) as f32 * 0.37 - 12.5).collect();
        let bytes = encode_tiff(&heights).unwrap();
        assert_eq!(decode_tiff(&bytes).unwrap(), heights);
    }
}
