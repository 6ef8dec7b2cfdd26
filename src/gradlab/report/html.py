"""``reports/index.html``: the report as one page that a browser opens from disk.

The Markdown of ``index.md`` (a Git host's view) rendered by markdown-it-py with
GitHub's table syntax, in a page that needs nothing from the network: the style
sheet is inline, the figures and their SVG/CSV links are the files beside it
(``figures/…``, relative, as in the Markdown), and the wide summary table
scrolls sideways instead of squeezing its columns.
"""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

#: Inline style: readable widths, figures no wider than the page, tables that scroll.
STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1b1b1b; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
em { color: #444; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; text-align: right; }
th { background: #f3f3f3; position: sticky; top: 0; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f3f3f3; padding: 0 .2rem; }
"""


def index_html(markdown_text: str, title: str = "gradlab report") -> str:
    """The whole page for ``markdown_text`` (the content of ``index.md``)."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(markdown_text)
    body = body.replace("<table>", '<div class="table"><table>').replace(
        "</table>", "</table></div>"
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )
