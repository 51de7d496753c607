"""One alert (/alerts/<id>): its facts, its metric around the episode with the expected band,
its timeline and notes, the actions (acknowledge, assign, snooze, resolve with a note, add a
note) and the other domains' signals in the same district and hours."""
import dash
from dash import dcc, html

from layouts import ids

dash.register_page(__name__, path_template="/alerts/<episode>", title="CityOps — alert", name="Alert",
                   audience="ops", order=4.1)

ACTIONS = [{"label": "Acknowledge", "value": "acknowledge"}, {"label": "Assign to…", "value": "assign"},
           {"label": "Snooze until…", "value": "snooze"}, {"label": "Resolve (with a note)", "value": "resolve"},
           {"label": "Add a note", "value": "note"}]


def layout(episode=None, **_ignored):
    episode_id = int(episode) if isinstance(episode, str) and episode.isdigit() and len(episode) < 12 else None
    return html.Div(
        [
            dcc.Store(id=ids.ALERT_ID, data=episode_id),
            dcc.Store(id=ids.ALERT_CHANGED, data=0),
            dcc.Link("← All alerts", href="/alerts", className="small"),
            html.Div(id=ids.ALERT_HEAD, className="alert-head", children=html.H1("Alert")),
            dcc.Graph(id=ids.ALERT_CHART, className="alert-chart", config={"displaylogo": False}),
            html.Div(
                [
                    html.Section([html.H2("Timeline and notes", className="h5"),
                                  html.Div(id=ids.ALERT_TIMELINE)], className="alert-col"),
                    html.Section(
                        [
                            html.H2("Act", className="h5"),
                            html.Div(
                                [
                                    html.Label("Action", htmlFor=ids.ALERT_ACTION, className="form-label small mb-0"),
                                    dcc.Dropdown(id=ids.ALERT_ACTION, options=ACTIONS, value="acknowledge",
                                                 clearable=False),
                                    html.Label("Assign to (user name)", htmlFor=ids.ALERT_ASSIGNEE,
                                               className="form-label small mb-0 mt-2"),
                                    dcc.Input(id=ids.ALERT_ASSIGNEE, type="text", maxLength=64,
                                              className="form-control form-control-sm"),
                                    html.Label("Snooze until", htmlFor=ids.ALERT_UNTIL,
                                               className="form-label small mb-0 mt-2"),
                                    dcc.Input(id=ids.ALERT_UNTIL, type="datetime-local",
                                              className="form-control form-control-sm"),
                                    html.Label("Note", htmlFor=ids.ALERT_NOTE, className="form-label small mb-0 mt-2"),
                                    dcc.Textarea(id=ids.ALERT_NOTE, maxLength=2000, className="form-control",
                                                 style={"height": "6em"}),
                                    html.Button("Save", id=ids.ALERT_SUBMIT, n_clicks=0,
                                                className="btn btn-primary btn-sm mt-2"),
                                    html.Div(id=ids.ALERT_RESULT, role="status", className="mt-2"),
                                ],
                                id=ids.ALERT_FORM,
                            ),
                        ],
                        className="alert-col alert-col--act",
                    ),
                ],
                className="alert-cols",
            ),
            html.H2("Other domains in the same district and hours", className="h5 mt-4"),
            dcc.Loading(html.Div(id=ids.ALERT_SIGNALS), delay_show=400),
        ],
        className="alert-page",
    )
