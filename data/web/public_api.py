"""Public downloads and a small read-only JSON API, served by the public site only.

Routes (at the root in mode ``public``; under ``/public`` in mode ``all``, where the API is also
answered at the root, ``/api/v1``, so an API client uses the same path against either; not
registered in mode ``ops``). The human-readable page about them is layouts/public/api.py::

    GET /api/v1                               index: data version, licence note, links
    GET /api/v1/openapi.json                  the OpenAPI 3.0 description of this API
    GET /api/v1/metrics                       public metrics and their metadata
    GET /api/v1/metrics/<metric_id>           one metric's metadata
    GET /api/v1/metrics/<metric_id>/values    published values (?grain=week|month, ?district=<id>|city)
    GET /api/v1/districts                     districts (no geometry)
    GET /download/<metric_id>.<csv|json|parquet>   every published value of one metric

Everything is read from the public snapshot through ``data.repository`` (``queries/public``).
Each file and response is stamped with the data version and the licence of the source;
suppressed cells are null with ``suppressed = true``. Responses carry ``Cache-Control`` and an
``ETag`` equal to the data version, and answer ``If-None-Match`` with 304. Inputs are checked
against allow-lists (metric ids from the registry, grains, published district ids).
"""
from __future__ import annotations

import hashlib
import io
import json
import math

import duckdb
import flask

from data import export_safety, lookups, repository, settings, snapshot

API = "/api/v1"
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json",
           "parquet": "application/vnd.apache.parquet"}
GRAINS = ("week", "month")
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
DEFAULT_LICENCE = "See the source's licence on the methodology page"


def prefix() -> str:
    return "/public" if settings.mode() == "all" else ""


# --------------------------------------------------------------------------- helpers
def _stamp(response: flask.Response, version: str) -> flask.Response:
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(version)
    response.headers["X-Data-Version"] = version
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _not_modified(version: str) -> flask.Response | None:
    if flask.request.if_none_match.contains(version):
        return _stamp(flask.Response(status=304), version)
    return None


