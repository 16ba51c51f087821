"""Markdown pieces every experiment report shares: tables and the closing configuration block."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from mixmo import config as config_tree


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table as lines: the header, the rule, one line per row (cells as given, via `str`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def config_block(config) -> list[str]:
    """The report's closing "Configuration" section: the resolved configuration tree as JSON."""
    return ["## Configuration", "", "```json", json.dumps(config_tree.to_dict(config), indent=2), "```"]


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 seed', '3 seeds' (`plural_form` for irregular nouns).

    >>> plural(1, "seed"), plural(2, "run")
    ('1 seed', '2 runs')
    """
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"
