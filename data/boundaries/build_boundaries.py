"""Build ``data/boundaries/community_districts.geojson`` from the shared NYC data pack.

Run once by hand (the generated GeoJSON is committed; nothing imports this script)::

    .venv/bin/python data/boundaries/build_boundaries.py [--pack /work/shared/data/nyc]

What it does (see SOURCES.md next to this file):

1. reads the 71 full-resolution NYC community-district polygons (key ``BoroCD``),
2. computes ``area_km2`` in a metric CRS (EPSG:32618, UTM 18N) from the full geometry,
3. simplifies the whole set as a *coverage* (shared borders are simplified once, so
   neighbouring districts keep sharing an edge: no slivers, no gaps) in EPSG:2263 (feet)
   with ``TOLERANCE_FT``, then projects back to lon/lat and snaps coordinates to a
   1e-5 degree grid (about 1 m, i.e. 5 decimals),
4. joins the ACS 2019-2023 population (``Pop_1E``) by CDTA ``GeoID`` ("BK01" -> 301),
5. writes a compact FeatureCollection, one feature per line, sorted by ``district_id``.

Joint interest areas (parks, airports: 164, 226-228, 355, 356, 480-484, 595) are kept with
``is_joint_area: true`` and ``population: null`` (their ACS counts are 0-524 people, which
would make every per-1,000-residents figure meaningless).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
DEFAULT_PACK = Path("/work/shared/data/nyc")
OUTPUT = HERE / "community_districts.geojson"

TOLERANCE_FT = 100.0      # coverage simplification tolerance in EPSG:2263 units (~30 m)
GRID_DEG = 1e-5           # coordinate precision: 5 decimals (~1 m)
AREA_CRS = 32618          # WGS 84 / UTM zone 18N (metres)

BOROUGHS = {1: "Manhattan", 2: "Bronx", 3: "Brooklyn", 4: "Queens", 5: "Staten Island"}
GEOID_PREFIX = {"MN": 1, "BX": 2, "BK": 3, "QN": 4, "SI": 5}
JOINT_AREAS = {164, 226, 227, 228, 355, 356, 480, 481, 482, 483, 484, 595}


def geoid_to_borocd(geoid: str) -> int:
    """'BK01' -> 301, 'MN64' -> 164."""
    return GEOID_PREFIX[geoid[:2].upper()] * 100 + int(geoid[2:])


def read_demographics(pack: Path) -> pd.DataFrame:
    frame = pd.read_csv(pack / "nyc_cdta_demographics_acs2019_2023.csv", encoding="utf-8-sig",
                        usecols=["GeoID", "GeogName", "CDTAType", "Pop_1E"], dtype=str)
    frame["BoroCD"] = frame["GeoID"].map(geoid_to_borocd)
    frame["population"] = frame["Pop_1E"].str.replace(",", "", regex=False).astype(int)
    # "BK01 Williamsburg-Greenpoint (CD 1 Equivalent)" -> "Williamsburg-Greenpoint"
    frame["label"] = frame["GeogName"].str.replace(r"^\S+\s+", "", regex=True) \
                                      .str.replace(r"\s*\((CD|JIA) .*\)$", "", regex=True)
    return frame.set_index("BoroCD")


def _round(coords, ndigits: int = 5):
    if isinstance(coords[0], (int, float)):
        return [round(float(c), ndigits) for c in coords]
    return [_round(c, ndigits) for c in coords]


def build(pack: Path, output: Path, tolerance_ft: float = TOLERANCE_FT) -> dict:
    cd = gpd.read_file(pack / "community_districts.geojson")
    cd["BoroCD"] = cd["BoroCD"].astype(int)
    if len(cd) != 71 or cd["BoroCD"].duplicated().any():
        raise SystemExit(f"expected 71 unique districts, got {len(cd)}")
    cd = cd.sort_values("BoroCD").reset_index(drop=True)

    area_km2 = cd.geometry.to_crs(AREA_CRS).area / 1e6

    feet = cd.geometry.to_crs(2263)
    simplified = feet.simplify_coverage(tolerance_ft).to_crs(4326)
    gridded = shapely.set_precision(simplified.values, GRID_DEG)
    if not shapely.is_valid(gridded).all() or shapely.is_empty(gridded).any():
        raise SystemExit("simplification produced an invalid or empty geometry; lower the tolerance")

    demo = read_demographics(pack)
    features = []
    for i, row in cd.iterrows():
        code = int(row["BoroCD"])
        joint = code in JOINT_AREAS
        borough = BOROUGHS[code // 100]
        label = demo["label"].get(code)
        if joint:
            name = label or f"{borough} joint interest area {code % 100}"
            population = None
        else:
            name = f"{borough} CD {code % 100}"
            population = int(demo.loc[code, "population"])
        geometry = shapely.geometry.mapping(gridded[i])
        geometry = {"type": geometry["type"], "coordinates": _round(json.loads(json.dumps(geometry["coordinates"])))}
        features.append({
            "type": "Feature",
            "properties": {
                "district_id": str(code), "name": name, "borough": borough,
                "population": population, "area_km2": round(float(area_km2[i]), 3),
                "is_joint_area": joint, "neighbourhoods": label,
            },
            "geometry": geometry,
        })

    lines = ['{"type":"FeatureCollection","features":[']
    lines += [json.dumps(f, separators=(",", ":"), ensure_ascii=False) + ("," if k < len(features) - 1 else "")
              for k, f in enumerate(features)]
    lines.append("]}")
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = {
        "features": len(features),
        "joint_areas": sum(f["properties"]["is_joint_area"] for f in features),
        "coordinates": int(shapely.get_num_coordinates(gridded).sum()),
        "bytes": output.stat().st_size,
        "coverage_valid": bool(shapely.coverage_is_valid(gridded)),
    }
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=DEFAULT_PACK, help="folder of the NYC data pack")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--tolerance-ft", type=float, default=TOLERANCE_FT)
    args = parser.parse_args(argv)
    summary = build(args.pack, args.output, args.tolerance_ft)
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
