//! The typed feature model: which layer kinds exist, which attributes each kind carries,
//! and the values and geometries a feature is made of.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// What a layer holds. Each kind has a fixed set of typed attribute columns, so that
/// encoders and styles can rely on them whatever the agency called them in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// 地籍: cadastral parcels.
    Cadastral,
    /// 管線: underground utility lines.
    Pipelines,
    /// 建物: building footprints with heights.
    Buildings,
    /// Any other base-map layer (admin boundaries and whatever has no kind of its own).
    Vector,
    /// 道路: road centrelines with name, class, width, one-way, bridge/tunnel, level.
    Roads,
    /// 軌道: railways and MRT (台鐵, 高鐵, 捷運) with bridge/tunnel.
    Railways,
    /// 水系: rivers and canals as lines, lakes, reservoirs and ponds as polygons.
    Water,
    /// 地標: schools, hospitals, fire stations, police, government, parks, stations…
    Pois,
    /// 避難收容處所: disaster shelters with capacity, address, type and disasters served.
    Shelters,
    /// 災情通報: disaster reports written live by response apps (incidents, closures,
    /// damaged pipes), not imported.
    Incidents,
}

impl LayerKind {
    pub const ALL: [LayerKind; 10] =
        [Self::Cadastral, Self::Pipelines, Self::Buildings, Self::Vector, Self::Incidents, Self::Roads, Self::Railways, Self::Water, Self::Pois, Self::Shelters];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cadastral => "cadastral",
            Self::Pipelines => "pipelines",
            Self::Buildings => "buildings",
            Self::Vector => "vector",
            Self::Incidents => "incidents",
            Self::Roads => "roads",
            Self::Railways => "railways",
            Self::Water => "water",
            Self::Pois => "pois",
            Self::Shelters => "shelters",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The typed attribute columns of this kind, in table order (after `fid` and `geom`).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Self::Cadastral => CADASTRAL_COLUMNS,
            Self::Pipelines => PIPELINE_COLUMNS,
            Self::Buildings => BUILDING_COLUMNS,
            Self::Vector => VECTOR_COLUMNS,
            Self::Incidents => INCIDENT_COLUMNS,
            Self::Roads => ROAD_COLUMNS,
            Self::Railways => RAILWAY_COLUMNS,
            Self::Water => WATER_COLUMNS,
            Self::Pois => POI_COLUMNS,
            Self::Shelters => SHELTER_COLUMNS,
        }
    }

    /// The GeoPackage geometry type name declared for the layer's geometry column.
    pub fn geometry_type_name(self) -> &'static str {
        match self {
            Self::Cadastral | Self::Buildings => "MULTIPOLYGON",
            Self::Pipelines | Self::Roads | Self::Railways => "MULTILINESTRING",
            Self::Pois | Self::Shelters => "POINT",
            Self::Vector | Self::Incidents | Self::Water => "GEOMETRY",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use ColumnType::{Integer, Real, Text};
const CADASTRAL_COLUMNS: &[Column] = &[
    Column::new("parcel_no", Text),
    Column::new("section", Text),
    Column::new("county_code", Text),
    Column::new("town_code", Text),
    Column::new("land_use", Text),
    Column::new("area_m2", Real),
];
const PIPELINE_COLUMNS: &[Column] = &[
    Column::new("utility", Text),
    Column::new("owner", Text),
    Column::new("diameter_mm", Real),
    Column::new("depth_m", Real),
    Column::new("material", Text),
    Column::new("install_year", Integer),
    Column::new("status", Text),
];
const BUILDING_COLUMNS: &[Column] =
    &[Column::new("height_m", Real), Column::new("floors", Integer), Column::new("use", Text), Column::new("structure", Text), Column::new("name", Text)];
const VECTOR_COLUMNS: &[Column] = &[Column::new("name", Text), Column::new("class", Text)];
/// `oneway`, `bridge` and `tunnel` are 0/1; `level` is the vertical order (-1 under
/// ground, 1 on a viaduct).
const ROAD_COLUMNS: &[Column] = &[
    Column::new("name", Text),
    Column::new("class", Text),
    Column::new("width_m", Real),
    Column::new("oneway", Integer),
    Column::new("bridge", Integer),
    Column::new("tunnel", Integer),
    Column::new("level", Integer),
];
const RAILWAY_COLUMNS: &[Column] = &[Column::new("name", Text), Column::new("class", Text), Column::new("bridge", Integer), Column::new("tunnel", Integer)];
const WATER_COLUMNS: &[Column] = &[Column::new("name", Text), Column::new("class", Text)];
const POI_COLUMNS: &[Column] = &[Column::new("name", Text), Column::new("class", Text), Column::new("address", Text)];
/// `disasters`: the hazards served, comma-separated (flood, earthquake, landslide,
/// tsunami, fire).
const SHELTER_COLUMNS: &[Column] =
    &[Column::new("name", Text), Column::new("capacity", Integer), Column::new("address", Text), Column::new("type", Text), Column::new("disasters", Text)];
const INCIDENT_COLUMNS: &[Column] =
    &[Column::new("type", Text), Column::new("severity", Integer), Column::new("time", Text), Column::new("description", Text), Column::new("reporter", Text)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Real,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Text => "TEXT",
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
}

impl Column {
    const fn new(name: &'static str, ty: ColumnType) -> Self {
        Self { name, ty }
    }
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A position: longitude, latitude in degrees (WGS84) and, for 3D data, z in metres.
pub type Coord = [f64; 3];
pub type Ring = Vec<Coord>;

/// Geometry as the store keeps it: WGS84 lon/lat, optional z, always the "multi" form
/// for lines and polygons so that one layer has one geometry type.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Coord),
    MultiPoint(Vec<Coord>),
    MultiLineString(Vec<Vec<Coord>>),
    /// Polygons, each a list of rings: the exterior first, then holes.
    MultiPolygon(Vec<Vec<Ring>>),
}

impl Geometry {
    /// Every coordinate, in order.
    pub fn coords(&self) -> Box<dyn Iterator<Item = &Coord> + '_> {
        match self {
            Geometry::Point(c) => Box::new(std::iter::once(c)),
            Geometry::MultiPoint(v) => Box::new(v.iter()),
            Geometry::MultiLineString(v) => Box::new(v.iter().flatten()),
            Geometry::MultiPolygon(v) => Box::new(v.iter().flatten().flatten()),
        }
    }

    pub fn coords_mut(&mut self) -> Box<dyn Iterator<Item = &mut Coord> + '_> {
        match self {
            Geometry::Point(c) => Box::new(std::iter::once(c)),
            Geometry::MultiPoint(v) => Box::new(v.iter_mut()),
            Geometry::MultiLineString(v) => Box::new(v.iter_mut().flatten()),
            Geometry::MultiPolygon(v) => Box::new(v.iter_mut().flatten().flatten()),
        }
    }

    /// The 2D bounding box, or None for an empty geometry.
    pub fn envelope(&self) -> Option<Envelope> {
        let mut env: Option<Envelope> = None;
        for c in self.coords() {
            env = Some(match env {
                None => Envelope { min_x: c[0], min_y: c[1], max_x: c[0], max_y: c[1] },
                Some(e) => e.expand(c[0], c[1]),
            });
        }
        env
    }

    pub fn is_empty(&self) -> bool {
        self.coords().next().is_none()
    }

    /// Converts to `geo-types` for 2D algorithms (z is dropped).
    pub fn to_geo(&self) -> geo_types::Geometry<f64> {
        use geo_types as g;
        let ls = |v: &Vec<Coord>| g::LineString::from(v.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>());
        match self {
            Geometry::Point(c) => g::Point::new(c[0], c[1]).into(),
            Geometry::MultiPoint(v) => g::MultiPoint::from(v.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>()).into(),
            Geometry::MultiLineString(v) => g::MultiLineString::new(v.iter().map(ls).collect()).into(),
            Geometry::MultiPolygon(v) => {
                g::MultiPolygon::new(v.iter().filter(|rings| !rings.is_empty()).map(|rings| g::Polygon::new(ls(&rings[0]), rings[1..].iter().map(ls).collect())).collect()).into()
            }
        }
    }
}

