"""The shell: the data-status line (data version and publish time, or 'no data') and the
navigation, both in the page's language (``?lang=``), and the document's language attribute."""
from __future__ import annotations

from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output

from callbacks.common import db_for_mode
from data import access, i18n, repository, settings, snapshot
from data.snapshot import DataUnavailable
from data.web import guard
from layouts import ids, shell


def _lang(search) -> str:
    if not isinstance(search, str) or len(search) > 2000:
        return i18n.DEFAULT
    return i18n.valid_lang((parse_qs(search.lstrip("?")).get("lang") or [None])[0])


@dash.callback(Output(ids.SHELL_STATUS, "children"), Input(ids.SHELL_POLL, "n_intervals"),
               Input(ids.SHELL_LOCATION, "search"))
@guard.requires("public")
def data_status(_n, search=None):
    lang = _lang(search)
    try:
        meta = repository.run({"ops": "ops/meta", "public": "public/meta"}[db_for_mode()])
    except DataUnavailable:
        return i18n.t("no_data_published", lang)
    published = meta["published_at"].iloc[0]
    line = i18n.t("data_published", lang, when=i18n.date_time(published, lang), version=meta["version"].iloc[0])
    fallback = snapshot.status(db_for_mode())  # a damaged current release: say what is shown
    return line if fallback is None else f"{line} · {i18n.t('data_fallback', lang, wanted=fallback['wanted'])}"


@dash.callback(Output(ids.SHELL_NAV, "children"), Output(ids.SHELL_BRAND, "children"),
               Output(ids.SHELL_ACCOUNT, "children"), Input(ids.SHELL_LOCATION, "search"),
               prevent_initial_call=True)
@guard.requires("public")
def navigation(search):
    """The navigation, the site name and the sign-in link in the page's language. A signed-in
    caller's account box (name, sign-out form with its CSRF token) is left as the server drew it."""
    lang = _lang(search)
    principal = access.current()
    mode = settings.mode()
    signed_in = principal is not None
    return (shell.nav_links(signed_in or mode == "public", lang, principal=principal), shell.brand(mode, lang),
            dash.no_update if signed_in else shell.account(None, mode, lang))


# <html lang> follows ?lang= (screen readers pronounce the page in its language)
dash.clientside_callback(ClientsideFunction(namespace="cityops", function_name="documentLanguage"),
                         Output(ids.SHELL_LANG, "data"), Input(ids.SHELL_LOCATION, "search"))