def _error(status: int, message: str) -> flask.Response:
    response = flask.jsonify({"error": message, "status": status})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _clean(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _records(frame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _metric_meta(metric_id: str) -> dict | None:
    frame = repository.run("public/metrics")
    rows = frame[frame["metric_id"] == metric_id]
    return _records(rows)[0] if not rows.empty else None


def _reported() -> list[dict]:
    """The reported measures of this snapshot (a department's own figures, published as reported);
    none in a snapshot written before they existed."""
    try:
        return _records(repository.run("public/reported_measures"))
    except duckdb.Error:
        return []


def _reported_meta(metric_id: str) -> dict | None:
    return next((r for r in _reported() if r["metric_id"] == metric_id), None) if isinstance(metric_id, str) else None


def _reported_values(metric_id: str, district: str | None):
    frame = repository.run("public/reported_values", metric=metric_id, district=district)
    for col in ("period", "period_end"):
        frame[col] = frame[col].astype("datetime64[ns]").dt.strftime("%Y-%m-%d")
    return frame


def _values(metric_id: str, grain: str | None, district: str | None):
    frame = repository.run("public/metric_values", metric=metric_id, grain=grain, district=district)
    frame["period"] = frame["period"].dt.strftime("%Y-%m-%d")
    return frame


def _meta() -> dict:
    row = repository.run("public/meta_full").iloc[0]
    return {"data_version": str(row["version"]), "published_at": _clean(row["published_at"]),
            "suppression_k": int(row["suppression_k"])}


def _json(payload, version: str, status: int = 200) -> flask.Response:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, default=str)
    return _stamp(flask.Response(body, status=status, mimetype="application/json"), version)


def _suppression_note(k: int) -> str:
    return (f"Counts between 1 and {k - 1}, and any rate or average computed from one, are withheld; "
            "so are the cells needed to stop a withheld count being worked out from the totals. "
            "Withheld cells are null with suppressed = true.")


# --------------------------------------------------------------------------- views
def index():
    version = snapshot.version("public")
    return _not_modified(version) or _json({
        **_meta(), "openapi": prefix() + API + "/openapi.json",
        "metrics": prefix() + API + "/metrics", "districts": prefix() + API + "/districts",
        "downloads": prefix() + "/download/{metric_id}.{csv|json|parquet}",
    }, version)


def openapi():
    version = snapshot.version("public")
    return _not_modified(version) or _json(openapi_document(), version)


def metrics():
    version = snapshot.version("public")
    return _not_modified(version) or _json({**_meta(), "metrics": _records(repository.run("public/metrics"))
                                            + _reported()}, version)


def metric(metric_id: str):
    valid = lookups.valid_metric(metric_id, public_only=True)
    if valid is None:
        reported = _reported_meta(metric_id)
        if reported is not None:
            version = snapshot.version("public")
            return _not_modified(version) or _json({**_meta(), "metric": reported}, version)
        return _error(404, "unknown metric")
    version = snapshot.version("public")
    meta = _metric_meta(valid.id)
    if meta is None:   # a registry metric this city has no source for
        return _error(404, "this city publishes no data for this metric")
    return _not_modified(version) or _json({**_meta(), "metric": meta}, version)


def metric_values(metric_id: str):
    valid = lookups.valid_metric(metric_id, public_only=True)
    if valid is None and _reported_meta(metric_id) is not None:
        return _reported_values_response(_reported_meta(metric_id))
    if valid is None:
        return _error(404, "unknown metric")
    grain = flask.request.args.get("grain") or None
    if grain is not None and grain not in GRAINS:
        return _error(400, "grain must be week or month")
    if grain is not None and grain not in valid.grains:  # e.g. monthly tonnage has no weeks
        return _error(400, f"{valid.id} is published by {' and '.join(valid.grains)} only")
    district = flask.request.args.get("district") or None
    if district is not None:
        known = set(lookups.districts("public")["district_id"])
        if not lookups.valid_districts([district[:32]], known, limit=1):
            return _error(400, "unknown district")
    version = snapshot.version("public")
    cached = _not_modified(version)
    if cached is not None:
        return cached
    return _json(_values_document(valid.id, _meta(), _values(valid.id, grain, district)), version)


def _reported_values_response(meta: dict):
    """A reported measure's figures, as reported, by the period the department reports."""
    grain = flask.request.args.get("grain") or None
    if grain is not None and grain != meta["grains"]:
        return _error(400, f"{meta['metric_id']} is reported by {meta['grains'].replace('_', ' ')} only")
    district = flask.request.args.get("district") or None
    if district is not None and len(district) > 32:
        return _error(400, "unknown district")
    version = snapshot.version("public")
    cached = _not_modified(version)
    if cached is not None:
        return cached
    frame = _reported_values(meta["metric_id"], district)
    if district is not None and frame.empty:
        return _error(400, "unknown district")
    info = _meta()
    return _json({**info, "metric_id": meta["metric_id"], "licence": meta.get("licence") or DEFAULT_LICENCE,
                  "reported": True, "method": meta["method"], "values": _records(frame)}, version)


def districts():
    version = snapshot.version("public")
    from natsort import natsort_keygen, ns

    frame = repository.run("public/district_list")
    frame = frame.sort_values("name", key=lambda names: names.map(natsort_keygen(alg=ns.IGNORECASE)))  # "CD 2" before "CD 10"
    return _not_modified(version) or _json({**_meta(), "districts": _records(frame)}, version)


def _values_document(metric_id: str, meta: dict, frame) -> dict:
    """The JSON body of a metric's values (API and download): version, licence, suppression."""
    return {**meta, "metric_id": metric_id, "licence": _licence(metric_id),
            "suppression": _suppression_note(meta["suppression_k"]), "values": _records(frame)}


def _licence(metric_id: str) -> str:
    meta = _metric_meta(metric_id) or {}
    return meta.get("licence") or DEFAULT_LICENCE


def download(metric_id: str, fmt: str):
    valid = lookups.valid_metric(metric_id, public_only=True)
    if valid is None or fmt not in FORMATS:
        return _error(404, "unknown metric or format (csv, json, parquet)")
    version = snapshot.version("public")
    cached = _not_modified(version)
    if cached is not None:
        return cached
    meta = _meta()
    licence = _licence(valid.id)
    frame = _values(valid.id, None, None)
    if fmt == "json":
        body = json.dumps(_values_document(valid.id, meta, frame), ensure_ascii=False, allow_nan=False,
                          default=str)
    else:
        frame = frame.assign(data_version=version, licence=licence)
        if fmt == "csv":  # text a spreadsheet would run as a formula gets a leading apostrophe
            body = export_safety.frame(frame).to_csv(index=False, na_rep="", lineterminator="\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            table = table.replace_schema_metadata({
                **(table.schema.metadata or {}), b"data_version": version.encode(),
                b"licence": licence.encode(), b"suppression": _suppression_note(meta["suppression_k"]).encode()})
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            body = buffer.getvalue()
    response = flask.Response(body, mimetype=FORMATS[fmt].split(";")[0])
    if fmt == "csv":
        response.headers["Content-Type"] = FORMATS["csv"]
    response.headers["Content-Disposition"] = f'attachment; filename="cityops-{valid.id}-{version}.{fmt}"'
    return _stamp(response, version)


