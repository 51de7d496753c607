"""The open-data API explained for people: every endpoint of the OpenAPI document
(data.web.public_api.openapi_document) with what it returns, its parameters and an example
link, next to the machine-readable document itself. ``?lang=es``."""
import dash
from dash import html

from data.i18n import t, valid_lang
from data.web import public_api
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/api"), title=parts.page_title("api_title"),
                   name="Open data API", audience="public", order=13)

# OpenAPI path -> (catalogue key of its description, an example query)
ENDPOINTS = {
    "/": ("api_index", ""),
    "/openapi.json": ("api_openapi", ""),
    "/metrics": ("api_metrics", ""),
    "/metrics/{metric_id}": ("api_metric", ""),
    "/metrics/{metric_id}/values": ("api_values", "?grain=month&district=city"),
    "/districts": ("api_districts", ""),
}
EXAMPLE_METRIC = "sr_opened"


def _values(param: dict):
    """The literal values a parameter takes (code, as typed in a URL): its enum, or 'city'."""
    enum = (param.get("schema") or {}).get("enum")
    if enum:
        return html.Code(" | ".join(enum))
    return html.Code("city") if param["name"] == "district" else None


def _parameters(operation: dict, lang: str):
    params = operation.get("parameters") or []
    if not params:
        return html.P(t("api_no_parameters", lang), className="small text-muted")
    name, where, means = (t(key, lang) for key in ("api_col_name", "api_col_where", "api_col_means"))
    rows = [html.Tr([html.Td(html.Code(p["name"]), **{"data-label": name}),
                     html.Td(t("api_in_path", lang) if p.get("in") == "path" else t("api_in_query", lang),
                             **{"data-label": where}),
                     html.Td([t(f"api_param_{p['name']}", lang), " ", _values(p)], **{"data-label": means},
                             className="api-meaning")]) for p in params]
    head = html.Thead(html.Tr([html.Th(t(key, lang), scope="col") for key in ("api_col_name", "api_col_where", "api_col_means")]))
    return html.Table([head, html.Tbody(rows)], className="table table-sm public-reflow")


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    document = public_api.openapi_document()
    base = public_api.prefix() + public_api.API
    sections = []
    for path, operations in document["paths"].items():
        key, query = ENDPOINTS.get(path, ("api_other", ""))
        operation = operations.get("get", {})
        example = base + path.replace("{metric_id}", EXAMPLE_METRIC).rstrip("/") + query
        sections.append(html.Section([
            html.H3([html.Code("GET " + base + path)], className="h6"),
            html.P(t(key, lang)),
            _parameters(operation, lang),
            html.P([t("api_example", lang), " ", html.A(html.Code(example), href=example)], className="small"),
        ], className="api-endpoint"))
    return html.Div(
        [
            parts.language_bar("/api", lang),
            html.H1(t("api_title", lang)),
            html.P(t("api_intro", lang)),
            html.Ul([
                html.Li([t("api_base", lang), " ", html.Code(base)]),
                html.Li([t("api_document", lang), " ", html.A(t("api_document_link", lang), href=base + "/openapi.json")]),
                html.Li(t("api_versioning", lang)),
                html.Li(t("api_withheld", lang)),
            ]),
            html.H2(t("api_endpoints", lang), className="h4"),
            *sections,
            html.H2(t("downloads", lang), className="h4"),
            html.P([t("api_downloads", lang), " ",
                    html.Code(public_api.prefix() + "/download/{metric_id}.{csv|json|parquet}")]),
        ],
        lang=lang,
        className="public-page",
    )
