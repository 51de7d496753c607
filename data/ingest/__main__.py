"""python -m data.ingest <adapter> <path> [<path> ...] [options]

Examples::

    python -m data.ingest boundaries data/boundaries/community_districts.geojson --key district_id
    python -m data.ingest dsny data/samples/nyc/dsny_monthly_tonnage_1990_2025.csv
    python -m data.ingest gbfs station_information.json station_status.json
    python -m data.ingest parking violations.csv --precincts police_precincts.geojson --codes codes.csv
    python -m data.ingest generic tickets.csv --mapping data/samples/mappings/parking_tickets.yaml
    python -m data.ingest nyc data/samples/nyc          # the whole pack, boundaries first

Writes to the warehouse of CITYOPS_VAR_DIR (or --db). Prints a summary: rows read, loaded,
quarantined by reason. Exit code 0 when every file loaded (or was unchanged), 2 when a file
could not be loaded (a one-line error, no traceback; its batch is marked failed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data import warehouse
from data.ingest import ADAPTERS, IngestError, LoadResult, Progress, load
from data.ingest.registry import order_paths
from data.ingest.runner import DEFAULT_TZ


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="warehouse file (default: $CITYOPS_VAR_DIR/warehouse.duckdb)")
    common.add_argument("--force", action="store_true", help="reload even if the same bytes were loaded before")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    common.add_argument("--tz", default=DEFAULT_TZ, help="city time zone for epoch / offset timestamps")
    common.add_argument("--source-id", help="override the source id registered in `sources`")
    common.add_argument("--source-name", help="override the source name")
    common.add_argument("--licence", help="override the source licence")
    common.add_argument("--description", help="override the source description")
    common.add_argument("--max-quarantined-share", type=float, metavar="SHARE",
                        help="fail the load when more than this share of its rows is quarantined (default 0.5; "
                             "a load that quarantines every row always fails)")

    parser = argparse.ArgumentParser(prog="python -m data.ingest", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    sub = parser.add_subparsers(dest="adapter", required=True, metavar="adapter")
    for name, spec in list(ADAPTERS.items()) + [("nyc", None)]:
        helptext = spec.help if spec else "the whole NYC open-data pack (a folder): boundaries first, then every file"
        p = sub.add_parser(name, parents=[common], help=helptext, description=helptext)
        p.add_argument("paths", nargs="+", type=Path, metavar="path")
        if name == "boundaries":
            p.add_argument("--key", default="district_id", help="property holding the district id")
            p.add_argument("--name-property")
            p.add_argument("--borough-property")
            p.add_argument("--population-property")
            p.add_argument("--joint-property", help="boolean property: park/airport area without residents")
            p.add_argument("--tolerance-m", type=float, default=30.0, help="simplification tolerance (m), 0 = none")
            p.add_argument("--crs", help="CRS of the coordinates when the file does not say (default lon/lat)")
            p.add_argument("--nyc", action="store_true", help="NYC BoroCD naming ('Brooklyn CD 1', joint areas)")
            p.add_argument("--dissolve", action="store_true",
                           help="several polygons with the same key are one district (their union)")
            p.add_argument("--layer", help="a second boundary layer: its ids become LAYER:<id>")
            p.add_argument("--replace-layer", action="store_true",
                           help="overwrite district ids loaded from another boundary file")
        elif name == "grid":
            p.add_argument("--shape", choices=["hex", "square", "city"], default="hex",
                           help="hexagonal or square cells, or one whole-city district")
            p.add_argument("--cell-km", type=float, default=1.0, help="cell size across (km)")
            p.add_argument("--lon", help="CSV: longitude column")
            p.add_argument("--lat", help="CSV: latitude column")
            p.add_argument("--point", help="CSV: one column holding the point ('lat, lon' or WKT)")
            p.add_argument("--point-format", choices=["lat,lon", "lon,lat", "wkt"], default="lat,lon")
            p.add_argument("--crs", help="CRS of an outline file that does not declare one")
        elif name == "precincts":
            p.add_argument("--key", default="Precinct")
            p.add_argument("--crs")
        elif name == "population":
            p.add_argument("--key-column", default="GeoID", help="district id or NYC GeoID ('BK01') column")
            p.add_argument("--population-column", default="Pop_1E")
        elif name == "traffic":
            p.add_argument("--segments", type=Path, help="CSV segment_id + district_id (or lon, lat)")
        elif name == "parking":
            p.add_argument("--codes", type=Path, help="DOF violation codes CSV, loaded first")
            p.add_argument("--precincts", type=Path, help="police precincts GeoJSON, loaded first")
        elif name == "generic":
            p.add_argument("--mapping", type=Path, required=True, help="YAML mapping (see data/ingest/README.md)")
    p = sub.add_parser("poll", parents=[common], help="poll a snapshot feed (URL or file) into a time series",
                       description="poll a snapshot feed into a time series: fetch, save with the poll time in "
                                   "the name, load with the generic adapter; repeat")
    p.add_argument("url", help="http(s) URL or a local file path of the snapshot")
    p.add_argument("--mapping", type=Path, required=True, help="YAML mapping; its ts: {filename: PATTERN}")
    p.add_argument("--dir", type=Path, required=True, help="folder for the saved snapshots")
    p.add_argument("--name", help="strftime pattern of the saved file name (default <source id>_%%Y-%%m-%%dT%%H-%%M-%%S)")
    p.add_argument("--every", type=float, default=300.0, help="seconds between polls (default 300)")
    p.add_argument("--count", type=int, help="stop after this many polls (default: until stopped)")
    p = sub.add_parser("clear-failed", parents=[common], help="mark failed load attempts as cleared (after fixing them)",
                       description="mark failed load batches 'cleared': they loaded nothing (rolled back) and stay "
                                   "in the history, but no longer read as a current failure on /data")
    p.add_argument("--batch", type=int, action="append", help="only this batch id (repeatable)")
    p.add_argument("--file", help="only batches of this file (path or file name)")
    sub._name_parser_map["csv"] = sub._name_parser_map["generic"]  # alias
    return parser


def fmt(n: int) -> str:
    return f"{n:,}"


def print_summary(results: list[LoadResult], out=None) -> None:
    out = out or sys.stdout
    print(f"\n{'file':<46} {'adapter':<13} {'status':<9} {'read':>10} {'loaded':>10} {'quarantined':>11} {'s':>6}",
          file=out)
    for r in results:
        name = Path(r.file).name
        print(f"{name[:46]:<46} {r.adapter:<13} {r.status:<9} {fmt(r.rows_read):>10} {fmt(r.rows_loaded):>10} "
              f"{fmt(r.rows_quarantined):>11} {r.seconds:6.1f}", file=out)
        for table, n in r.written.items():
            print(f"    -> {table}: {fmt(n)} rows", file=out)
        if r.replaced:
            print(f"    replaced {fmt(r.replaced)} rows of earlier loads", file=out)
        for reason, n in r.reasons.items():
            print(f"    quarantined {fmt(n):>8}  {reason}", file=out)
        if r.message:
            print(f"    {r.message}", file=out)
    ok = [r for r in results if r.status in ("ok", "unchanged")]

    def total(attr: str) -> int:
        return sum(getattr(r, attr) for r in results)

    print(f"{'total':<46} {'':<13} {f'{len(ok)}/{len(results)} ok':<9} {fmt(total('rows_read')):>10} "
          f"{fmt(total('rows_loaded')):>10} {fmt(total('rows_quarantined')):>11}", file=out)
    reasons: dict[str, int] = {}
    for r in results:
        for reason, n in r.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    if reasons:
        print("quarantined by reason:", file=out)
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"    {fmt(n):>8}  {reason}", file=out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.adapter == "clear-failed":
        from data.ingest.tables import clear_failed

        con = warehouse.connect(args.db) if args.db else warehouse.connect()
        try:
            n = clear_failed(con, source_id=args.source_id, batch_ids=args.batch, file=args.file)
        finally:
            con.close()
        print(f"cleared {n} failed load batch(es)")
        return 0
    if args.adapter == "poll":
        from data.ingest import poll

        try:
            return poll.main(args)
        except IngestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    adapter = "generic" if args.adapter == "csv" else args.adapter
    options = {k: v for k, v in vars(args).items()
               if k not in ("adapter", "paths", "db", "force", "quiet", "tz") and v not in (None, False)}
    progress = Progress(enabled=not args.quiet)
    results: list[LoadResult] = []
    failed = False
    try:
        con = warehouse.connect(args.db) if args.db else warehouse.connect()
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse is locked by another process
        print(f"error: cannot open the warehouse: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    try:
        for path in order_paths(adapter, list(args.paths)):
            try:
                results += load(con, adapter, path, force=args.force, progress=progress, tz=args.tz, **options)
            except IngestError as exc:
                failed = True
                print(f"error: {exc}", file=sys.stderr)
                results.append(LoadResult(adapter=adapter, source_id="", file=str(path), status="failed",
                                          message=str(exc)))
    finally:
        con.close()
    failed = failed or any(r.status == "failed" for r in results)
    print_summary(results)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
