"""Ingest benchmark: the generic CSV adapter vs bare DuckDB ``read_csv``, and the NYC adapters.

    python -m bench.ingest [--rows 10000000] [--pack data/samples/nyc] [--keep]

1. Generates an N-row parking-ticket CSV (ticket id, timestamp, code, fine with a decimal
   point, district id, lon/lat near a district centre) in a temp dir.
2. Times bare DuckDB on the same file: ``CREATE TABLE t AS SELECT * FROM read_csv(path)``
   (type auto-detection) into a fresh database file.
3. Times the generic adapter end to end (hash, batch, read all-VARCHAR, cast and validate,
   district, quarantine, insert into ``parking_citations``, commit) three times: districts by
   key column; by key with mapping transforms (offset-aware ISO times, an ``expr`` with a bound
   literal, a value ``map``); and by point-in-polygon on lon/lat.
4. Times every adapter of the NYC pack on its files.

Prints a table of rows/s and the ratio to bare read_csv; the goal for the generic adapter by
key is at most 3x the bare time. Results also go to bench/results/ingest-<rows>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BOUNDARIES = ROOT / "data" / "boundaries" / "community_districts.geojson"


def generate(path: Path, rows: int, centres: list[tuple[str, float, float]]) -> float:
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT * FROM (VALUES " + ", ".join(
        f"({i}, '{d}', {x}, {y})" for i, (d, x, y) in enumerate(centres)) + ") t(i, d, x, y)")
    n = len(centres)
    con.execute(f"""
        COPY (
            SELECT 'T' || r AS ticket_no,
                   strftime(TIMESTAMP '2025-01-01' + to_seconds(CAST(hash(r) % 31536000 AS BIGINT)), '%Y-%m-%d %H:%M:%S') AS issued,
                   CAST(hash(r * 7) % 90 + 4 AS VARCHAR) AS code,
                   printf('%.2f', CAST(hash(r * 13) % 20000 AS DOUBLE) / 100) AS fine,
                   c.d AS district,
                   round(c.x + (CAST(hash(r * 17) % 2001 AS DOUBLE) - 1000) / 1000000.0, 6) AS lon,
                   round(c.y + (CAST(hash(r * 19) % 2001 AS DOUBLE) - 1000) / 1000000.0, 6) AS lat
            FROM range({rows}) t(r) JOIN c ON c.i = r % {n}
            ORDER BY r
        ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()
    return time.perf_counter() - t0


MAPPING_KEY = {
    "source": {"id": "bench_tickets", "name": "Benchmark tickets", "licence": "generated", "description": "bench"},
    "target": "parking_citations",
    "fields": {"issued_at": {"column": "issued", "format": "%Y-%m-%d %H:%M:%S"}, "violation_code": "code",
               "fine": "fine"},
    "district": {"column": "district"},
    "dedup": [],
    "update_existing": False,
}


# The same file through mapping transforms (issue 15): ISO times read offset-aware (no format),
# the fine converted by an expression with a bound literal, codes through a value map.
MAPPING_TRANSFORMS = {
    **MAPPING_KEY,
    "source": {"id": "bench_tickets_tx", "name": "Benchmark tickets", "licence": "generated", "description": "bench"},
    "fields": {"issued_at": "issued", "violation_code": {"column": "code", "map": {"4": "004", "5": "005", "6": "006"}},
               "fine": {"expr": "fine * 0.92 + 0"}},
}


def bare(path: Path, tmp: Path) -> tuple[float, int]:
    db = tmp / "bare.duckdb"
    if db.exists():
        db.unlink()
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": str(path)})
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return time.perf_counter() - t0, n


def generic(path: Path, tmp: Path, by_point: bool, transforms: bool = False) -> tuple[float, int, int]:
    from data import warehouse
    from data.ingest import load
    from data.ingest.generic import Mapping

    db = tmp / f"w-{'pip' if by_point else 'tx' if transforms else 'key'}.duckdb"
    if db.exists():
        db.unlink()
    con = warehouse.connect(db)
    load(con, "boundaries", BOUNDARIES, key="district_id")
    doc = json.loads(json.dumps(MAPPING_TRANSFORMS if transforms else MAPPING_KEY))
    if by_point:
        doc["district"] = {"lon": "lon", "lat": "lat"}
        doc["source"]["id"] = "bench_tickets_pip"
    t0 = time.perf_counter()
    result = load(con, "generic", path, mapping=Mapping(doc, "bench"))[-1]
    seconds = time.perf_counter() - t0
    con.close()
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    return seconds, result.rows_loaded, result.rows_quarantined


def nyc(pack: Path, tmp: Path) -> list[dict]:
    from data import warehouse
    from data.ingest import nyc as nyc_pack

    db = tmp / "nyc.duckdb"
    con = warehouse.connect(db)
    t0 = time.perf_counter()
    results = nyc_pack.load_pack(con, pack)
    total = time.perf_counter() - t0
    con.close()
    rows = [{"file": Path(r.file).name, "adapter": r.adapter, "rows": r.rows_read, "seconds": r.seconds,
             "status": r.status} for r in results if r.status in ("ok", "failed")]
    rows.append({"file": "(whole pack, incl. boundaries)", "adapter": "nyc", "rows": sum(r["rows"] for r in rows),
                 "seconds": total, "status": "ok"})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10_000_000)
    parser.add_argument("--pack", type=Path, default=ROOT / "data" / "samples" / "nyc")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    rows = int(args.rows)
    tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-ingest-"))
    os.environ["CITYOPS_VAR_DIR"] = str(tmp)
    try:
        import shapely

        fc = json.loads(BOUNDARIES.read_text())
        centres = []
        for f in fc["features"]:
            p = shapely.geometry.shape(f["geometry"]).representative_point()
            centres.append((f["properties"]["district_id"], round(p.x, 6), round(p.y, 6)))
        csv = tmp / "tickets.csv"
        gen_s = generate(csv, rows, centres)
        size = csv.stat().st_size
        print(f"generated {rows:,} rows, {size / 1e6:,.0f} MB in {gen_s:.1f}s  ({csv})", file=sys.stderr)
        bare_s, bare_n = bare(csv, tmp)
        key_s, key_n, key_q = generic(csv, tmp, by_point=False)
        tx_s, tx_n, tx_q = generic(csv, tmp, by_point=False, transforms=True)
        pip_s, pip_n, pip_q = generic(csv, tmp, by_point=True)
        table = [
            ("bare DuckDB read_csv (CTAS, auto types)", bare_n, bare_s),
            ("generic adapter, district by key", key_n + key_q, key_s),
            ("generic adapter, key + transforms", tx_n + tx_q, tx_s),
            ("generic adapter, point-in-polygon", pip_n + pip_q, pip_s),
        ]
        print(f"\n{'what':<44} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'x bare':>7}")
        for what, n, s in table:
            print(f"{what:<44} {n:>12,} {s:>8.2f} {n / s:>12,.0f} {s / bare_s:>7.2f}")
        nyc_rows = nyc(args.pack, tmp)
        print(f"\nNYC pack ({args.pack}):")
        print(f"{'file':<46} {'adapter':<13} {'rows':>9} {'seconds':>8} {'rows/s':>10}")
        for r in sorted(nyc_rows, key=lambda r: -r["rows"]):
            rate = r["rows"] / r["seconds"] if r["seconds"] else 0
            print(f"{r['file'][:46]:<46} {r['adapter']:<13} {r['rows']:>9,} {r['seconds']:>8.2f} {rate:>10,.0f}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"ingest-{rows}.json"
        out.write_text(json.dumps({"rows": rows, "bytes": size, "generic": [
            {"what": w, "rows": n, "seconds": s, "rows_per_s": n / s, "x_bare": s / bare_s} for w, n, s in table],
            "nyc": nyc_rows}, indent=2))
        print(f"\nresults: {out}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
