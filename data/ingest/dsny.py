"""DSNY Monthly Tonnage (→ ``waste_tonnage``).

One row per month and community district, one column per material. Each row becomes up to
four ``waste_tonnage`` rows on the first day of the month: refuse (``REFUSETONSCOLLECTED``),
paper (``PAPERTONSCOLLECTED``), mgp (``MGPTONSCOLLECTED``: metal, glass, plastic) and organics
= the sum of the organic columns present (``RESORGANICSTONS``, ``SCHOOLORGANICTONS``,
``LEAVESORGANICTONS``, ``XMASTREETONS`` — Christmas trees are composted —, ``OTHERORGANICSTONS``).
An empty value means "not collected": no row for that stream. District = BOROUGH_ID * 100 +
int(COMMUNITYDISTRICT). Some values carry thousands commas ("1,114.2"). A reload of the same month, district and stream from another file
replaces the earlier value (DSNY revises recent months).
"""
from __future__ import annotations

from data.ingest.batch import Batch
from data.ingest.fields import Districting, Field
from data.ingest.source import Source
from data.ingest.sql import qi

SOURCE = Source(
    "nyc_dsny_tonnage", "DSNY monthly tonnage", "waste", "NYC Open Data terms of use",
    "NYC Department of Sanitation monthly collection tonnage by community district: refuse, paper, "
    "metal/glass/plastic and organics (residential, school, leaves, Christmas trees, other).",
    grain="month")

STREAMS = {"refuse": "REFUSETONSCOLLECTED", "paper": "PAPERTONSCOLLECTED", "mgp": "MGPTONSCOLLECTED"}
ORGANICS = ["RESORGANICSTONS", "SCHOOLORGANICTONS", "LEAVESORGANICTONS", "XMASTREETONS", "OTHERORGANICSTONS"]


def load(batch: Batch) -> None:
    header = batch.read_csv(["MONTH", "COMMUNITYDISTRICT", "BOROUGH_ID", *STREAMS.values()])
    organics = [c for c in ORGANICS if c in header]
    boro = Field("boro", qi("BOROUGH_ID"), "int", required=True, label="BOROUGH_ID")
    cd = Field("cd", qi("COMMUNITYDISTRICT"), "int", required=True, label="COMMUNITYDISTRICT")
    fields = [
        Field("day", qi("MONTH"), "date", required=True, formats=["%Y / %m", "%Y/%m", "%Y-%m", "%Y-%m-%d"], label="MONTH"),
        boro, cd,
        Field("district_key", None, sql=f"CAST({boro.typed(batch.bind)} * 100 + {cd.typed(batch.bind)} AS VARCHAR)"),
    ]
    fields += [Field(stream, qi(col), "double", label=col, thousands=",") for stream, col in STREAMS.items()]
    fields += [Field(f"o{i}", qi(col), "double", label=col, thousands=",") for i, col in enumerate(organics)]
    onames = [f"o{i}" for i in range(len(organics))]
    all_tons = list(STREAMS) + onames
    checks = [
        (" OR ".join(f"{c} < 0" for c in all_tons), "negative tonnage"),
        (" OR ".join(f"{c} >= 1e6" for c in all_tons), "tonnage out of range"),
        (" AND ".join(f"{c} IS NULL" for c in all_tons), "no tonnage reported"),
    ]
    batch.stage(fields, checks, district=Districting(key="district_key"), dedup=["day", "district_id"],
                dedup_reason="duplicate month and district")
    org = ("CASE WHEN " + " AND ".join(f"{c} IS NULL" for c in onames) + " THEN NULL ELSE "
           + " + ".join(f"coalesce({c}, 0)" for c in onames) + " END") if onames else "NULL"
    parts = [f"SELECT _reason, day, district_id, {batch.bind(s)} AS stream, {s} AS tons FROM checked"
             for s in STREAMS]   # the stream names are bound values
    parts.append(f"SELECT _reason, day, district_id, 'organics' AS stream, {org} AS tons FROM checked")
    batch.insert("waste_tonnage", {"day": "day", "district_id": "district_id", "stream": "stream", "tons": "tons"},
                 source="(" + " UNION ALL ".join(parts) + ") u", where="tons IS NOT NULL",
                 upsert_key=("day", "district_id", "stream"), time_expr="day")
