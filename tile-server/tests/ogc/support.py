"""Shared helpers for the OGC real-client tests: the store's own geometry (read back with
GDAL, never from the server), geo-referenced images, and what the style says a parcel
line or a building looks like.

Everything the server draws is checked against where the *store* says things are: sample
points are taken from the GeoPackage with `ogr2ogr`, reprojected by PROJ (osr), and looked
up in the image the client got back. Each check counts hits over many samples and also
looks at control points where the thing must *not* be, so a blank, shifted, flipped or
mis-scaled image fails."""

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent

# The bundled fixtures are around Taipei 101 (121.5645, 25.034), 信義區. The maps here are
# centred 1.5 km west-south-west of it: parcels and buildings all round, and no imagery
# layer under them (an orthophoto shows through the translucent parcel fills and would
# make "open ground" any colour; `StoreData.load` checks that none is there).
CENTRE_LONLAT = (121.5495, 25.029)
# Every map the tests ask for stays inside this box (about 1.2 km × 1.1 km).
MAP_AREA_LONLAT = (CENTRE_LONLAT[0] - 0.006, CENTRE_LONLAT[1] - 0.005, CENTRE_LONLAT[0] + 0.006, CENTRE_LONLAT[1] + 0.005)
# The part of the store the tests read (lon/lat): about 2.2 km × 2 km around the centre.
AOI_LONLAT = (CENTRE_LONLAT[0] - 0.011, CENTRE_LONLAT[1] - 0.009, CENTRE_LONLAT[0] + 0.011, CENTRE_LONLAT[1] + 0.009)

STYLE = json.loads((REPO / "styles" / "basemap.json").read_text())


def style_layer(layer_id):
    return next(l for l in STYLE["layers"] if l["id"] == layer_id)


