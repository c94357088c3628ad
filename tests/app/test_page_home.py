"""The home screen: says what the tool does, draws a live example, links to every page."""

from app_helpers import figure, no_exception, open_page, trace


def test_home_runs_and_draws_the_example_chart():
    at = open_page()
    no_exception(at)
    assert "Continual pre-training scaling law" in at.title[0].value
    fig = figure(at)
    _, general = trace(fig, "predicted general loss")
    _, domain = trace(fig, "predicted domain loss")
    assert general.size > 100 and domain.size > 100
    # the domain loss ends below where it started CPT: the example shows a real transfer
    assert domain[-1] < domain[len(domain) // 2 - 50]
    assert [m.label for m in at.metric][:2] == ["General Δ", "Domain Δ"]


def test_home_links_to_the_pages():
    at = open_page()
    links = at.get("page_link")
    labels = " ".join(str(link.proto.label) for link in links)
    for page in ("Explore", "Fit", "Learn"):
        assert page in labels
