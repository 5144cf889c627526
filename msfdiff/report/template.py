"""The page skeleton and its HTML pieces: inline CSS only, no scripts, fonts or links.

Every function returns an HTML fragment with its text escaped, so section builders never
write markup or escaping themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from msfdiff.report.embed import data_uri


def page(*, title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: Sequence[str]) -> str:
    """The whole document: a header with ``nav`` links (anchor, text) over the sections."""
    links = "".join(f'<a href="#{key}">{escape(text)}</a>' for key, text in nav)
    return _PAGE.format(
        title=escape(title), css=_CSS, subtitle=escape(subtitle), nav=links, body="\n".join(body)
    )


def section(key: str, title: str, body: Sequence[str]) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(body)}</section>'


def heading(text: str) -> str:
    return f"<h3>{escape(text)}</h3>"


def figure(png: Path, caption: str) -> str:
    """A picture embedded from ``png``; its caption is also its alt text."""
    return (
        f'<figure><img src="{data_uri(png)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def thumb(png: Path, caption: str) -> str:
    return (
        f'<figure class="thumb"><img src="{data_uri(png)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def thumbs(items: list[str], text: str) -> str:
    """A gallery of :func:`thumb` figures with one caption below."""
    return f'<div class="gallery">{"".join(items)}</div>' + caption(text)


def caption(text: str) -> str:
    return f'<p class="caption">{escape(text)}</p>'


def note(text: str) -> str:
    """The grey note that stands in for a part that is missing or unreadable."""
    return f'<p class="note">{escape(text)}</p>'


def table(header: tuple[str, ...], rows: Sequence[tuple]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def folded(summary: str, html: str, *, unfolded: bool = False) -> str:
    """``html`` inside a ``<details>`` block that shows ``summary`` when folded."""
    flag = " open" if unfolded else ""
    return f"<details{flag}><summary>{escape(summary)}</summary>{html}</details>"


def preformatted(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def bullets(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


_CSS = """
:root { --ink: #1d2330; --muted: #6b7280; --line: #d9dde5; --accent: #2f6f9f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f6f7f9; }
header { background: #1f3a52; color: #fff; padding: 18px 32px 10px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 10px; color: #c9d6e2; font-size: 13px; word-break: break-all; }
nav a { color: #fff; margin-right: 16px; font-size: 13px; text-decoration: none;
        border-bottom: 1px dotted #9fb6ca; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 6px 22px 18px; margin: 18px 0; }
h2 { font-size: 19px; color: var(--accent); border-bottom: 1px solid var(--line);
     padding-bottom: 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
figure { margin: 12px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption, .caption { color: #374151; font-size: 13px; margin-top: 6px; max-width: 900px; }
.gallery { display: flex; flex-wrap: wrap; gap: 10px; }
.gallery figure.thumb { margin: 0; width: 164px; }
figure.thumb img { width: 160px; height: 160px; object-fit: cover; image-rendering: pixelated; }
figure.thumb figcaption { font-size: 11px; overflow-wrap: anywhere; margin-top: 2px; }
.note { color: var(--muted); font-style: italic; margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 12px 4px 0; text-align: left;
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td:first-child { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f3f4f6; padding: 10px 12px; overflow-x: auto; font-size: 12px;
      max-height: 420px; }
summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
"""


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><p>{subtitle}</p><nav>{nav}</nav></header>
<main>
{body}
</main>
</body>
</html>
"""
