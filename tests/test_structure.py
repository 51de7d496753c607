"""The import rules of the serving path hold on every run (issue 18): no module imports a page
module, no data module imports layouts or callbacks, no page's callbacks import another page's,
and no import cycle anywhere in app, layouts, callbacks, data and queries (bench/structure.py)."""
from __future__ import annotations

from bench import structure
from tests.live import ROOT


def test_no_module_breaks_the_import_rules_and_none_imports_in_a_cycle():
    shape = structure.measure(ROOT)
    assert len(shape.sizes) > 100 and shape.pages  # it read the tree
    assert shape.violations() == []
    assert shape.cycles() == []


def test_the_check_catches_a_data_module_importing_a_page_and_a_cycle(tmp_path):
    (tmp_path / "layouts" / "ops").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "layouts" / "ops" / "home.py").write_text("import dash\ndash.register_page(__name__)\n")
    (tmp_path / "data" / "a.py").write_text("from data import b\nfrom layouts.ops import home\n")
    (tmp_path / "data" / "b.py").write_text("def f():\n    from data import a\n")
    shape = structure.measure(tmp_path)
    assert "data.a imports page module layouts.ops.home" in shape.violations()
    assert shape.cycles() == [["data.a", "data.b"]]
