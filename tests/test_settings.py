"""Settings: one table, env overrides, every setting documented in the README."""
import re
from pathlib import Path

import pytest

from data import settings

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_readme(setting):
    text = README.read_text(encoding="utf-8")
    assert f"`{setting.env}`" in text, f"{setting.env} is missing from the README settings table"


def test_every_setting_has_help_and_a_lowercase_name():
    for setting in settings.SETTINGS:
        assert re.fullmatch(r"[a-z][a-z0-9_]+", setting.name)
        assert len(setting.help) > 15


def test_environment_overrides_default_with_the_right_type(monkeypatch):
    monkeypatch.setenv("CITYOPS_WALL_REFRESH_S", "12")
    monkeypatch.setenv("CITYOPS_LIVE_FEED", "false")
    monkeypatch.setenv("CITYOPS_SNAPSHOT_GRACE_S", "1.5")
    assert settings.get("wall_refresh_s") == 12
    assert settings.get("live_feed") is False
    assert settings.get("snapshot_grace_s") == 1.5


def test_bad_override_stops_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("CITYOPS_PORT", "eighty")
    with pytest.raises(SystemExit, match="CITYOPS_PORT"):
        settings.get("port")


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("CITYOPS_MODE", "admin")
    with pytest.raises(SystemExit, match="CITYOPS_MODE"):
        settings.mode()


def test_no_module_reads_the_environment_directly():
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for folder in ("data", "layouts", "callbacks"):
        for path in (root / folder).rglob("*.py"):
            if path.name != "settings.py" and "os.environ" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(root)))
    assert (root / "app.py").read_text().count("os.environ") == 0
    assert offenders == []