/// An axis-aligned 2D box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Envelope {
    pub fn expand(self, x: f64, y: f64) -> Self {
        Self { min_x: self.min_x.min(x), min_y: self.min_y.min(y), max_x: self.max_x.max(x), max_y: self.max_y.max(y) }
    }
    pub fn union(self, o: Envelope) -> Self {
        Self { min_x: self.min_x.min(o.min_x), min_y: self.min_y.min(o.min_y), max_x: self.max_x.max(o.max_x), max_y: self.max_y.max(o.max_y) }
    }
    pub fn intersects(&self, o: &Envelope) -> bool {
        self.min_x <= o.max_x && o.min_x <= self.max_x && self.min_y <= o.max_y && o.min_y <= self.max_y
    }
}

/// A feature ready to be written: geometry in WGS84 and the kind's columns in order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeature {
    pub geometry: Geometry,
    /// One value per column of the layer's kind, in `LayerKind::columns` order.
    pub values: Vec<Value>,
    /// Source attributes that map to no column, kept as a JSON object (original names).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Why a feature does not fit its layer (the checks every backend makes before writing).
enum Unfit {
    ValueCount { given: usize, columns: usize },
    EmptyGeometry,
    NonFiniteCoordinates,
}

impl NewFeature {
    fn fit(&self, kind: LayerKind) -> Result<(Envelope, Option<String>), Unfit> {
        let columns = kind.columns().len();
        if self.values.len() != columns {
            return Err(Unfit::ValueCount { given: self.values.len(), columns });
        }
        let env = self.geometry.envelope().ok_or(Unfit::EmptyGeometry)?;
        if [env.min_x, env.min_y, env.max_x, env.max_y].iter().any(|v| !v.is_finite()) {
            return Err(Unfit::NonFiniteCoordinates);
        }
        let extras = (!self.extra.is_empty()).then(|| serde_json::Value::Object(self.extra.clone()).to_string());
        Ok((env, extras))
    }

