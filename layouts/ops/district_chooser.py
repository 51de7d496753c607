"""My districts: the chooser of the signed-in caller's districts (an official of several, or an
admin or analyst who sees every district). An official of one district is sent to its page by
the "My district" link and at sign-in (data.district_profile.my_district_path)."""
import dash
from dash import dcc, html

from data import access, lookups
from data.snapshot import DataUnavailable
from layouts import components, ids

dash.register_page(__name__, path="/district", title="CityOps — my districts", name="My districts",
                   audience="ops", order=4)


def layout(**_ignored):
    principal = access.current()
    try:
        frame = lookups.districts()
    except DataUnavailable:
        return html.Div([html.H1("My districts"), components.notice("No data is published yet.")],
                        id=ids.DISTRICT_CHOOSER)
    frame = frame[frame["district_id"] != "city"]
    mine = frame[[principal is not None and principal.sees(d) for d in frame["district_id"]]]
    if mine.empty:
        return html.Div([html.H1("My districts"),
                         components.notice("Your account has no district; ask an administrator to add yours.")],
                        id=ids.DISTRICT_CHOOSER)
    groups = []
    for borough, part in mine.groupby("borough", sort=True, dropna=False):
        groups.append(html.Section([
            html.H2(str(borough) if borough == borough else "Other", className="h5 mt-3"),
            html.Ul([html.Li(dcc.Link(name, href=f"/district/{d}")) for d, name in zip(part["district_id"], part["name"], strict=False)],
                    className="district-list district-chooser-list"),
        ]))
    every = principal is not None and principal.districts == access.ALL
    intro = ("Your account sees every district; pick one." if every else
             f"Your {len(mine)} districts; pick one. Other districts are outside your districts.")
    return html.Div([html.H1("My districts"), html.P(intro, className="text-muted"), *groups], id=ids.DISTRICT_CHOOSER)
