"""Alerts: the work queue of alert episodes (one per metric × district × rule, decided by the
detector in the writer process, never here), filtered, sorted and grouped; each row with its
facts, a sparkline with the expected band, and links to the alert and to the explorer.

    /alerts?state=open,acknowledged&domain=waste&severity=critical&district=101&group=district&sort=newest
"""
import dash
from dash import dcc, html

from data import registry
from layouts import ids

dash.register_page(__name__, path="/alerts", title="CityOps — alerts", name="Alerts", nav="Alerts",
                   audience="ops", order=4)

STATE_OPTIONS = [{"label": " Open", "value": "open"}, {"label": " Acknowledged", "value": "acknowledged"},
                 {"label": " Snoozed", "value": "snoozed"}, {"label": " Resolved (7 days)", "value": "resolved"}]
DEFAULT_STATES = ["open", "acknowledged", "snoozed"]
SORT_OPTIONS = [{"label": "Critical first", "value": "severity"}, {"label": "Newest first", "value": "newest"},
                {"label": "Oldest first", "value": "oldest"}, {"label": "Furthest out first", "value": "furthest"}]
GROUP_OPTIONS = [{"label": " None", "value": "none"}, {"label": " District", "value": "district"},
                 {"label": " Domain", "value": "domain"}]


def _pick(value, allowed, default):
    return value if isinstance(value, str) and value in allowed else default


def initial(state=None, domain=None, severity=None, district=None, group=None, sort=None) -> dict:
    """URL values → the filters' first values (anything unknown falls back to the default)."""
    states = [s for s in (state.split(",") if isinstance(state, str) else []) if s in {o["value"] for o in STATE_OPTIONS}]
    return {"states": states or DEFAULT_STATES, "domain": _pick(domain, registry.DOMAINS, None),
            "severity": _pick(severity, ("critical", "warning"), None),
            "district": district[:20] if isinstance(district, str) and district.isalnum() else None,
            "group": _pick(group, ("none", "district", "domain"), "none"),
            "sort": _pick(sort, {o["value"] for o in SORT_OPTIONS}, "severity")}


def _field(label, control, for_id, class_name=""):
    return html.Div([html.Label(label, htmlFor=for_id, className="form-label small mb-0"), control],
                    className="alerts-filter " + class_name)


def layout(state=None, domain=None, severity=None, district=None, group=None, sort=None, **_ignored):
    first = initial(state, domain, severity, district, group, sort)
    domains = [{"label": registry.DOMAIN_LABELS[d], "value": d} for d in registry.DOMAINS]
    return html.Div(
        [
            html.Div([html.H1("Alerts", className="mb-0"),
                      dcc.Link("Shift log →", href="/shift-log", className="ms-auto")],
                     className="d-flex align-items-baseline gap-3"),
            html.P("Alert episodes from the detector (one per metric, district and rule; see the methodology). "
                   "Acknowledge, assign, snooze or resolve one from its page. Officials act on their districts; "
                   "analysts and wall screens read only. Refreshes every minute.", className="text-muted small"),
            html.Div(
                [
                    html.Fieldset([html.Legend("State", className="form-label small mb-0"),
                                   dcc.Checklist(id=ids.ALERTS_STATES, options=STATE_OPTIONS, value=first["states"],
                                                 inline=True, inputClassName="me-1", labelClassName="me-3")],
                                  className="alerts-filter alerts-filter--states"),
                    _field("Domain", dcc.Dropdown(id=ids.ALERTS_DOMAIN, options=domains, value=first["domain"],
                                                  placeholder="All domains"), ids.ALERTS_DOMAIN),
                    _field("Severity", dcc.Dropdown(id=ids.ALERTS_SEVERITY, value=first["severity"],
                                                    options=[{"label": "✖ Critical", "value": "critical"},
                                                             {"label": "⚠ Warning", "value": "warning"}],
                                                    placeholder="Both"), ids.ALERTS_SEVERITY),
                    _field("District", dcc.Dropdown(id=ids.ALERTS_DISTRICT, options=[], value=first["district"],
                                                    placeholder="All your districts"), ids.ALERTS_DISTRICT),
                    _field("Sort", dcc.Dropdown(id=ids.ALERTS_SORT, options=SORT_OPTIONS, value=first["sort"],
                                                clearable=False), ids.ALERTS_SORT),
                    html.Fieldset([html.Legend("Group by", className="form-label small mb-0"),
                                   dcc.RadioItems(id=ids.ALERTS_GROUP, options=GROUP_OPTIONS, value=first["group"],
                                                  inline=True, inputClassName="me-1", labelClassName="me-3")],
                                  className="alerts-filter"),
                ],
                className="alerts-filters",
            ),
            dcc.Interval(id=ids.ALERTS_TICK, interval=60_000),
            dcc.Store(id=ids.ALERTS_CHANGED, data=0),
            html.Div(id=ids.ALERTS_RESULT, role="status", className="alerts-result"),
            dcc.Loading(html.Div(id=ids.ALERTS_TABLE, className="alerts-queue"), delay_show=400),
            html.H2("Alert volume and response times, last 30 days", className="h5 mt-4"),
            html.P("Per domain, for the districts you may see: alerts opened, still open, and the median time from "
                   "opening to acknowledgement and to resolution (ops only; not published).",
                   className="text-muted small"),
            html.Div(id=ids.ALERTS_STATS),
        ],
        className="alerts-page",
    )
