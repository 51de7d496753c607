"""My district: pick a district, see its scorecard next to the whole city. ``?lang=es``.

The picker is a native text input with a list of suggestions (``<datalist>``): it works
with a keyboard and screen readers as any form field does. Every district is also a plain
link (``?district=<id>``), so a scorecard can be shared by URL."""
import dash
from dash import dcc, html

from data import lookups, settings
from data.i18n import t, valid_lang
from data.snapshot import DataUnavailable
from layouts import components, ids
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/district"), title=parts.page_title("district_title"),
                   name="My district", nav="My district", audience="public", nav_key="nav_district", order=11)


def _districts():
    try:
        frame = lookups.districts("public")
    except DataUnavailable:
        return None
    frame = frame[~frame["is_joint_area"].astype(bool)]
    # natural order: "CD 2" before "CD 10"
    return frame.sort_values(["borough", "name"], key=lambda column: column.map(parts.natural_key))


def layout(district=None, lang=None, **_ignored):
    """``?district=<id>`` opens that district (a shared link); an id that is not a public
    district gets a notice saying so, and no district is shown in its place."""
    lang = valid_lang(lang)
    frame = _districts()
    names = {} if frame is None else dict(zip(frame["district_id"], frame["name"], strict=False))
    asked = district if isinstance(district, str) and district.strip() else None
    unknown = asked is not None and asked not in names
    chosen = asked if asked in names else (None if unknown else next(iter(names), None))
    boroughs = [] if frame is None else [
        html.Li([html.Strong(borough), ": "] + [
            html.Span([dcc.Link(row.name, href=parts.href(f"/district?district={row.district_id}", lang)), " "])
            for row in part.itertuples()])
        for borough, part in frame.groupby("borough", sort=False)
    ]
    return html.Div(
        [
            parts.language_bar("/district" + (f"?district={chosen}" if chosen else ""), lang),
            dcc.Store(id=ids.PUBLIC_DISTRICT_CHOSEN), dcc.Store(id=ids.PUBLIC_DISTRICT_URL),
            html.H1(t("district_title", lang)),
            html.P(t("district_intro", lang)),
            components.notice(t("district_unknown", lang, district=asked[:40]), color="warning")
            if unknown else None,
            html.Label(t("district_label", lang), htmlFor=ids.PUBLIC_DISTRICT_PICK, className="form-label fw-semibold"),
            dcc.Input(id=ids.PUBLIC_DISTRICT_PICK, type="search", list=ids.PUBLIC_DISTRICT_NAMES,
                      value=names.get(chosen, ""), debounce=True, autoComplete="off",
                      className="form-control public-district-pick"),
            html.Datalist([html.Option(value=name) for name in sorted(names.values(), key=parts.natural_key)],
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