    /// Checks that the feature fits a `kind` layer, for an import: one value per column, a
    /// geometry with finite coordinates. Returns its envelope and its extras as stored (a
    /// JSON object), if any.
    pub(crate) fn checked_for_import(&self, kind: LayerKind) -> Result<(Envelope, Option<String>), crate::StoreError> {
        self.fit(kind).map_err(|u| {
            crate::StoreError::Schema(match u {
                Unfit::ValueCount { given, columns } => format!("{given} values given for the {columns} columns of a {kind} layer"),
                Unfit::EmptyGeometry => "empty geometry".into(),
                Unfit::NonFiniteCoordinates => "geometry has non-finite coordinates".into(),
            })
        })
    }

    /// The same checks for a live edit, whose client hears of both geometry faults alike.
    pub(crate) fn checked_for_edit(&self, kind: LayerKind) -> Result<(Envelope, Option<String>), crate::StoreError> {
        self.fit(kind).map_err(|u| {
            crate::StoreError::Schema(match u {
                Unfit::ValueCount { given, columns } => format!("{given} values given for the {columns} columns of a {kind} layer"),
                Unfit::EmptyGeometry | Unfit::NonFiniteCoordinates => "the geometry is empty or has non-finite coordinates".into(),
            })
        })
    }
}

/// A feature read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: i64,
    pub geometry: Geometry,
    /// Column name → value, the kind's columns first, then the extra source attributes
    /// (when read). Column names are borrowed: a tile reads thousands of rows.
    pub properties: Vec<(Cow<'static, str>, Value)>,
}

impl Feature {
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// What the catalogue knows about one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub name: String,
    /// "cadastral", "pipelines", "buildings", "vector", "incidents", "terrain" or "imagery".
    pub kind: String,
    pub source: String,
    /// The CRS the source data was in (e.g. "EPSG:3826"); the store itself is EPSG:4326.
    pub source_crs: String,
    pub imported_at: String,
    pub feature_count: u64,
    pub has_z: bool,
    pub extent: Option<Envelope>,
    pub details: serde_json::Value,
    /// For tile pyramids (terrain, imagery): their deepest zoom level.
    #[serde(skip)]
    pub max_zoom: Option<u8>,
}

impl LayerInfo {
    pub fn feature_kind(&self) -> Option<LayerKind> {
        LayerKind::parse(&self.kind)
    }
}

/// Which attributes [`FeatureLayer::features`](crate::FeatureLayer::features) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attributes {
    /// The kind's typed columns only.
    Typed,
    /// The typed columns and the source attributes that map to no column.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// The layer's previous contents are replaced (atomically, at commit).
    Replace,
    /// Features are added to the layer's existing contents.
    Append,
}

#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub layer: String,
    pub kind: LayerKind,
    pub mode: ImportMode,
    pub source: String,
    pub source_crs: String,
    pub has_z: bool,
}

/// Names that would collide with GeoPackage or SQLite internals are refused.
pub fn validate_layer_name(name: &str) -> Result<(), crate::StoreError> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let ok_start = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let reserved = ["gpkg_", "rtree_", "sqlite_", "formosa_"].iter().any(|p| name.starts_with(p)) || name == "terrain";
    if !ok_chars || !ok_start || name.len() > 63 || reserved {
        return Err(crate::StoreError::BadLayerName(name.to_string()));
    }
    Ok(())
}

/// Column types accepted for a value, for callers that build `NewFeature`s.
pub fn coerce(value: Value, ty: ColumnType) -> Value {
    // A real is an integer only when it is whole and exactly representable (|r| < 2^53);
    // 5.86 floors or 1e308 years are no integer (found by the attribute fuzzer).
    let whole = |r: f64| (r.is_finite() && r.fract() == 0.0 && r.abs() < 9.007e15).then_some(Value::Integer(r as i64));
    match (value, ty) {
        (Value::Text(s), ColumnType::Integer) => {
            s.trim().parse::<i64>().map(Value::Integer).unwrap_or_else(|_| s.trim().parse::<f64>().ok().and_then(whole).unwrap_or(Value::Null))
        }
        (Value::Text(s), ColumnType::Real) => s.trim().parse::<f64>().ok().filter(|r| r.is_finite()).map_or(Value::Null, Value::Real),
        (Value::Real(r), ColumnType::Integer) => whole(r).unwrap_or(Value::Null),
        (Value::Real(r), ColumnType::Text) => Value::Text(r.to_string()),
        (Value::Integer(i), ColumnType::Real) => Value::Real(i as f64),
        (Value::Integer(i), ColumnType::Text) => Value::Text(i.to_string()),
        (v, _) => v,
    }
}

/// One import in progress.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportProgress {
    pub layer: String,
    /// The layer kind (`buildings`, `cadastral`, …), `terrain` or `imagery`.
    pub kind: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// What the importer has done, in the units of its source: features read for vector
    /// layers, deepest-zoom tiles for terrain and imagery (the progress bar's counts).
    pub rows_done: u64,
    /// The same, in total, when the source says (a shapefile's or GeoPackage's count).
    pub rows_total: Option<u64>,
    pub pid: u32,
    pub host: String,
}
