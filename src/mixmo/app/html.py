"""A small Markdown-to-HTML converter for the subset the combined report uses (headings, paragraphs, bullet
lists, pipe tables, images, links, bold, inline code, raw `<a id>` anchors), so `report.html` needs no extra
dependency."""

from __future__ import annotations

import html
import re

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
         "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
         "td,th{border:1px solid #ccc;padding:0.25em 0.5em;vertical-align:top}th{background:#f3f3f3}"
         "img{max-width:100%}code{background:#f3f3f3;padding:0 0.2em}")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def page(markdown: str, title: str) -> str:
    """A standalone HTML page for `markdown`."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{convert(markdown)}</body></html>\n")


def convert(markdown: str) -> str:
    """The HTML body for `markdown` (the subset named in the module docstring)."""
    out, paragraph, table, items = [], [], [], []

    def flush():
        if paragraph:
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if table:
            out.append(_table(table))
            table.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,6}) (.*)", stripped)
        if not stripped:
            flush()
        elif stripped.startswith("|"):
            if paragraph or items:
                flush()
            table.append(stripped)
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("- "):
            if paragraph or table:
                flush()
            items.append(stripped[2:])
        elif re.fullmatch(r'<a id="[\w.-]+"></a>', stripped):
            flush()
            out.append(stripped)
        else:
            if table or items:
                flush()
            paragraph.append(stripped)
    flush()
    return "\n".join(out) + "\n"


def inline(text: str) -> str:
    """Escape `text` and render images, links, bold and code spans."""
    code = re.split(r"`([^`]*)`", text)
    parts = []
    for index, piece in enumerate(code):
        if index % 2:
            parts.append(f"<code>{html.escape(piece)}</code>")
            continue
        piece = html.escape(piece.replace("\\|", "|"), quote=True)
        piece = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", r'<img alt="\1" src="\2">', piece)
        piece = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', piece)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece)
        parts.append(piece)
    return "".join(parts)


def _table(rows: list[str]) -> str:
    cells = [[c.strip() for c in _CELL_SPLIT.split(row.strip().strip("|"))] for row in rows]
    header, body = cells[0], [r for r in cells[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
    head = "".join(f"<th>{inline(c)}</th>" for c in header)
    rows_html = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table>"
