"""My district: pick a district, see its scorecard next to the whole city. ``?lang=es``.

The picker is a native text input with a list of suggestions (``<datalist>``): it works
with a keyboard and screen readers as any form field does. Every district is also a plain
link (``?district=<id>``), so a scorecard can be shared by URL."""
import dash
from dash import dcc, html

from data import lookups, settings
from data.i18n import t, valid_lang
from data.snapshot import DataUnavailable
from layouts import ids
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/district"), title="My district — CityOps",
                   name="My district", nav="My district", audience="public", nav_key="nav_district", order=11)


def _districts():
    try:
        frame = lookups.districts("public")
    except DataUnavailable:
        return None
    return frame[~frame["is_joint_area"].astype(bool)].sort_values(["borough", "name"])


def layout(district=None, lang=None, **_ignored):
    lang = valid_lang(lang)
    frame = _districts()
    names = {} if frame is None else dict(zip(frame["district_id"], frame["name"]))
    chosen = district if isinstance(district, str) and district in names else (next(iter(names), None))
    boroughs = [] if frame is None else [
        html.Li([html.Strong(borough), ": "] + [
            html.Span([dcc.Link(row.name, href=parts.href(f"/district?district={row.district_id}", lang)), " "])
            for row in part.itertuples()])
        for borough, part in frame.groupby("borough", sort=True)
    ]
    return html.Div(
        [
            parts.language_bar("/district" + (f"?district={chosen}" if chosen else ""), lang),
            html.H1(t("district_title", lang)),
            html.P(t("district_intro", lang)),
            html.Label(t("district_label", lang), htmlFor=ids.PUBLIC_DISTRICT_PICK, className="form-label fw-semibold"),
            dcc.Input(id=ids.PUBLIC_DISTRICT_PICK, type="search", list=ids.PUBLIC_DISTRICT_NAMES,
                      value=names.get(chosen, ""), debounce=True, autoComplete="off",
                      className="form-control public-district-pick"),
            html.Datalist([html.Option(value=name) for name in sorted(names.values())],
                          id=ids.PUBLIC_DISTRICT_NAMES),
            html.P(id=ids.PUBLIC_DISTRICT_SUMMARY, className="lead mt-3", **{"aria-live": "polite"}),
            dcc.Loading(html.Div(id=ids.PUBLIC_DISTRICT_CARD)),
            parts.withheld_note(int(settings.get("suppression_k")), lang),
            html.Details([html.Summary(t("district_all", lang)), html.Ul(boroughs, className="district-links")]),
            html.P(dcc.Link(t("link_methodology", lang), href=parts.href("/methodology", lang))),
        ],
        lang=lang,
        className="public-page",
    )
