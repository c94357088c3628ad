"""Theme: viewers choose light or dark in the settings menu, and the charts follow their choice."""

import tomllib

import pytest
from app_helpers import ROOT, TIMEOUT, figure, no_exception

GRID = "rgba(100,116,139,0.3)"  # the grid on the page, either theme (cptcore.plots.BOTH_THEMES)


def _explore(theme: str | None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.context["theme"] = theme
    at.run()
    at.switch_page("pages/explore.py")
    at.run()
    no_exception(at)
    return at


def test_config_lets_viewers_choose_light_or_dark():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert "base" not in cfg.get("theme", {})  # a base would force one theme
    assert cfg["client"].get("toolbarMode", "auto") != "minimal"  # minimal hides the menu
    assert {"light", "dark"} <= set(cfg["theme"])  # our palette in both


def test_charts_use_streamlits_theme_so_a_switch_in_the_menu_shows_at_once():
    at = _explore("light")
    assert all(c.proto.theme == "streamlit" for c in at.get("plotly_chart"))
    assert figure(at)["layout"]["plot_bgcolor"] == "rgba(0,0,0,0)"  # the theme shows through


@pytest.mark.parametrize("theme", ["light", None])
def test_charts_are_light_in_the_light_theme(theme):
    layout = figure(_explore(theme))["layout"]
    assert "plotly_dark" not in str(layout.get("template", ""))
    assert layout["xaxis"]["gridcolor"] == GRID


def test_charts_turn_dark_in_the_dark_theme():
    fig = figure(_explore("dark"))
    layout = fig["layout"]
    assert layout["plot_bgcolor"] == "rgba(0,0,0,0)"
    assert layout["template"]["layout"]["paper_bgcolor"] == "rgb(17,17,17)"  # plotly_dark
    inks = str(layout.get("shapes", "")) + str(layout.get("annotations", ""))
    assert "#334155" not in inks  # dark-on-dark rules and labels were swapped for light ones
