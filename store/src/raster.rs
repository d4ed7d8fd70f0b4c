//! Raster tiles as the store hands them out: elevation tiles of heights and the names of
//! the raster layers in the catalogue. Both pyramids use the GoogleMapsCompatible grid.

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