# --------------------------------------------------------------------------- OpenAPI
def openapi_document() -> dict:
    base = prefix() + API
    metric_param = {"name": "metric_id", "in": "path", "required": True, "schema": {"type": "string"},
                    "description": "A public metric id (see /metrics)."}

    def ok(description: str, ref: str | None = None, media: str = "application/json") -> dict:
        content = {media: {"schema": {"$ref": f"#/components/schemas/{ref}"}}} if ref else {media: {}}
        return {"200": {"description": description, "headers": {"ETag": {"schema": {"type": "string"},
                        "description": "The data version."}}, "content": content},
                "304": {"description": "Not modified (If-None-Match matched the data version)."}}

    value_props = {
        "metric_id": {"type": "string"}, "grain": {"type": "string", "enum": list(GRAINS)},
        "period": {"type": "string", "format": "date"}, "district_id": {"type": "string"},
        "district_name": {"type": "string", "nullable": True},
        "value": {"type": "number", "nullable": True}, "numerator": {"type": "number", "nullable": True},
        "denominator": {"type": "number", "nullable": True}, "n": {"type": "integer", "nullable": True},
        "suppressed": {"type": "boolean", "description": "True: withheld for privacy; figures are null."},
        "ci_low": {"type": "number", "nullable": True}, "ci_high": {"type": "number", "nullable": True},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "CityOps public data API", "version": "1",
                 "description": "Read-only published city metrics (weekly and monthly, complete periods "
                                "only, small counts suppressed). Every response carries the data version "
                                "as its ETag."},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"summary": "Index: data version and links", "responses": ok("Index")}},
            "/openapi.json": {"get": {"summary": "This document", "responses": ok("OpenAPI document")}},
            "/metrics": {"get": {"summary": "Public metrics with metadata", "responses": ok("Metrics")}},
            "/metrics/{metric_id}": {"get": {"summary": "One metric's metadata", "parameters": [metric_param],
                                             "responses": {**ok("Metric"), "404": {"description": "Unknown metric"}}}},
            "/metrics/{metric_id}/values": {"get": {
                "summary": "Published values of one metric",
                "parameters": [metric_param,
                               {"name": "grain", "in": "query", "schema": {"type": "string", "enum": list(GRAINS)}},
                               {"name": "district", "in": "query", "schema": {"type": "string"},
                                "description": "A district id or 'city'."}],
                "responses": {**ok("Values", "Values"), "400": {"description": "Bad grain or district"},
                              "404": {"description": "Unknown metric"}}}},
            "/districts": {"get": {"summary": "Districts (no geometry)", "responses": ok("Districts")}},
        },
        "components": {"schemas": {
            "Value": {"type": "object", "properties": value_props},
            "Values": {"type": "object", "properties": {
                "data_version": {"type": "string"}, "published_at": {"type": "string"},
                "suppression_k": {"type": "integer"}, "metric_id": {"type": "string"},
                "licence": {"type": "string"}, "suppression": {"type": "string"},
                "values": {"type": "array", "items": {"$ref": "#/components/schemas/Value"}}}},
        }},
        "externalDocs": {"description": "Downloads per metric (CSV, JSON, Parquet): "
                                        + prefix() + "/download/{metric_id}.{csv|json|parquet}",
                         "url": prefix() + "/methodology"},
    }


