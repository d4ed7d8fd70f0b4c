//! Typed keys of cached tiles: what was made (`TileKind`) and where (`z`, `x`, `y` on the
//! kind's grid). The cache, live-edit invalidation and hot re-import all ask the key which
//! store layers it reads and which areas touch it; nothing builds or parses key strings.

use formosa_encoders::grids::TileMatrixSet;
use formosa_encoders::render::encode::ImageFormat;
use formosa_encoders::render::{BASEMAP, LABEL_MARGIN_PX};
use formosa_encoders::tiles::buffered_bounds;
use formosa_store::raster::TERRAIN;
use formosa_store::Envelope;
use std::sync::Arc;

/// A store layer's name (or `basemap`), cheap to clone into many keys.
pub type LayerName = Arc<str>;

/// What a cached tile is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// An MVT tile of one store layer, or of the composite base map (`basemap`).
    Mvt(LayerName),
    /// One store layer's part of the composite base-map tile.
    MvtPart(LayerName),
    /// A 3D Tiles GLB of a buildings or pipelines layer (XYZ addressing).
    Tiles3d(LayerName),
    /// A terrain-RGB PNG of the elevation pyramid.
    TerrainRgb,
    /// A quantized-mesh tile, with or without oct-encoded normals.
    QuantizedMesh { normals: bool },
    /// A rendered WMTS tile of a map layer (or `basemap`) in one tile matrix set (its
    /// index in `TileMatrixSet::all()`), in one image format.
    Wmts { layer: LayerName, set: u8, format: ImageFormat },
}

/// Where a tile lies: its grid (0: the XYZ grid of vector tiles, terrain and 3D Tiles;
/// 1 + index of a WMTS tile matrix set) and its zoom, column and row.
pub type Place = (u8, u8, u32, u32);

/// The grid of XYZ tiles.
pub const XYZ_GRID: u8 = 0;

