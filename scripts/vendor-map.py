#!/usr/bin/env python3
"""Vendors what the dataset page's map draws with, from the npm registry, into
server/src/web/assets/ (committed; the portal serves them itself, no other host is needed):

- Leaflet 1.9.4 (BSD-2-Clause): leaflet.js, leaflet.css and its LICENSE;
- outlines.geojson: the offline base layer, made from world-atlas 2.0.2 (ISC), whose shapes
  are Natural Earth's (public domain): Mongolia at 1:50m, and the countries around it at
  1:110m, with coordinates rounded to 0.01 degrees.

    python3 scripts/vendor-map.py
"""
import json
import pathlib
import subprocess
import tarfile
import tempfile

OUT = pathlib.Path(__file__).resolve().parent.parent / "server/src/web/assets"
# The region the base layer covers: Mongolia and its neighbours.
REGION = (60.0, 30.0, 150.0, 62.0)
MONGOLIA = "496"  # ISO 3166-1 numeric, world-atlas's feature id


def pack(spec, into):
    name = subprocess.run(["npm", "pack", spec, "--silent"], cwd=into, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(into / name) as t:
        t.extractall(into / spec.replace("/", "_"), filter="data")
    return into / spec.replace("/", "_") / "package"


def decode(topo, obj):
    """TopoJSON → GeoJSON features (quantized arcs, delta-encoded)."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append([round(x * sx + tx, 2), round(y * sy + ty, 2)])
        arcs.append(pts)

    def ring(indexes):
        out = []
        for i in indexes:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts if not out else pts[1:])
        return out

    for g in topo["objects"][obj]["geometries"]:
        if g["type"] == "Polygon":
            geom = {"type": "Polygon", "coordinates": [ring(r) for r in g["arcs"]]}
        elif g["type"] == "MultiPolygon":
            geom = {"type": "MultiPolygon", "coordinates": [[ring(r) for r in p] for p in g["arcs"]]}
        else:
            continue
        yield {"type": "Feature", "id": g.get("id"), "properties": {"name": g["properties"]["name"]}, "geometry": geom}


def meets(feature):
    w, s, e, n = REGION
    coords = json.dumps(feature["geometry"]["coordinates"])
    nums = [float(v) for v in coords.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    xs, ys = nums[0::2], nums[1::2]
    return max(xs) >= w and min(xs) <= e and max(ys) >= s and min(ys) <= n


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        leaflet = pack("leaflet@1.9.4", tmp)
        for name in ["leaflet.js", "leaflet.css"]:
            (OUT / name).write_bytes((leaflet / "dist" / name).read_bytes())
        (OUT / "LICENSE-leaflet").write_bytes((leaflet / "LICENSE").read_bytes())
        atlas = pack("world-atlas@2.0.2", tmp)
        fine = {f["id"]: f for f in decode(json.loads((atlas / "countries-50m.json").read_text()), "countries")}
        coarse = [f for f in decode(json.loads((atlas / "countries-110m.json").read_text()), "countries")
                  if f["id"] != MONGOLIA and meets(f)]
        features = [fine[MONGOLIA]] + coarse
        doc = {"type": "FeatureCollection",
               "attribution": "Natural Earth (public domain), via world-atlas 2.0.2",
               "features": features}
        (OUT / "outlines.geojson").write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        print(f"{len(features)} outlines, {(OUT / 'outlines.geojson').stat().st_size} bytes")


if __name__ == "__main__":
    main()
