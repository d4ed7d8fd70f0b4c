"""QGIS (headless) as the client: the WMTS basemap layer loaded from the capabilities in
the TWD97 set (EPSG:3826) and in GoogleMapsCompatible (EPSG:3857), rendered to an image;
buildings and parcel lines must appear where the store has them. Each render runs in its
own process (qgis_render.py), so a QGIS crash fails one test, not the session."""

import json
import os
import subprocess

import pytest

from support import CENTRE_LONLAT, HERE, GeoImage, assert_map_shows_store, transformer



def render(base, tmp_path, crs, tile_matrix_set, extent, size):
    out = tmp_path / f"qgis-{tile_matrix_set}.png"
    uri = (f"contextualWMSLegend=0&crs={crs}&dpiMode=7&featureCount=10&format=image/png&layers=basemap&styles=default"
           f"&tileMatrixSet={tile_matrix_set}&url={base}/wmts/1.0.0/WMTSCapabilities.xml")
    args = {"uri": uri, "crs": crs, "extent": list(extent), "size": list(size), "out": str(out)}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    p = subprocess.run(["/usr/bin/python3", str(HERE / "qgis_render.py"), json.dumps(args)], capture_output=True, text=True, timeout=150, env=env, cwd=tmp_path)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert p.returncode == 0 and lines, f"QGIS render failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["valid"] and not result["errors"], result
    assert result["extent"] == pytest.approx(list(extent)), "QGIS should draw exactly the asked extent (same aspect as the image)"
    return out, result


@pytest.mark.parametrize("crs,tms,epsg", [("EPSG:3826", "TWD97", 3826), ("EPSG:3857", "GoogleMapsCompatible", 3857)])
def test_qgis_renders_the_wmts_basemap(base, store, tmp_path, crs, tms, epsg):
    x, y = transformer(4326, epsg)(*CENTRE_LONLAT)
    # 512 px across about 680 m on the ground: QGIS picks TWD97 level 11 (1.32 m) or
    # Google level 17 (1.19 m, 1.08 m on the ground) and scales its tiles to the map.
    half = 340 if epsg == 3826 else 375
    extent = (x - half, y - half, x + half, y + half)
    out, result = render(base, tmp_path, crs, tms, extent, (512, 512))
    assert result["layer_crs"] == crs
    img = GeoImage.from_file(out, extent, epsg)
    magenta = ((img.rgba[:, :, 0] == 255) & (img.rgba[:, :, 1] == 0) & (img.rgba[:, :, 2] == 255)).mean()
    assert magenta < 0.01, f"{magenta:.1%} of the map has no tile"
    assert_map_shows_store(img, store)