/// A cached tile's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub kind: TileKind,
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileKind {
    pub fn mvt(layer: &str) -> TileKind {
        TileKind::Mvt(layer.into())
    }

    pub fn mvt_part(layer: &str) -> TileKind {
        TileKind::MvtPart(layer.into())
    }

    pub fn tiles3d(layer: &str) -> TileKind {
        TileKind::Tiles3d(layer.into())
    }

    /// The `kind` label values of the cache metrics, in `metric_index` order.
    pub const METRIC_NAMES: [&'static str; 6] = ["mvt", "mvt_part", "3dtiles", "terrain_rgb", "quantized_mesh", "wmts"];

    /// This kind's place in `METRIC_NAMES`.
    pub fn metric_index(&self) -> usize {
        match self {
            TileKind::Mvt(_) => 0,
            TileKind::MvtPart(_) => 1,
            TileKind::Tiles3d(_) => 2,
            TileKind::TerrainRgb => 3,
            TileKind::QuantizedMesh { .. } => 4,
            TileKind::Wmts { .. } => 5,
        }
    }

    /// The grid this kind's tiles lie on (see [`Place`]).
    pub fn grid(&self) -> u8 {
        match self {
            TileKind::Wmts { set, .. } => 1 + set,
            _ => XYZ_GRID,
        }
    }

    /// Whether tiles of this kind are made from store layer `layer`, so that re-importing
    /// it makes them stale. Rendered tiles draw several layers and the hillshade: all of
    /// them read every layer.
    pub fn reads_layer(&self, layer: &str) -> bool {
        match self {
            TileKind::Mvt(l) => &**l == layer || &**l == BASEMAP,
            TileKind::MvtPart(l) | TileKind::Tiles3d(l) => &**l == layer,
            TileKind::TerrainRgb | TileKind::QuantizedMesh { .. } => layer == TERRAIN,
            TileKind::Wmts { .. } => true,
        }
    }

    /// Whether a live edit of a feature of `layer` can change tiles of this kind: that
    /// layer's own tiles, parts and 3D Tiles, and the base map's tiles (vector and
    /// rendered). Terrain is never edited live.
    pub fn edited_by(&self, layer: &str) -> bool {
        match self {
            TileKind::Mvt(l) | TileKind::Wmts { layer: l, .. } => &**l == layer || &**l == BASEMAP,
            TileKind::MvtPart(l) | TileKind::Tiles3d(l) => &**l == layer,
            TileKind::TerrainRgb | TileKind::QuantizedMesh { .. } => false,
        }
    }
}

impl TileKey {
    pub fn new(kind: TileKind, z: u8, x: u32, y: u32) -> TileKey {
        TileKey { kind, z, x, y }
    }

    pub fn place(&self) -> Place {
        (self.kind.grid(), self.z, self.x, self.y)
    }

    /// The longitude/latitude box this tile's content comes from: an XYZ tile with its
    /// render buffer, a WMTS tile with its label margin.
    pub fn reads_area(&self) -> Option<Envelope> {
        match &self.kind {
            TileKind::Wmts { set, .. } => {
                let set = TileMatrixSet::all().into_iter().nth(*set as usize)?;
                ((self.z as usize) < set.matrices.len()).then(|| set.tile_view(self.z as usize, self.y, self.x).lonlat_bounds(LABEL_MARGIN_PX))
            }
            _ => Some(buffered_bounds(self.z, self.x, self.y)),
        }
    }

    /// Whether a live edit of `layer` whose feature lay or lies in `areas` changes this
    /// tile: its kind is edited by the layer and what it reads meets one of the areas.
    pub fn touched_by(&self, layer: &str, areas: &[Envelope]) -> bool {
        self.kind.edited_by(layer) && self.reads_area().is_some_and(|b| areas.iter().any(|a| a.intersects(&b)))
    }
}

/// The places of `grid` whose tiles (grown by their buffer, or by `margin_px` on WMTS
/// grids) meet `area`, zoom by zoom: the listed places, and the zooms where more than
/// `max_listed` tiles met it (left for a predicate over the cache instead).
pub fn places_touching(grid: u8, area: &Envelope, margin_px: f64, max_listed: u64) -> (Vec<Place>, Vec<u8>) {
    let mut places = Vec::new();
    let mut overflow = Vec::new();
    let mut list = |z: u8, (x0, y0, x1, y1): (u32, u32, u32, u32)| {
        if (x1 - x0 + 1) as u64 * (y1 - y0 + 1) as u64 > max_listed {
            overflow.push(z);
        } else {
            places.extend((x0..=x1).flat_map(|x| (y0..=y1).map(move |y| (grid, z, x, y))));
        }
    };
    if grid == XYZ_GRID {
        for z in 0..=formosa_encoders::tiles::MAX_ZOOM as u8 {
            list(z, formosa_encoders::tiles::tiles_touching(area, z));
        }
    } else if let Some(set) = TileMatrixSet::all().into_iter().nth(grid as usize - 1) {
        for level in 0..set.matrices.len() {
            if let Some(range) = set.tiles_touching(level, area, margin_px) {
                list(level as u8, range);
            }
        }
    }
    (places, overflow)
}

/// Every grid: XYZ, then each WMTS tile matrix set.
pub fn grids() -> impl Iterator<Item = u8> {
    std::iter::once(XYZ_GRID).chain((0..TileMatrixSet::all().len() as u8).map(|i| 1 + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_know_their_grids_and_layers() {
        let wmts = TileKind::Wmts { layer: "cadastral".into(), set: 1, format: ImageFormat::Png };
        assert_eq!(wmts.grid(), 2);
        assert_eq!(TileKind::mvt("cadastral").grid(), XYZ_GRID);
        assert!(TileKind::mvt(BASEMAP).edited_by("incidents") && TileKind::mvt(BASEMAP).reads_layer("towns"));
        assert!(!TileKind::mvt_part("cadastral").edited_by("incidents"));
        assert!(TileKind::TerrainRgb.reads_layer(TERRAIN) && !TileKind::TerrainRgb.edited_by("incidents"));
        assert!(wmts.edited_by("cadastral") && !wmts.edited_by("pipelines"));
    }

    /// The places listed for an area are exactly the tiles whose buffered bounds meet it.
    #[test]
    fn listed_places_are_the_touched_tiles() {
        let area = Envelope { min_x: 121.5641, min_y: 25.0337, max_x: 121.5649, max_y: 25.0341 };
        let (places, overflow) = places_touching(XYZ_GRID, &area, 0.0, 4096);
        assert!(overflow.is_empty());
        for &(grid, z, x, y) in places.iter().filter(|p| p.1 == 16) {
            assert!(TileKey::new(TileKind::mvt("incidents"), z, x, y).touched_by("incidents", &[area]), "{grid} {z}/{x}/{y}");
        }
        let (_, overflow) = places_touching(XYZ_GRID, &Envelope { min_x: 120.0, min_y: 22.0, max_x: 122.0, max_y: 25.0 }, 0.0, 4096);
        assert!(overflow.contains(&24) && !overflow.contains(&10));
    }
}
