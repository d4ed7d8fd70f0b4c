"""The style's zoom ranges hold in WMS maps: parcels (and the buildings' extrusions) from
MapLibre zoom 15, flat buildings from zoom 13. A map's zoom is its Web Mercator resolution
at its centre (MapLibre's 512-px zoom levels)."""

import math
import urllib.parse

from support import BUILDING_FLAT, CENTRE_LONLAT, GeoImage, check_buildings, check_parcel_lines, colour_distance, lonlat_to_3826

MERCATOR_Z0 = 2 * math.pi * 6378137 / 512  # metres per pixel at MapLibre zoom 0


def ground_resolution(zoom):
    return MERCATOR_Z0 / 2 ** zoom * math.cos(math.radians(CENTRE_LONLAT[1]))


def getmap(get, base, res, size=(800, 700)):
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    w, h = size
    box = (x - w * res / 2, y - h * res / 2, x + w * res / 2, y + h * res / 2)
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "basemap", "STYLES": "", "CRS": "EPSG:3826",
              "BBOX": ",".join(repr(v) for v in box), "WIDTH": w, "HEIGHT": h, "FORMAT": "image/png"}
    r = get(f"{base}/wms?" + urllib.parse.urlencode(params))
    assert r.status == 200 and r.content_type == "image/png"
    return GeoImage.from_bytes(r.body, box, 3826)


def flat_share(img, store):
    """Of the building samples, how many are drawn in the flat fill colour exactly."""
    flat = total = 0
    for s in store.building_samples(img.res_m()):
        c, r = img.pixel_of(s.x, s.y)
        if img.inside(c, r, 4):
            total += 1
            flat += colour_distance(img.at(c, r)[:3], [BUILDING_FLAT]) <= 6
    assert total >= 10
    return flat / total


def test_below_zoom_15_no_parcels_and_flat_buildings(base, get, store):
    img = getmap(get, base, ground_resolution(14.6))
    lines = check_parcel_lines(img, store)
    assert lines.total >= 10 and lines.rate <= 0.1, f"parcel lines drawn below their minzoom 15: {lines}"
    b = check_buildings(img, store)
    assert b.rate >= 0.85, str(b)
    assert flat_share(img, store) >= 0.85, "below zoom 15 buildings are the flat fill #d9d0c1 (no extrusion)"


def test_from_zoom_15_parcels_and_extruded_roofs(base, get, store):
    img = getmap(get, base, ground_resolution(15.6))
    lines = check_parcel_lines(img, store)
    assert lines.total >= 10 and lines.rate >= 0.85, str(lines)
    b = check_buildings(img, store)
    assert b.rate >= 0.85, str(b)
    assert flat_share(img, store) <= 0.1, "from zoom 15 the extrusion's roof covers the flat fill"


def test_buildings_from_zoom_13(base, get, store):
    """The buildings layer alone, transparent: nothing at zoom 12.7, the buildings at 13.3."""
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    images = {}
    for zoom in (12.7, 13.3):
        res = ground_resolution(zoom)
        box = (x - 100 * res, y - 100 * res, x + 100 * res, y + 100 * res)  # inside the store area read (AOI)
        params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "buildings", "STYLES": "", "CRS": "EPSG:3826",
                  "BBOX": ",".join(repr(v) for v in box), "WIDTH": 200, "HEIGHT": 200, "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
        r = get(f"{base}/wms?" + urllib.parse.urlencode(params))
        assert r.status == 200 and r.content_type == "image/png"
        images[zoom] = GeoImage.from_bytes(r.body, box, 3826)
    assert (images[12.7].rgba[:, :, 3] == 0).all(), "buildings drawn below their minzoom 13"
    img = images[13.3]
    assert (img.rgba[:, :, 3] > 0).mean() > 0.02
    # Where something is drawn, the store has a building (within a pixel).
    ys, xs = (img.rgba[:, :, 3] == 255).nonzero()
    step = max(1, len(xs) // 200)
    res = img.res_m()
    misses = []
    for r, c in zip(ys[::step], xs[::step]):
        px, py = img.gt[0] + (c + 0.5) * img.gt[1], img.gt[2] + (r + 0.5) * img.gt[3]
        if not store.building_index.near(px, py, 1.5 * res):
            misses.append((int(c), int(r)))
    assert len(misses) <= 2, f"opaque pixels with no building in the store: {misses[:10]}"