def hex_rgb(s):
    s = s.lstrip("#")
    return np.array([int(s[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


PARCEL_LINE = hex_rgb(style_layer("parcel-lines")["paint"]["line-color"])  # #b5893f
BUILDING_FLAT = hex_rgb(style_layer("buildings-flat")["paint"]["fill-color"])  # #d9d0c1


def extrusion_color(height):
    """buildings-3d fill-extrusion-color: ["interpolate", ["linear"], ["get", "height_m"], …]."""
    expr = style_layer("buildings-3d")["paint"]["fill-extrusion-color"]
    assert expr[0] == "interpolate" and expr[2] == ["get", "height_m"], expr
    stops = [(expr[i], hex_rgb(expr[i + 1])) for i in range(3, len(expr), 2)]
    if height <= stops[0][0]:
        return stops[0][1]
    for (h0, c0), (h1, c1) in zip(stops, stops[1:]):
        if height <= h1:
            t = (height - h0) / (h1 - h0)
            return c0 + t * (c1 - c0)
    return stops[-1][1]


def building_palette(height):
    """The colours a building's inside may have in the base map: the flat fill (MapLibre
    zoom 13–15), or from zoom 15 the extrusion's roof at opacity 0.85 over the flat fill.
    MapLibre lights a roof with its default light: about the style colour, from 0.88× it
    to it plus 3 % (what its shader does for light and dark colours)."""
    opacity = style_layer("buildings-3d")["paint"]["fill-extrusion-opacity"]
    ext = extrusion_color(height)
    out = [BUILDING_FLAT]
    for k in np.linspace(0.88, 1.0, 5):
        for offset in (0.0, 0.03 * 255):
            roof = np.minimum((ext + offset) * k, 255)
            out.append(opacity * roof + (1 - opacity) * BUILDING_FLAT)
    return np.array(out)


def colour_distance(rgb, palette):
    return float(np.min(np.linalg.norm(np.asarray(palette, float) - np.asarray(rgb, float)[:3], axis=-1)))


# ---------------------------------------------------------------- the store, via GDAL


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def transformer(src_epsg, dst_epsg):
    t = osr.CoordinateTransformation(srs(src_epsg), srs(dst_epsg))

    def f(x, y):
        p = t.TransformPoint(x, y)
        return p[0], p[1]

    return f


def lonlat_to_3826(lon, lat):
    return transformer(4326, 3826)(lon, lat)


@dataclass
class Feature:
    fid: int
    props: dict
    geom: ogr.Geometry  # EPSG:3826


def read_layer(gpkg, layer, bbox=AOI_LONLAT):
    """The layer's features over `bbox`, in EPSG:3826, as `ogr2ogr -f GeoJSON` writes them."""
    out = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "-preserve_fid", "-t_srs", "EPSG:3826", "-spat", *map(str, bbox), "-spat_srs", "EPSG:4326", "/vsistdout/", str(gpkg), layer],
        check=True, capture_output=True, text=True,
    ).stdout
    features = []
    for f in json.loads(out)["features"]:
        if f["geometry"] is None:
            continue
        g = ogr.CreateGeometryFromJson(json.dumps(f["geometry"]))
        features.append(Feature(int(f["id"]), f["properties"], g))
    features.sort(key=lambda f: f.fid)
    return features


class Index:
    """Geometries with their envelopes, to ask "is anything within d of this point?"."""

    def __init__(self, geoms):
        self.geoms = list(geoms)
        env = np.array([g.GetEnvelope() for g in self.geoms]).reshape(-1, 4)  # minx, maxx, miny, maxy
        self.env = env

    def distance(self, x, y, within):
        """The distance from (x, y) to the nearest geometry, if below `within`; else `within`."""
        e = self.env
        near = np.nonzero((e[:, 0] - within <= x) & (e[:, 1] + within >= x) & (e[:, 2] - within <= y) & (e[:, 3] + within >= y))[0]
        best = within
        if len(near):
            pt = point(x, y)
            for i in near:
                best = min(best, pt.Distance(self.geoms[i]))
        return best

    def near(self, x, y, d):
        return self.distance(x, y, d) < d


@dataclass
class Sample:
    x: float  # EPSG:3826
    y: float
    feature: Feature = None
    normal: tuple = None  # unit normal of a boundary, for side checks


@dataclass
class StoreData:
    gpkg: Path
    parcels: list = field(default_factory=list)
    buildings: list = field(default_factory=list)
    pipelines: list = field(default_factory=list)

    @classmethod
    def load(cls, gpkg):
        d = cls(Path(gpkg), read_layer(gpkg, "cadastral"), read_layer(gpkg, "buildings"), read_layer(gpkg, "pipelines"))
        assert len(d.parcels) > 100 and len(d.buildings) > 50 and len(d.pipelines) > 10, "the demo store should hold the fixtures"
        for name, box in raster_extents(gpkg).items():
            m = MAP_AREA_LONLAT
            overlaps = box[0] < m[2] and m[0] < box[2] and box[1] < m[3] and m[1] < box[3]
            assert name == "terrain" or not overlaps, (
                f"raster layer {name!r} {box} lies under the tests' maps {m}: move CENTRE_LONLAT in support.py to where no imagery is")
        d.building_index = Index(b.geom for b in d.buildings)
        d.pipeline_index = Index(p.geom for p in d.pipelines)
        d.boundary_index = Index(p.geom.Boundary() for p in d.parcels)
        d._samples = {}
        return d

    def _cached(self, key, make):
        if key not in self._samples:
            self._samples[key] = make()
        return self._samples[key]

    def parcels_at(self, x, y):
        pt = point(x, y)
        return [p for p in self.parcels if p.geom.Contains(pt)]

    def building_samples(self, res_m, inset_px=3.0, clear_px=5.0):
        """A point deep inside each building (≥ inset_px from its edge), clear of pipelines
        (drawn above buildings)."""
        return self._cached(("b", round(res_m, 3), inset_px, clear_px), lambda: self._building_samples(res_m, inset_px, clear_px))

    def _building_samples(self, res_m, inset_px, clear_px):
        out = []
        for b in self.buildings:
            inner = b.geom.Buffer(-inset_px * res_m)
            if inner is None or inner.IsEmpty():
                continue
            p = inner.PointOnSurface()
            if self.pipeline_index.near(p.GetX(), p.GetY(), clear_px * res_m):
                continue
            out.append(Sample(p.GetX(), p.GetY(), b))
        return out

    def boundary_samples(self, res_m, clear_px=5.0, side_px=4.0):
        """Midpoints of parcel edges long enough to see, away from buildings and pipelines
        (drawn above parcel lines), with their normal: the pixels `side_px` either side
        must be off every line."""
        return self._cached(("l", round(res_m, 3), clear_px, side_px), lambda: self._boundary_samples(res_m, clear_px, side_px))

    def _boundary_samples(self, res_m, clear_px, side_px):
        out = []
        seen = set()
        for p in self.parcels:
            for poly in _polygons(p.geom):
                ring = poly.GetGeometryRef(0)
                pts = ring.GetPoints()
                for (x0, y0, *_), (x1, y1, *_) in zip(pts, pts[1:]):
                    length = math.hypot(x1 - x0, y1 - y0)
                    if length < 4 * clear_px * res_m:
                        continue
                    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
                    key = (round(mx / res_m), round(my / res_m))
                    if key in seen:  # the neighbour's copy of the same edge
                        continue
                    seen.add(key)
                    if self.building_index.near(mx, my, clear_px * res_m) or self.pipeline_index.near(mx, my, clear_px * res_m):
                        continue
                    n = (-(y1 - y0) / length, (x1 - x0) / length)
                    sides_clear = not any(
                        index.near(mx + s * n[0] * side_px * res_m, my + s * n[1] * side_px * res_m, 2.0 * res_m)
                        for s in (-1, 1)
                        for index in (self.boundary_index, self.building_index, self.pipeline_index)
                    )
                    if sides_clear:
                        out.append(Sample(mx, my, p, n))
        return out

    def open_samples(self, res_m, clear_px=6.0):
        """Points inside parcels, clear of parcel lines, buildings and pipelines."""
        return self._cached(("o", round(res_m, 3), clear_px), lambda: self._open_samples(res_m, clear_px))

    def _open_samples(self, res_m, clear_px):
        out = []
        for p in self.parcels:
            inner = p.geom.Buffer(-clear_px * res_m)
            if inner is None or inner.IsEmpty():
                continue
            q = inner.PointOnSurface()
            if any(i.near(q.GetX(), q.GetY(), clear_px * res_m) for i in (self.building_index, self.pipeline_index, self.boundary_index)):
                continue
            out.append(Sample(q.GetX(), q.GetY(), p))
        return out


def raster_extents(gpkg):
    """{raster table: (min lon, min lat, max lon, max lat)} of the store's rasters (DEM, imagery)."""
    if str(gpkg).startswith("PG:"):
        # PostGIS pyramids are Formosa's own tables, not GDAL rasters: their extents are in
        # the catalogue table, which GDAL reads like any other.
        ds = ogr.Open(str(gpkg))
        rows = ds.ExecuteSQL("SELECT name, min_x, min_y, max_x, max_y FROM formosa_layers WHERE kind IN ('terrain', 'imagery')")
        out = {f.GetField(0): tuple(f.GetField(i) for i in range(1, 5)) for f in rows}
        ds.ReleaseResultSet(rows)
        return out
    ds = gdal.Open(str(gpkg))
    out = {}
    for key, value in (ds.GetMetadata("SUBDATASETS") or {}).items():
        if not key.endswith("_NAME"):
            continue
        r = gdal.Open(value)
        gt, w, h = r.GetGeoTransform(), r.RasterXSize, r.RasterYSize
        to_lonlat = osr.CoordinateTransformation(r.GetSpatialRef(), srs(4326))
        xs, ys = [], []
        for px, py in ((0, 0), (w, 0), (0, h), (w, h)):
            lon, lat, _ = to_lonlat.TransformPoint(gt[0] + px * gt[1], gt[3] + py * gt[5])
            xs.append(lon)
            ys.append(lat)
        out[value.rsplit(":", 1)[1]] = (min(xs), min(ys), max(xs), max(ys))
    return out


def point(x, y):
    g = ogr.Geometry(ogr.wkbPoint)
    g.AddPoint_2D(x, y)
    return g


def _polygons(g):
    if g.GetGeometryType() in (ogr.wkbPolygon, ogr.wkbPolygon25D):
        return [g]
    return [g.GetGeometryRef(i) for i in range(g.GetGeometryCount())]


# ---------------------------------------------------------------- geo-referenced images


class GeoImage:
    """An RGBA raster and the affine transform from its CRS to pixels (x0, dx, y0, dy as
    in a GDAL geotransform, no rotation). `epsg` is the CRS of the transform; for EPSG:4326
    the transform is in longitude/latitude (x = lon)."""

    def __init__(self, rgba, geotransform, epsg):
        self.rgba = rgba  # (h, w, 4) uint8
        self.gt = geotransform
        self.epsg = epsg
        self.height, self.width = rgba.shape[:2]
        self._from_3826 = transformer(3826, epsg) if epsg != 3826 else (lambda x, y: (x, y))

    @classmethod
    def from_dataset(cls, ds, epsg=None):
        arr = ds.ReadAsArray()  # (bands, h, w)
        if arr.ndim == 2:
            arr = arr[None]
        bands = arr.shape[0]
        if bands == 1:
            arr = np.repeat(arr, 3, axis=0)
            bands = 3
        if bands == 3:
            arr = np.concatenate([arr, np.full((1,) + arr.shape[1:], 255, arr.dtype)])
        rgba = np.transpose(arr[:4], (1, 2, 0)).astype(np.uint8)
        if epsg is None:
            s = osr.SpatialReference(wkt=ds.GetProjection())
            s.AutoIdentifyEPSG()
            epsg = int(s.GetAuthorityCode(None))
        gt = ds.GetGeoTransform()
        return cls(rgba, (gt[0], gt[1], gt[3], gt[5]), epsg)

    @classmethod
    def from_bytes(cls, data, bbox, epsg):
        """An image a server sent for a map of `bbox` (minx, miny, maxx, maxy in x/y order)."""
        rgba = decode(data)
        h, w = rgba.shape[:2]
        return cls(rgba, (bbox[0], (bbox[2] - bbox[0]) / w, bbox[3], -(bbox[3] - bbox[1]) / h), epsg)

    @classmethod
    def from_file(cls, path, bbox, epsg):
        return cls.from_bytes(Path(path).read_bytes(), bbox, epsg)

    def res_m(self):
        """Ground metres per pixel (roughly, at the centre: enough for margins)."""
        if self.epsg == 4326:
            return abs(self.gt[1]) * 111_320 * math.cos(math.radians(self.gt[2]))
        if self.epsg == 3857:
            return abs(self.gt[1]) * math.cos(math.radians(CENTRE_LONLAT[1]))
        return abs(self.gt[1])

    def pixel_of(self, x3826, y3826):
        """Fractional pixel position (column, row) of an EPSG:3826 point."""
        x, y = self._from_3826(x3826, y3826)
        return (x - self.gt[0]) / self.gt[1], (y - self.gt[2]) / self.gt[3]

    def inside(self, c, r, margin):
        return margin <= c < self.width - margin and margin <= r < self.height - margin

    def at(self, c, r):
        return self.rgba[int(math.floor(r)), int(math.floor(c))]

    def window(self, c, r, half=1):
        ci, ri = int(math.floor(c)), int(math.floor(r))
        return self.rgba[max(ri - half, 0):ri + half + 1, max(ci - half, 0):ci + half + 1].reshape(-1, 4)


def decode(data):
    """PNG/JPEG/WebP bytes → (h, w, 4) uint8, with GDAL."""
    name = f"/vsimem/decode-{id(data)}"
    gdal.FileFromMemBuffer(name, bytes(data))
    try:
        ds = gdal.Open(name)
        arr = ds.ReadAsArray()
        ds = None
    finally:
        gdal.Unlink(name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    if arr.shape[0] == 2:  # grey + alpha
        arr = np.concatenate([np.repeat(arr[:1], 3, axis=0), arr[1:]])
    if arr.shape[0] == 3:
        arr = np.concatenate([arr, np.full((1,) + arr.shape[1:], 255, arr.dtype)])
    return np.transpose(arr, (1, 2, 0)).astype(np.uint8)


# ---------------------------------------------------------------- what the image shows


@dataclass
class Tally:
    """How many samples showed the thing (`hits`), and notes on the first samples that
    went against `expected` (misses when looking for it, hits on a control)."""

    what: str
    expected: bool = True
    hits: int = 0
    total: int = 0
    notes: list = field(default_factory=list)

    def add(self, shown, note):
        self.total += 1
        self.hits += bool(shown)
        if bool(shown) != self.expected and len(self.notes) < 8:
            self.notes.append(note)

    @property
    def rate(self):
        return self.hits / self.total if self.total else 0.0

    def __str__(self):
        return f"{self.what}: {self.hits}/{self.total} ({self.rate:.0%}); {'misses' if self.expected else 'hits'} (fid, column, row, colour…): {self.notes}"


def is_building_pixel(rgb, height, tolerance=14.0):
    return colour_distance(rgb, building_palette(height)) <= tolerance


ANY_BUILDING = np.concatenate([building_palette(h) for h in range(0, 340, 5)])


def looks_like_building(rgb, tolerance=14.0):
    return colour_distance(rgb, ANY_BUILDING) <= tolerance


def check_buildings(img, store, limit=60, margin_px=4):
    """Building insides (from the store) drawn in a building colour."""
    t = Tally("building pixels")
    for s in store.building_samples(img.res_m()):
        c, r = img.pixel_of(s.x, s.y)
        if not img.inside(c, r, margin_px):
            continue
        rgb = img.at(c, r)
        h = s.feature.props.get("height_m") or 3.3
        t.add(is_building_pixel(rgb[:3], h) and rgb[3] > 200, (s.feature.fid, round(c), round(r), tuple(int(v) for v in rgb)))
        if t.total >= limit:
            break
    return t


def check_open_ground(img, store, limit=60, margin_px=6):
    """Control: points inside parcels, away from everything drawn as a line or a building,
    must not look like a building or a parcel line."""
    t = Tally("open ground looking like a building or a parcel line", expected=False)
    for s in store.open_samples(img.res_m()):
        c, r = img.pixel_of(s.x, s.y)
        if not img.inside(c, r, margin_px):
            continue
        rgb = img.at(c, r)
        looks = looks_like_building(rgb[:3]) or colour_distance(rgb[:3], [PARCEL_LINE]) < 60
        t.add(looks, (s.feature.fid, round(c), round(r), tuple(int(v) for v in rgb)))
        if t.total >= limit:
            break
    return t


def check_parcel_lines(img, store, limit=60, margin_px=8, side_px=4.0):
    """Parcel boundaries (from the store): a pixel within one of the boundary is markedly
    closer to the parcel-line colour than the pixels `side_px` either side of it."""
    t = Tally("parcel-line pixels")
    res = img.res_m()
    for s in store.boundary_samples(res, side_px=side_px):
        c, r = img.pixel_of(s.x, s.y)
        if not img.inside(c, r, margin_px):
            continue
        on = min(colour_distance(p[:3], [PARCEL_LINE]) for p in img.window(c, r, 1))
        sides = []
        for k in (-1, 1):
            cs, rs = img.pixel_of(s.x + k * s.normal[0] * side_px * res, s.y + k * s.normal[1] * side_px * res)
            sides.append(colour_distance(img.at(cs, rs)[:3], [PARCEL_LINE]))
        t.add(on + 25 < min(sides), (s.feature.fid, round(c), round(r), round(on), [round(v) for v in sides]))
        if t.total >= limit:
            break
    return t


def assert_map_shows_store(img, store, lines=True, min_samples=10):
    """The standard pixel check of a base-map image at MapLibre zoom ≥ 15."""
    b = check_buildings(img, store)
    assert b.total >= min_samples, f"too few building samples in the image: {b}"
    assert b.rate >= 0.85, str(b)
    o = check_open_ground(img, store)
    assert o.total >= min_samples, f"too few open-ground samples in the image: {o}"
    assert o.rate <= 0.1, str(o)
    if lines:
        p = check_parcel_lines(img, store)
        assert p.total >= min_samples, f"too few parcel-boundary samples in the image: {p}"
        assert p.rate >= 0.85, str(p)
    return b, o


# ---------------------------------------------------------------- WMTS tile matrices

WMTS_NS = {"wmts": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


@dataclass
class Matrix:
    id: str
    res: float  # CRS units per pixel: ScaleDenominator × 0.28 mm
    origin: tuple  # TopLeftCorner
    tile: int
    width: int  # MatrixWidth
    height: int  # MatrixHeight

    def tile_at(self, x, y):
        """(row, col) of the tile holding (x, y), and that tile's box."""
        span = self.tile * self.res
        col = int((x - self.origin[0]) // span)
        row = int((self.origin[1] - y) // span)
        x0, y0 = self.origin[0] + col * span, self.origin[1] - row * span
        return row, col, (x0, y0 - span, x0 + span, y0)


def wmts_matrices(capabilities):
    """{tile matrix set: [Matrix, …]} as a client reads them from the capabilities (lxml)."""
    out = {}
    for s in capabilities.findall("wmts:Contents/wmts:TileMatrixSet", WMTS_NS):
        out[s.findtext("ows:Identifier", namespaces=WMTS_NS)] = [
            Matrix(
                m.findtext("ows:Identifier", namespaces=WMTS_NS),
                float(m.findtext("wmts:ScaleDenominator", namespaces=WMTS_NS)) * 0.00028,
                tuple(map(float, m.findtext("wmts:TopLeftCorner", namespaces=WMTS_NS).split())),
                int(m.findtext("wmts:TileWidth", namespaces=WMTS_NS)),
                int(m.findtext("wmts:MatrixWidth", namespaces=WMTS_NS)),
                int(m.findtext("wmts:MatrixHeight", namespaces=WMTS_NS)),
            )
            for m in s.findall("wmts:TileMatrix", WMTS_NS)
        ]
    return out
