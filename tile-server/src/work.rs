//! What a build is, as the scheduler (`builders.rs`) and the metrics (`metrics.rs`) both
//! name it: its class of work and its kind.

/// The two classes of work the scheduler keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Cheap,
    Heavy,
}

impl Class {
    pub const ALL: [Class; 2] = [Class::Cheap, Class::Heavy];

    pub fn name(self) -> &'static str {
        match self {
            Class::Cheap => "cheap",
            Class::Heavy => "heavy",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a build makes, for the build-time metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    VectorTile,
    WmtsTile,
    Terrain,
    Tiles3d,
    Plan3d,
    Map,
    FeatureInfo,
    Legend,
}

impl BuildKind {
    pub const ALL: [BuildKind; 8] =
        [BuildKind::VectorTile, BuildKind::WmtsTile, BuildKind::Terrain, BuildKind::Tiles3d, BuildKind::Plan3d, BuildKind::Map, BuildKind::FeatureInfo, BuildKind::Legend];

    pub fn name(self) -> &'static str {
        match self {
            BuildKind::VectorTile => "vector_tile",
            BuildKind::WmtsTile => "wmts_tile",
            BuildKind::Terrain => "terrain",
            BuildKind::Tiles3d => "3dtiles",
            BuildKind::Plan3d => "3dtiles_plan",
            BuildKind::Map => "wms_map",
            BuildKind::FeatureInfo => "feature_info",
            BuildKind::Legend => "legend",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
