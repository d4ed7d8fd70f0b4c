"""A WMTS tile is the map of its box: the same pixels as a WMS GetMap of that box, CRS and
size, and neighbouring tiles meet without seams. (At these levels — TWD97 11, MapLibre
zoom ≈ 15.7, and Google 17, zoom 16 — the style draws no labels, the one thing tiles place
differently: they also place labels whose anchor is just outside the tile.)"""

import urllib.parse

import numpy as np
import pytest

from support import CENTRE_LONLAT, decode, transformer


@pytest.mark.parametrize("tms,level,crs", [("TWD97", 11, "EPSG:3826"), ("GoogleMapsCompatible", 17, "EPSG:3857")])
def test_tiles_equal_getmap_of_their_box(base, get, matrices, tms, level, crs):
    m = matrices[tms][level]
    x, y = transformer(4326, int(crs.split(":")[1]))(*CENTRE_LONLAT)
    row0, col0, _ = m.tile_at(x, y)
    report = []
    for row in (row0 - 1, row0, row0 + 1):
        for col in (col0 - 1, col0, col0 + 1):
            span = m.tile * m.res
            x0, y1 = m.origin[0] + col * span, m.origin[1] - row * span
            box = (x0, y1 - span, x0 + span, y1)
            tile = decode(get(f"{base}/wmts/1.0.0/basemap/default/{tms}/{m.id}/{row}/{col}.png").body).astype(int)
            params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "basemap", "STYLES": "", "CRS": crs,
                      "BBOX": ",".join(repr(v) for v in box), "WIDTH": m.tile, "HEIGHT": m.tile, "FORMAT": "image/png"}
            wms = decode(get(f"{base}/wms?" + urllib.parse.urlencode(params)).body).astype(int)
            diff = np.abs(tile - wms).max(axis=2)
            # Anti-aliasing may differ by a unit or two where the box's last bits differ.
            bad = np.argwhere(diff > 24)
            if len(bad):
                r, c = bad[0]
                report.append(f"tile {row}/{col}: {len(bad)} px differ, e.g. ({c}, {r}) tile {tile[r, c].tolist()} vs GetMap {wms[r, c].tolist()}")
    assert not report, "\n".join(report)
