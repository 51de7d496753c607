"""Overview page: city KPI cards for every metric."""
import dash
from dash import Input, Output

from callbacks import auth, common
from layouts import ids


@dash.callback(Output(ids.HOME_KPIS, "children"), Input(ids.SHELL_LOCATION, "pathname"))
@auth.requires("read")
@common.guarded("message")
def home_kpis(_pathname):
    metrics = common.available_metrics()
    return [common.kpi_cards([m], district="city", grain=common.valid_grain("day", m))[0] for m in metrics]
