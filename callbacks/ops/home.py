"""Overview page: city KPI cards for every metric."""
import dash
from dash import Input, Output

from callbacks import common
from data.web import guard
from layouts import ids


@dash.callback(Output(ids.HOME_KPIS, "children"), Input(ids.SHELL_LOCATION, "pathname"))
@guard.requires("read")
@common.guarded("message")
def home_kpis(_pathname):
    """Today's figure of every metric with data, city-wide (a metric published by month only,
    like monthly tonnage, shows its latest month)."""
    return common.kpi_cards(common.available_metrics(), district="city", grain="day")
