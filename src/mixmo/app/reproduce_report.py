"""The combined report of `mixmo reproduce`: `report.md` (every claim of every experiment, grouped by paper),
`verdicts.png` (verdict counts per experiment) and `report.html` (the same Markdown as a standalone page)."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

from mixmo.app import files, html
from mixmo.app.papers import BUDGETS, PAPERS, Outcome
from mixmo.experiments import verdicts
from mixmo.experiments.catalog import CATALOG
from mixmo.experiments.registry import EXPERIMENTS, VERDICTS

COLOURS = {"reproduced": "tab:green", "close": "gold", "differs": "tab:red", "not comparable": "lightgrey"}


def machine() -> dict[str, str]:
    """Date, machine, Python and JAX for the report's header."""
    import jax

    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return {"date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": f"{platform.system()} {platform.machine()}, {_cpu_model()}{os.cpu_count()} CPU cores, JAX "
                       f"backend {jax.default_backend()} ({devices})",
            "python": platform.python_version(), "jax": jax.__version__}


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0]}, " if names else ""


def write(out_dir: Path, outcomes: list[Outcome], header: dict) -> Path:
    """Write `report.md`, `verdicts.png` and `report.html` into `out_dir`, each atomically. Returns report.md."""
    import matplotlib.pyplot as plt

    figure = verdict_figure(outcomes)
    try:
        with files.atomic_file(out_dir / "verdicts.png") as partial:
            figure.savefig(partial, dpi=110)
    finally:
        plt.close(figure)
    text = markdown(outcomes, header)
    files.write_text(out_dir / "report.md", text)
    files.write_text(out_dir / "report.html", html.page(text, title=_title(header["paper"])))
    return out_dir / "report.md"


def markdown(outcomes: list[Outcome], header: dict) -> str:
    """The combined report: header, verdict counts, an overview table, then per paper a section per experiment
    with its claims table, a link to its own report and its figures."""
    counts = verdicts.count(c for o in outcomes for c in o.claims)
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    lines = [f"# {_title(header['paper'])}", "",
             f"- budget: **{header['budget']}** — {' '.join(BUDGETS[header['budget']].split())}"
             + (f"; seeds: {header['seeds']} in every experiment with that setting" if header.get("seeds") else ""),
             f"- command: `{header['command']}`",
             f"- date: {header['date']}; machine: {header['machine']}; Python {header['python']}, jax {header['jax']}",
             f"- total wall time: {_duration(header['wall_s'])}"
             + (f" ({kept} experiments kept from an earlier run)" if (kept := sum(o.status == "kept" for o in outcomes))
                else ""), "",
             "Verdicts (rules: `mixmo/experiments/verdicts.py`): **reproduced** — within the paper's 95% interval "
             "or the stated tolerance; **close** — within a looser one (or a statistical tie in a ranking); "
             "**differs** — outside it; **not comparable** — the budget is below half of what the claim needs, or the paper's "
             "setting cannot be matched (the reason says which).", "",
             "## Summary", "", "![verdicts per experiment](verdicts.png)", "", "| verdict | claims |", "|---|---|"]
    lines += [f"| {verdict} | {counts[verdict]} |" for verdict in VERDICTS]
    lines += [f"| **all claims** | **{sum(counts.values())}** |", "",
              f"{len(outcomes)} experiments: {len(outcomes) - len(failed) - len(skipped)} ran, {len(failed)} failed"
              + (" (" + ", ".join(o.name for o in failed) + ")" if failed else "")
              + (f", {len(skipped)} skipped (" + ", ".join(o.name for o in skipped) + ": an optional extra is "
                 "missing)" if skipped else "") + ".", "",
              "| paper | experiment | status | wall time | " + " | ".join(VERDICTS) + " |",
              "|---|---|---|---|" + "---|" * len(VERDICTS)]
    for o in outcomes:
        row = verdicts.count(o.claims)
        lines.append(f"| {o.paper or '–'} | [{o.name}](#{o.name}) | {o.status} | {_duration(o.wall_s)} | "
                     + " | ".join(str(row[v]) for v in VERDICTS) + " |")
    for paper in dict.fromkeys(o.paper for o in outcomes):
        lines += ["", f"## {PAPERS.get(paper, paper)}"]
        for o in (o for o in outcomes if o.paper == paper):
            lines += ["", *_section(o)]
    return "\n".join(lines) + "\n"


