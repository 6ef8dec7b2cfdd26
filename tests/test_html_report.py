"""reports/index.html and how a report names its store."""

from html.parser import HTMLParser

from gradlab.report.html import index_html
from gradlab.track.client import store_label

MARKDOWN = """# gradlab report

![Figure 1. Gradient](figures/gradient_vs_layer.png)

*Caption with ‖∇b^l‖.* [SVG](figures/gradient_vs_layer.svg) · [data](figures/gradient_vs_layer.csv)

| run | vanish ratio |
|---|---|
| `sigmoid-d5` | 1.2e-05 |
| `relu-d5` | 0.98 |
"""


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.seen = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))


def test_index_html_keeps_figures_links_and_table_and_needs_no_network():
    page = index_html(MARKDOWN)
    tags = Tags()
    tags.feed(page)
    srcs = [a["src"] for t, a in tags.seen if t == "img"]
    hrefs = [a["href"] for t, a in tags.seen if t == "a"]
    assert srcs == ["figures/gradient_vs_layer.png"]
    assert hrefs == ["figures/gradient_vs_layer.svg", "figures/gradient_vs_layer.csv"]
    cells = [t for t, _ in tags.seen if t == "td"]
    assert len(cells) == 4  # the table is a table, not text with pipes
    assert ("div", {"class": "table"}) in tags.seen  # wide tables scroll sideways
    assert "http" not in page and "<script" not in page and "<link" not in page
    assert "‖∇b^l‖" in page


def test_store_is_named_relative_to_the_repository(tmp_path):
    inside = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert store_label(inside, tmp_path) == "`mlflow.db` of this repository"
    assert store_label(inside, tmp_path / "elsewhere") == f"`{inside}`"
    assert store_label("http://ann:secret@host:5000", tmp_path) == "`http://host:5000`"
