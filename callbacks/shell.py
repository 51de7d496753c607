"""The shell: the data-status line (data version and publish time, or 'no data') and the
navigation, both in the page's language (``?lang=``), and the document's language attribute."""
from __future__ import annotations

from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output

from callbacks import auth
from callbacks.common import db_for_mode
from data import access, i18n, repository, settings, snapshot
from data.snapshot import DataUnavailable
from layouts import ids, shell


def _lang(search) -> str:
    if not isinstance(search, str) or len(search) > 2000:
        return i18n.DEFAULT
    return i18n.valid_lang((parse_qs(search.lstrip("?")).get("lang") or [None])[0])


@dash.callback(Output(ids.SHELL_STATUS, "children"), Input(ids.SHELL_POLL, "n_intervals"),
               Input(ids.SHELL_LOCATION, "search"))
@auth.requires("public")
def data_status(_n, search=None):
    lang = _lang(search)
    try:
        meta = repository.run({"ops": "ops/meta", "public": "public/meta"}[db_for_mode()])
    except DataUnavailable:
        return i18n.t("no_data_published", lang)
    published = meta["published_at"].iloc[0]
    line = i18n.t("data_published", lang, when=f"{published:%d %b %H:%M:%S}", version=meta["version"].iloc[0])
    fallback = snapshot.status(db_for_mode())  # a damaged current release: say what is shown
    return line if fallback is None else f"{line} · {i18n.t('data_fallback', lang, wanted=fallback['wanted'])}"


@dash.callback(Output(ids.SHELL_NAV, "children"), Input(ids.SHELL_LOCATION, "search"),
               prevent_initial_call=True)
@auth.requires("public")
def navigation(search):
    return shell.nav_links(access.current() is not None or settings.mode() == "public", _lang(search),
                           principal=access.current())


# <html lang> follows ?lang= (screen readers pronounce the page in its language)
dash.clientside_callback(ClientsideFunction(namespace="cityops", function_name="documentLanguage"),
                         Output(ids.SHELL_LANG, "data"), Input(ids.SHELL_LOCATION, "search"))
