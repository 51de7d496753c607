"""Rebuild this folder from the shared NYC open-data pack (run by hand; the output is committed).

    .venv/bin/python data/samples/nyc/make_samples.py [--pack /work/shared/data/nyc]

Copies the files the ingest adapters need, byte for byte, except:

* large CSVs are cut to their first N records (header kept, records copied verbatim, quoted
  line breaks respected) — see ``TRIM``;
* ``police_precincts.geojson`` is simplified (tolerance 100 ft in EPSG:2263, as a coverage
  when GEOS accepts the layer as one, else polygon by polygon) and rounded to 5 decimals:
  3.7 MB → ~0.2 MB. Only each precinct's representative point is used by the parking adapter.

``community_districts.geojson`` is not copied: the ``nyc`` adapter falls back to the project's
``data/boundaries/community_districts.geojson`` (derived from the same file).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PACK = Path("/work/shared/data/nyc")

COPY = [
    "dsny_monthly_tonnage_1990_2025.csv",
    "mta_daily_ridership_2020_2024.csv",
    "mta_daily_ridership_dictionary.csv",
    "citibike_station_information_2024-10-02.json",
    "citibike_station_status_2024-10-02.json",
    "dof_parking_violation_codes.csv",
    "parking_violations_fy2017_sample.csv",
    "pedestrian_counts_biannual.csv",
    "nyc311_sample_2019-12-31_1000rows.csv",
    "nyc_cdta_demographics_acs2019_2023.csv",
]
TRIM = {
    "citibike_trips_sample_2024-09.csv": 3000,
    "traffic_volume_counts_2024_sample.csv": 5000,
    "nyc311_animals_2025_sample.csv": 2000,
}


def trim_csv(src: Path, dst: Path, records: int) -> int:
    """Copy the header and the first `records` records verbatim."""
    n = -1  # the header is record 0
    open_quote = False
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            if not open_quote:
                if n >= records:
                    break
                n += 1
            fout.write(line)
            if line.count(b'"') % 2:
                open_quote = not open_quote
    return n


def simplify_precincts(src: Path, dst: Path) -> int:
    import geopandas as gpd
    import shapely

    gdf = gpd.read_file(src)
    feet = gdf.geometry.to_crs(2263)
    try:
        simple = feet.simplify_coverage(100.0)
    except shapely.errors.GEOSException:  # the published layer is not a clean coverage
        simple = feet.simplify(100.0, preserve_topology=True)
    simple = shapely.make_valid(shapely.set_precision(simple.to_crs(4326).values, 1e-5))
    # make_valid may return a collection with stray lines: keep the polygonal part
    simple = [shapely.union_all([p for p in getattr(g, "geoms", [g]) if p.geom_type in ("Polygon", "MultiPolygon")])
              if g.geom_type == "GeometryCollection" else g for g in simple]
    features = []
    for i, row in gdf.iterrows():
        features.append({"type": "Feature", "properties": {"Precinct": int(row["Precinct"])},
                         "geometry": shapely.geometry.mapping(simple[i])})
    lines = ['{"type":"FeatureCollection","features":[']
    lines += [json.dumps(f, separators=(",", ":")) + ("," if k < len(features) - 1 else "")
              for k, f in enumerate(features)]
    lines.append("]}")
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    args = parser.parse_args()
    for name in COPY:
        shutil.copyfile(args.pack / name, HERE / name)
        print(f"copied   {name}")
    for name, n in TRIM.items():
        got = trim_csv(args.pack / name, HERE / name, n)
        print(f"trimmed  {name}: {got} records")
    n = simplify_precincts(args.pack / "police_precincts.geojson", HERE / "police_precincts.geojson")
    print(f"simplified police_precincts.geojson: {n} precincts")


if __name__ == "__main__":
    main()