# --------------------------------------------------------------------------- wiring
def _unavailable(_exc):
    response = _error(503, "No data has been published yet.")
    response.headers["Retry-After"] = "30"
    return response


def register(server: flask.Flask, mode: str) -> None:
    """Add the routes to `server` when `mode` serves the public site (public or all)."""
    if mode not in ("public", "all"):
        return
    _blueprint("public_api", prefix() or None, server)
    if prefix():  # the demo (mode all) serves the API at /api/v1 too: the same path as the public site's
        _blueprint("public_api_root", None, server, downloads=False)
    server.after_request(_page_language)
    server.after_request(_page_caching)


def _blueprint(name: str, url_prefix: str | None, server: flask.Flask, downloads: bool = True) -> None:
    bp = flask.Blueprint(name, __name__, url_prefix=url_prefix)
    bp.add_url_rule(API, "index", index)
    bp.add_url_rule(API + "/", "index_slash", index)
    bp.add_url_rule(API + "/openapi.json", "openapi", openapi)
    bp.add_url_rule(API + "/metrics", "metrics", metrics)
    bp.add_url_rule(API + "/metrics/<metric_id>", "metric", metric)
    bp.add_url_rule(API + "/metrics/<metric_id>/values", "metric_values", metric_values)
    bp.add_url_rule(API + "/districts", "districts", districts)
    if downloads:
        bp.add_url_rule("/download/<metric_id>.<fmt>", "download", download)
    bp.register_error_handler(snapshot.DataUnavailable, _unavailable)
    server.register_blueprint(bp)


def _is_public_page() -> bool:
    path = flask.request.path
    return settings.mode() == "public" or path == "/public" or path.startswith("/public/")


def _page_caching(response: flask.Response) -> flask.Response:
    """Public pages are the same for every visitor: cacheable for a minute (a news spike is
    absorbed by browsers and any proxy), with an ETag of the data version they show, so a
    revalidation after a publish fetches the page again and before it gets a 304."""
    if (flask.request.method != "GET" or response.status_code != 200 or response.mimetype != "text/html"
            or not _is_public_page() or "Cache-Control" in response.headers):
        return response
    try:
        version = snapshot.version("public")
    except snapshot.DataUnavailable:
        return response
    response.headers["Cache-Control"] = CACHE_CONTROL
    # the path as a digest: raw, a quote (%22) or a non-Latin-1 character made the header invalid (500)
    digest = hashlib.sha256(flask.request.full_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    response.set_etag(f"{version}-{digest}")
    return response.make_conditional(flask.request)


def _page_language(response: flask.Response) -> flask.Response:
    """Set the page language on Dash's HTML shell (``<html lang="en">``, or the ``?lang=`` of
    the public pages) for screen readers."""
    if response.mimetype == "text/html" and not response.direct_passthrough and response.status_code in (200, 404):
        body = response.get_data()
        if b"<html>" in body[:300]:
            lang = "es" if flask.request.args.get("lang") == "es" else "en"
            response.set_data(body.replace(b"<html>", f'<html lang="{lang}">'.encode(), 1))
    return response
