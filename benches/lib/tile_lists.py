"""Tile lists for the side-by-side benches, the same in every script that uses them.

  python3 benches/lib/tile_lists.py parcels STORE OUTDIR
      tiles-mixed.txt   300 tiles a zoom, z12–z16, where the parcels are (the tiles of
                        every 500th parcel's centre), shuffled
      tiles-z15.txt     every z15 tile of those centres, shuffled
      edit-points.txt   200 of those centres (lon lat), for edits
  python3 benches/lib/tile_lists.py places STORE OUTDIR
      places.txt        2,000 parcel centres (lon lat), spread over the whole data set,
                        shuffled: where benches/surge.sh's clients look
  python3 benches/lib/tile_lists.py villages STORE OUTDIR
      tiles-villages.txt  400 tiles a zoom, z12–z16, anywhere on the island (a random
                          point in a random village's box), shuffled

STORE is a Formosa GeoPackage store; its R-tree gives the places. Seeded: the same store
gives the same lists.
"""
import math
import random
import sqlite3
import sys


def tile(lon, lat, z):
    n = 2 ** z
    r = math.radians(lat)
    return z, int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


def write(path, tiles):
    with open(path, "w") as f:
        f.writelines(f"{z}/{x}/{y}\n" for z, x, y in tiles)


def parcels(db, out):
    pts = db.execute("SELECT (minx+maxx)/2, (miny+maxy)/2 FROM rtree_cadastral_geom WHERE id % 500 = 0").fetchall()
    random.seed(7)
    mixed = []
    for z in range(12, 17):
        tiles = sorted({tile(lon, lat, z) for lon, lat in pts})
        random.shuffle(tiles)
        mixed += tiles[:300]
    random.shuffle(mixed)
    z15 = sorted({tile(lon, lat, 15) for lon, lat in pts})
    random.shuffle(z15)
    write(f"{out}/tiles-mixed.txt", mixed)
    write(f"{out}/tiles-z15.txt", z15)
    with open(f"{out}/edit-points.txt", "w") as f:
        f.writelines(f"{lon} {lat}\n" for lon, lat in random.sample(pts, 200))
    print(f"tile lists: z12–z16 mixed {len(mixed)} tiles, z15 {len(z15)} tiles")


def places(db, out):
    (count,) = db.execute("SELECT count(*) FROM rtree_cadastral_geom").fetchone()
    every = max(1, count // 2000)
    pts = db.execute(f"SELECT (minx+maxx)/2, (miny+maxy)/2 FROM rtree_cadastral_geom WHERE id % {every} = 0").fetchall()
    random.seed(13)
    random.shuffle(pts)
    with open(f"{out}/places.txt", "w") as f:
        f.writelines(f"{lon:.7f} {lat:.7f}\n" for lon, lat in pts[:2000])
    print(f"places: {min(len(pts), 2000)} parcel centres")


def villages(db, out):
    boxes = db.execute("SELECT minx, miny, maxx, maxy FROM rtree_villages_geom").fetchall()
    random.seed(11)
    tiles = []
    for z in range(12, 17):
        picked = set()
        while len(picked) < 400:
            x0, y0, x1, y1 = random.choice(boxes)
            picked.add(tile(random.uniform(x0, x1), random.uniform(y0, y1), z))
        tiles += sorted(picked)
    random.shuffle(tiles)
    write(f"{out}/tiles-villages.txt", tiles)
    print(f"tile list: villages z12–z16 {len(tiles)} tiles over the island")


if __name__ == "__main__":
    kind, store, out = sys.argv[1:4]
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    {"parcels": parcels, "places": places, "villages": villages}[kind](db, out)
