"""The demo city CLI.

``python -m data.demo [--scale F] [--days N] [--end YYYY-MM-DDTHH] [--seed N] [--db PATH] [--force]
[--publish | --no-publish] [--quiet]`` builds a complete warehouse (``data.demo.loader.build``);
then it calls ``data.publish.publish`` when it built the configured warehouse (``--publish``
forces it for another ``--db``, which then publishes into the configured var dir;
``--no-publish`` skips it).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from data import settings, warehouse
from data.demo.loader import build


def _check_not_in_use(path: Path) -> None:
    """Refuse to replace a warehouse another process (e.g. the live feed) holds open."""
    import duckdb

    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise SystemExit(f"{path} is in use by another process (stop the live feed first): {exc}") from None
        # not a readable DuckDB file: --force replaces it anyway


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.demo", description="Build the CityOps demo city warehouse.")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies entities and events (default 1.0; ~15 → 100M rows)")
    parser.add_argument("--days", type=int, default=None, help=f"days of history (default setting demo_days = {settings.get('demo_days')})")
    parser.add_argument("--end", default=None, help="last hour of data, YYYY-MM-DDTHH (default: now, floored to the hour)")
    parser.add_argument("--seed", type=int, default=None, help=f"random seed (default setting demo_seed = {settings.get('demo_seed')})")
    parser.add_argument("--db", type=Path, default=None, help=f"warehouse path (default {warehouse.path()})")
    parser.add_argument("--force", action="store_true", help="replace an existing warehouse")
    parser.add_argument("--publish", dest="publish", action="store_true", default=None,
                        help="publish snapshots after the build (default: only when building the default warehouse)")
    parser.add_argument("--no-publish", dest="publish", action="store_false")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    end = None
    if args.end:
        try:
            end = datetime.strptime(args.end, "%Y-%m-%dT%H")
        except ValueError:
            parser.error("--end must look like 2025-06-30T18")
    db_path = args.db or warehouse.path()
    if db_path.exists():
        if not args.force:
            raise SystemExit(f"{db_path} already exists; use --force to replace it")
        _check_not_in_use(db_path)
    summary = build(db_path, seed=args.seed, days=args.days, end=end, scale=args.scale,
                    progress=not args.quiet, force=True)
    print(json.dumps({k: summary[k] for k in ("db", "total_rows", "seconds", "rows")}))

    publish = args.publish if args.publish is not None else (Path(db_path).resolve() == warehouse.path().resolve())
    if publish:
        try:
            from data import publish as publisher
        except ImportError as exc:
            raise SystemExit(f"warehouse built, but data.publish is not available ({exc}); "
                             "run `python -m data.publish` once it exists") from None
        if Path(db_path).resolve() != warehouse.path().resolve():
            print("note: publishing a non-default warehouse into the configured var_dir", file=sys.stderr)
        con = warehouse.connect(db_path)
        try:
            result = publisher.publish(con)
        except Exception as exc:
            raise SystemExit(f"warehouse built, but publishing failed: {exc!r}; "
                             "fix it and run `python -m data.publish`") from None
        finally:
            con.close()
        print(f"published version {result.version} in {result.seconds:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
