"""Public overview callbacks: reads only the public snapshot."""
import dash
from dash import Input, Output

from callbacks import common
from data import registry
from layouts import ids


@dash.callback(Output(ids.PUBLIC_KPIS, "children"), Input(ids.SHELL_LOCATION, "pathname"))
@common.guarded("message")
def public_kpis(_pathname):
    return common.kpi_cards(registry.public_metrics(), district="city", grain="week", db="public")
