"""The Flask extensions of the web layer, one instance each per process, bound to the server
by data.web.config.install: rate limits (Flask-Limiter), CSRF (Flask-WTF) and the signed-in
user (Flask-Login; its user loader is in data.web.sign_in)."""
from __future__ import annotations

import flask_login
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

# storage: the rate_limit_storage setting (RATELIMIT_STORAGE_URI, set in config.install)
limiter = Limiter(get_remote_address, default_limits=[], headers_enabled=True, strategy="moving-window")
csrf = CSRFProtect()
login_manager = flask_login.LoginManager()
