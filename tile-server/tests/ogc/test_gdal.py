"""GDAL's own WMTS and WMS drivers as the client: gdalinfo lists what the capabilities
offer, gdal_translate cuts a geo-referenced image out of the services, and the image shows
buildings and parcel lines where the store (read back with ogr2ogr) has them."""

import json
import math
import os
import subprocess
import tempfile

import pytest
from osgeo import gdal

from support import CENTRE_LONLAT, GeoImage, assert_map_shows_store, lonlat_to_3826, transformer

# At least these (the store may hold more, e.g. imagery).
LAYERS = ["basemap", "terrain", "cadastral", "buildings", "pipelines", "towns", "counties", "incidents"]


def run(*args, timeout=120):
    """A GDAL command line tool; its WMS/WMTS tile cache off (it would write ./gdalwmscache)."""
    env = dict(os.environ, GDAL_HTTP_TIMEOUT="60", GDAL_ENABLE_WMS_CACHE="NO", GDAL_DEFAULT_WMS_CACHE_PATH=tempfile.gettempdir() + "/formosa-gdalwmscache")
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=tempfile.gettempdir())
    assert r.returncode == 0, f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr}\n{r.stdout[-2000:]}"
    return r.stdout


def test_gdalinfo_lists_every_layer_in_both_matrix_sets(base):
    out = run("gdalinfo", f"WMTS:{base}/wmts/1.0.0/WMTSCapabilities.xml")
    names = [l.split("=", 1)[1] for l in out.splitlines() if "_NAME=" in l]
    expected = {f"WMTS:{base}/wmts/1.0.0/WMTSCapabilities.xml,layer={l},tilematrixset={s}" for l in LAYERS for s in ("GoogleMapsCompatible", "TWD97")}
    assert expected <= set(names), out


def test_gdalinfo_reads_the_twd97_basemap_as_epsg_3826_at_1_to_1000(base, matrices):
    info = json.loads(run("gdalinfo", "-json", f"WMTS:{base}/wmts/1.0.0/WMTSCapabilities.xml,layer=basemap,tilematrixset=TWD97"))
    assert 'ID["EPSG",3826]' in info["coordinateSystem"]["wkt"]
    finest = matrices["TWD97"][-1]
    assert finest.id == "13"
    gt = info["geoTransform"]
    assert gt[1] == pytest.approx(finest.res, rel=1e-9) and gt[5] == pytest.approx(-finest.res, rel=1e-9)
    assert gt[1] == pytest.approx(1000 * 0.0254 / 96, rel=1e-5), "level 13 is 1:1000 at 96 dpi"
    # The layer's extent covers the store's data around Taipei 101.
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    w, h = info["size"]
    assert gt[0] < x < gt[0] + w * gt[1] and gt[3] + h * gt[5] < y < gt[3]
    assert len(info["bands"]) == 4 and info["bands"][3]["colorInterpretation"] == "Alpha"


def _check_grid(ds, level):
    """The cut-out sits on the matrix's pixel grid: its origin is a whole number of pixels
    from the matrix's top-left corner."""
    gt = ds.GetGeoTransform()
    res = level.res
    assert gt[1] == pytest.approx(res, rel=1e-9) and gt[5] == pytest.approx(-res, rel=1e-9), (gt, level)
    cols = (gt[0] - level.origin[0]) / res
    rows = (level.origin[1] - gt[3]) / res
    assert abs(cols - round(cols)) < 1e-3 and abs(rows - round(rows)) < 1e-3, (cols, rows)


def test_gdal_translate_twd97_tiles_show_the_store(base, store, matrices, tmp_path):
    level = matrices["TWD97"][11]  # 1:5000, MapLibre zoom ≈ 15.7: parcels and 3D buildings drawn
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    out = tmp_path / "twd97.tif"
    run("gdal_translate", "-q", "-oo", "TILEMATRIXSET=TWD97", "-oo", "ZOOM_LEVEL=11", "-projwin", str(x - 450), str(y + 350), str(x + 450), str(y - 350),
        f"WMTS:{base}/wmts/1.0.0/WMTSCapabilities.xml,layer=basemap", str(out))
    ds = gdal.Open(str(out))
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "3826"
    assert abs(ds.RasterXSize - 900 / level.res) <= 1 and abs(ds.RasterYSize - 700 / level.res) <= 1
    _check_grid(ds, level)
    gt = ds.GetGeoTransform()
    assert abs(gt[0] - (x - 450)) <= level.res and abs(gt[3] - (y + 350)) <= level.res
    assert_map_shows_store(GeoImage.from_dataset(ds), store)


def test_gdal_translate_google_tiles_show_the_store(base, store, matrices, tmp_path):
    level = matrices["GoogleMapsCompatible"][17]  # MapLibre zoom 16
    x, y = transformer(4326, 3857)(*CENTRE_LONLAT)
    out = tmp_path / "google.tif"
    run("gdal_translate", "-q", "-oo", "TILEMATRIXSET=GoogleMapsCompatible", "-oo", "ZOOM_LEVEL=17", "-projwin", str(x - 500), str(y + 400), str(x + 500), str(y - 400),
        f"WMTS:{base}/wmts/1.0.0/WMTSCapabilities.xml,layer=basemap", str(out))
    ds = gdal.Open(str(out))
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "3857"
    _check_grid(ds, level)
    assert level.res == pytest.approx(2 * math.pi * 6378137 / 256 / 2 ** 17, rel=1e-9)
    assert_map_shows_store(GeoImage.from_dataset(ds), store)


@pytest.mark.parametrize("crs", ["EPSG:3826", "EPSG:4326"])
def test_gdal_translate_from_the_wms_shows_the_store(base, store, tmp_path, crs):
    """GDAL's WMS driver with a GetMap URL. A square box read at 1024×1024 is exactly one of
    the driver's overview levels, so GDAL asks for that size and does not resample. For
    EPSG:4326 the BBOX is latitude first, as WMS 1.3.0 wants."""
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    if crs == "EPSG:3826":
        minx, miny, maxx, maxy = x - 400, y - 400, x + 400, y + 400
        bbox = f"{minx},{miny},{maxx},{maxy}"
    else:
        lon, lat = CENTRE_LONLAT
        minx, miny, maxx, maxy = lon - 0.004, lat - 0.004, lon + 0.004, lat + 0.004
        bbox = f"{miny},{minx},{maxy},{maxx}"
    out = tmp_path / "wms.tif"
    run("gdal_translate", "-q", "-outsize", "1024", "1024",
        f"WMS:{base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS={crs}&BBOX={bbox}&FORMAT=image/png", str(out))
    ds = gdal.Open(str(out))
    assert ds.GetSpatialRef().GetAuthorityCode(None) == crs.split(":")[1]
    gt = ds.GetGeoTransform()
    assert (ds.RasterXSize, ds.RasterYSize) == (1024, 1024)
    assert gt[0] == pytest.approx(minx) and gt[3] == pytest.approx(maxy)
    assert gt[1] == pytest.approx((maxx - minx) / 1024) and gt[5] == pytest.approx(-(maxy - miny) / 1024)
    assert_map_shows_store(GeoImage.from_dataset(ds, epsg=int(crs.split(":")[1])), store)
