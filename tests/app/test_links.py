"""A link's values, good and bad: a preset runs exactly its values; a bad value is one visible line, shown as text,
dropped from the address, never a traceback (every bad value in a real browser: tests/e2e/test_links_browser.py)."""

from tests.helpers import open_page


def link_notice(app) -> str:
    """The page's one line about its link: a warning outside every expander (a collapsed one hides it)."""
    hidden = {w.value for expander in app.expander for w in expander.warning}
    [line] = [w.value for w in app.warning if w.value.startswith("Ignored in this link") and w.value not in hidden]
    return line


def test_a_nan_in_the_link_is_ignored_and_leaves_the_address(fresh_app):
    app = open_page("tdm", gx="nan", sy="inf")
    assert not app.exception
    assert "` gx ` = ` nan `" in link_notice(app) and "` sy ` = ` inf `" in link_notice(app)
    assert app.query_params["gx"] == "0.6"  # the default goal, so a reload does not meet the NaN again
    assert len(app.get("plotly_chart")) >= 2


def test_bad_values_are_one_visible_line_shown_as_text(fresh_app):
    app = open_page("meta_rl", preset="nope", lr="[a link](http://example.com)", run="<b>7</b>")
    assert not app.exception
    line = link_notice(app)
    # each value in a code span: markdown, HTML and a bare address are not interpreted there
    assert "` preset ` = ` nope `" in line and "` lr ` = ` [a link](http://example.com) `" in line
    assert "` run ` = ` <b>7</b> `" in line
    assert "lr" not in app.query_params and "run" not in app.query_params and app.query_params["preset"] == "quick"


def test_a_preset_reaches_the_run_exactly(fresh_app):
    app = open_page("meta_rl")
    app.selectbox(key="meta_rl.preset").set_value("paper").run()
    assert app.select_slider(key="meta_rl.param.lr").value == 5e-4
    assert "lr" not in app.query_params  # the preset's own value: nothing overridden