def _section(outcome: Outcome) -> list[str]:
    experiment = EXPERIMENTS.get(outcome.name) or CATALOG.get(outcome.name)
    settings = ", ".join([f"preset {p}" for p in outcome.presets] + [f"{k}={v}" for k, v in outcome.overrides.items()])
    lines = [f'<a id="{outcome.name}"></a>', "", f"### {outcome.name}", "",
             f"{experiment.description if experiment else ''}. Settings: "
             f"{f'`{settings}`' if settings else 'the defaults'}. Wall time {_duration(outcome.wall_s)}."]
    if outcome.status == "skipped":
        return lines + ["", f"**skipped**: {_cell(outcome.error)}"]
    if outcome.status == "failed":
        where = f" (traceback: [{outcome.traceback}]({outcome.traceback}))" if outcome.traceback else ""
        return lines + ["", f"**failed**: {_cell(outcome.error)}{where}."]
    if outcome.note:
        lines += ["", f"Note: {_cell(outcome.note)}."]
    lines += ["", f"Full report: [{outcome.name}/report.md]({outcome.name}/report.md).", ""]
    if outcome.claims:
        lines += ["| source | quantity | paper | ours | verdict | reason |", "|---|---|---|---|---|---|"]
        lines += [f"| {_cell(c.source)} | {_cell(c.quantity)} | {_cell(c.paper)} | {_cell(c.ours)} | **{c.verdict}** "
                  f"| {_cell(c.reason)} |" for c in outcome.claims]
    else:
        lines.append("No claims: this experiment states none of the paper's numbers.")
    for figure in outcome.figures:
        lines += ["", f"![{outcome.name}: {figure}]({outcome.name}/{figure})"]
    return lines


def verdict_figure(outcomes: list[Outcome]):
    """Horizontal stacked bars, one per experiment: the fraction of its claims with each verdict, the count
    written on each part and the total at the end (so an experiment with many claims does not squash the
    others); failed, skipped and claimless experiments say so on an empty bar."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.38 * len(outcomes) + 1.5))
    labels = [o.name for o in outcomes]
    counts = [verdicts.count(o.claims) for o in outcomes]
    totals = [sum(c.values()) for c in counts]
    left = [0.0] * len(outcomes)
    for verdict in VERDICTS:
        widths = [c[verdict] / total if total else 0.0 for c, total in zip(counts, totals)]
        bars = ax.barh(labels, widths, left=left, color=COLOURS[verdict], label=verdict, edgecolor="white")
        for bar, c, width in zip(bars, counts, widths):
            if c[verdict] and width >= 0.04:
                ax.text(bar.get_x() + width / 2, bar.get_y() + bar.get_height() / 2, str(c[verdict]),
                        ha="center", va="center", fontsize=7)
        left = [a + b for a, b in zip(left, widths)]
    for y, (outcome, total) in enumerate(zip(outcomes, totals)):
        if outcome.status in ("failed", "skipped"):
            text = outcome.status
        else:
            text = f"{total} claim{'' if total == 1 else 's'}" if total else "no claims"
        ax.text(1.01 if total else 0.01, y, text, va="center", fontsize=7,
                color="black" if total else "dimgrey")
    ax.set_xlim(0, 1.12)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    ax.invert_yaxis()
    ax.set_xlabel("share of the experiment's claims (numbers on the bars: claims)")
    ax.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _title(paper: str) -> str:
    return {"aga": "Reproducing the AgA paper", "d3c": "Reproducing the D3C paper",
            "all": "Reproducing the AgA and D3C papers"}.get(paper, f"Reproducing {paper}")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"
