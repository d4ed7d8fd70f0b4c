"""GetMap in each of the five CRSs the capabilities list, over plain HTTP: the same place
on the ground shows the store's buildings and parcel lines whatever the CRS, and the
axis order is WMS 1.3.0's (EPSG:4326 latitude first, CRS:84 longitude first)."""

import urllib.parse

import pytest

from support import CENTRE_LONLAT, GeoImage, assert_map_shows_store, transformer


@pytest.mark.parametrize("crs,epsg", [("EPSG:3857", 3857), ("EPSG:4326", 4326), ("CRS:84", 4326), ("EPSG:3826", 3826), ("EPSG:3825", 3825)])
def test_getmap_shows_the_store_in_every_crs(base, get, store, crs, epsg):
    cx, cy = transformer(4326, epsg)(*CENTRE_LONLAT)  # x/y (lon/lat for the geographic ones)
    if epsg == 4326:
        hw, hh = 0.0035, 0.003
    elif epsg == 3857:
        hw, hh = 380, 330
    else:
        hw, hh = 350, 300
    box = (cx - hw, cy - hh, cx + hw, cy + hh)
    sent = (box[1], box[0], box[3], box[2]) if crs == "EPSG:4326" else box
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "basemap", "STYLES": "", "CRS": crs,
              "BBOX": ",".join(repr(v) for v in sent), "WIDTH": "700", "HEIGHT": "600", "FORMAT": "image/png"}
    r = get(f"{base}/wms?" + urllib.parse.urlencode(params))
    assert r.status == 200 and r.content_type == "image/png", (r.status, r.body[:300])
    img = GeoImage.from_bytes(r.body, box, epsg)
    assert (img.width, img.height) == (700, 600)
    assert_map_shows_store(img, store)
