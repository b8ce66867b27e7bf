"""Evaluation reports: report.json, items.jsonl, report.md and a self-contained report.html
with tables and matplotlib plots (match rate by program length; pass@k; this run beside
its baselines). Every file is written atomically (temporary file, then rename)."""
from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .metrics import bucket_order

# what "sequence match" is beside pass@1: both read the same checked terms, over different programs
SEQUENCE_MATCH_NOTE = ("Sequence match is the share of targets whose one chosen program (selected among the "
                       "K candidates, with the given terms where there are any) reproduces the checked terms; "
                       "pass@1 is the chance that a single candidate drawn at random from the model's K does, "
                       "so selection lifts sequence match above pass@1.")
PASS_AT_K_TABLE = "pass@k by k (table)"
PASS_AT_K_PLOT = "pass@k against k (plot)"
# characters of a chosen program shown in the targets table (the full text is in items.jsonl)
PROGRAM_CHARS = 160

HEADLINE = ("validity", "exact_match", "sequence_match", "verified_solve", "parse_rate", "retried",
            "chosen_from_retry", "chosen_from_repair")


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        # mkstemp makes the file private (0600); the result should read like any file written here
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """A report.json (or the directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    return json.loads(path.read_text())


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if 0 <= value <= 1:  # rates: two decimals, so 99.97% never reads as 100%
            return f"{100 * value:.2f}%"
        return f"{value:,.2f}"
    return str(value)


def _fmt_number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def runs_of(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, figures) of this run and of every baseline attached to it."""
    runs = [(str(report.get("label") or "this run"), report)]
    for key in ("baseline_model", "baseline"):
        other = report.get(key)
        if isinstance(other, Mapping):
            runs.append((str(other.get("label") or key), other))
    return runs


# -- plots ------------------------------------------------------------------------------------

def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes (written with `atomic_write`, never half a file)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_by_length(report: Mapping[str, Any], metric: str = "sequence_match") -> bytes | None:
    """Grouped bars: `metric` by target length bucket, one bar per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(label, run.get("breakdowns", {}).get("length", {})) for label, run in runs_of(report)]
    buckets = sorted({b for _, table in runs for b in table}, key=bucket_order)
    if not buckets:
        return None
    figure, axis = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(runs)
    for i, (label, table) in enumerate(runs):
        values = [100 * (table.get(b, {}).get(metric) or 0) for b in buckets]
        axis.bar([x + i * width - 0.4 + width / 2 for x in range(len(buckets))], values, width, label=label)
    axis.set_xticks(range(len(buckets)), [f"{b}\n(n={runs[0][1].get(b, {}).get('n', 0)})" for b in buckets])
    axis.set_xlabel("target program length (operations)")
    axis.set_ylabel(f"{metric.replace('_', ' ')} (%)")
    axis.set_ylim(0, 100)
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    png = figure_png(figure)
    plt.close(figure)
    return png


def plot_pass_at_k(report: Mapping[str, Any]) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(label, run.get("pass_at_k") or {}) for label, run in runs_of(report)]
    if not any(len(curve) > 1 for _, curve in runs):
        return None
    figure, axis = plt.subplots(figsize=(6, 3.4))
    for label, curve in runs:
        ks = sorted(curve, key=int)
        if ks:
            axis.plot([int(k) for k in ks], [100 * curve[k] for k in ks], marker="o", label=label)
    axis.set_xscale("log", base=2)
    axis.set_xlabel("k")
    axis.set_ylabel("pass@k (%)")
    axis.grid(alpha=0.3)
    axis.legend()
    png = figure_png(figure)
    plt.close(figure)
    return png


def plot_headline(report: Mapping[str, Any]) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = runs_of(report)
    if len(runs) < 2:
        return None
    metrics = [m for m in HEADLINE if any(run.get(m) is not None for _, run in runs)]
    figure, axis = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(runs)
    for i, (label, run) in enumerate(runs):
        axis.bar([x + i * width - 0.4 + width / 2 for x in range(len(metrics))],
                 [100 * (run.get(m) or 0) for m in metrics], width, label=label)
    axis.set_xticks(range(len(metrics)), [m.replace("_", " ") for m in metrics])
    axis.set_ylabel("%")
    axis.set_ylim(0, 100)
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    png = figure_png(figure)
    plt.close(figure)
    return png


# -- text -------------------------------------------------------------------------------------

def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[list[str]]:
    return [list(headers)] + [[str(cell) for cell in row] for row in rows]


def tables(report: Mapping[str, Any]) -> list[tuple[str, list[list[str]]]]:
    """(title, rows) of every table of the report, header row first."""
    runs = runs_of(report)
    labels = [label for label, _ in runs]
    out: list[tuple[str, list[list[str]]]] = []
    metrics = [m for m in HEADLINE if any(run.get(m) is not None for _, run in runs)]
    out.append(("Results", _table(["metric"] + labels,
                                  [[m] + [_fmt(run.get(m)) for _, run in runs] for m in ["n"] + metrics])))
    ks = sorted({k for _, run in runs for k in (run.get("pass_at_k") or {})}, key=int)
    if ks:
        out.append((PASS_AT_K_TABLE, _table(["k"] + labels,
                                     [[k] + [_fmt((run.get("pass_at_k") or {}).get(k)) for _, run in runs]
                                      for k in ks])))
    sources = sorted({s for _, run in runs for s in (run.get("verified_solve_by_source") or {})})
    if sources:
        # the model's own figure beside what search (and repair) add, so no gain hides another's
        rows = [[source] + [_fmt((run.get("verified_solve_by_source") or {}).get(source)) for _, run in runs]
                for source in sources]
        rows.append(["all together"] + [_fmt(run.get("verified_solve")) for _, run in runs])
        for key in ("both", "model_only", "search_only", "neither"):
            rows.append([f"targets: {key.replace('_', ' ')}"] + [_fmt((run.get("solved_by") or {}).get(key))
                                                                   for _, run in runs])
        out.append(("Verified solve by candidate source", _table(["source"] + labels, rows)))
    speed_keys = ("seconds", "generation_seconds", "execution_seconds", "generation_share", "execution_share",
                  "programs_per_second", "targets_per_second", "tokens_per_second")
    out.append(("Speed", _table(["figure"] + labels, [
        [k] + [(_fmt if k.endswith("_share") else _fmt_number)(run.get(k)) for _, run in runs] for k in speed_keys])))
    names = {"length": "By target length (operations)", "uses_seq": "By use of seq", "level": "By problem level"}
    for key, title in names.items():
        table = report.get("breakdowns", {}).get(key)
        if not table:
            continue
        columns = [c for c in ("validity", "exact_match", "sequence_match", "verified_solve")
                   if any(row.get(c) is not None for row in table.values())]
        rows = []
        for group, row in table.items():
            cells = [group, row.get("n")] + [_fmt(row.get(c)) for c in columns]
            for _label, run in runs[1:]:
                other = run.get("breakdowns", {}).get(key, {}).get(group, {})
                cells.append(_fmt(other.get("sequence_match")))
            rows.append(cells)
        headers = ["group", "n"] + columns + [f"sequence_match ({label})" for label in labels[1:]]
        out.append((title, _table(headers, rows)))
    return out


def task_tables(report: Mapping[str, Any]) -> list[tuple[str, list[list[str]], list[str]]]:
    """(title, rows, notes) of the tables an evaluation task adds of its own (`Task.tables`, kept
    in report.json as `tables`), shown before the common ones: they hold the task's headline."""
    return [(str(table["title"]), [[str(cell) for cell in row] for row in table["rows"]],
             [str(note) for note in table.get("notes") or ()]) for table in report.get("tables") or ()]


def _verified(item: Mapping[str, Any]) -> bool:
    """Solved: a verified solve where terms were given to selection, else a sequence match."""
    return bool(item["verified_solve"] if "verified_solve" in item else item.get("sequence_match"))


def short_program(code: str | None, limit: int = PROGRAM_CHARS) -> str:
    """A program on one line (operations joined by "; "), cut to `limit` characters."""
    if not code:
        return "–"
    text = "; ".join(line.strip() for line in code.splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def targets_table(items: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of the targets table, header first: id, name, chosen program (short), verified or not and
    where the chosen program came from; solved targets first, then by id (stable within each)."""
    rows = sorted(items, key=lambda item: (not _verified(item), str(item.get("id"))))
    body = [[str(item.get("id")), str(item.get("description") or ""), short_program(item.get("chosen")),
             "yes" if _verified(item) else "no",
             str(item.get("chosen_source", "model")) if item.get("chosen") else "–"] for item in rows]
    return _table(["id", "name", "chosen program", "verified", "source"], body)


def _config_lines(report: Mapping[str, Any]) -> list[str]:
    config = report.get("config") or {}
    return [f"{key}: {value}" for key, value in config.items()]


def markdown(report: Mapping[str, Any], images: Mapping[str, str]) -> str:
    lines = [f"# Evaluation: {report.get('label') or 'this run'}", ""]
    lines += ["```"] + _config_lines(report) + ["```", "", SEQUENCE_MATCH_NOTE, ""]
    for title, rows, notes in task_tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        lines += [""] + notes + ([""] if notes else [])
    for title, rows in tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(rows[0]) + " |",
                  "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        lines.append("")
    for title, name in images.items():
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


def html_page(report: Mapping[str, Any], pngs: Mapping[str, bytes],
              items: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The self-contained page: config, tables, plots and, given `items`, a table of the targets."""
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>Evaluation: {esc(str(report.get('label') or 'this run'))}</title>",
             "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:3px 9px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
             "pre{background:#f7f7f7;padding:0.6em}td.code{font-family:monospace;text-align:left}"
             "td.name{text-align:left}</style></head><body>",
             f"<h1>Evaluation: {esc(str(report.get('label') or 'this run'))}</h1>",
             "<pre>" + esc("\n".join(_config_lines(report))) + "</pre>",
             f"<p>{esc(SEQUENCE_MATCH_NOTE)}</p>"]
    for title, rows, notes in task_tables(report):
        parts.append(f"<h2>{esc(title)}</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>" + "".join(f"<p>{esc(note)}</p>" for note in notes))
    for title, rows in tables(report):
        parts.append(f"<h2>{esc(title)}</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    for title, png in pngs.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{data}'>")
    if items:
        rows = targets_table(items)
        solved = sum(1 for row in rows[1:] if row[3] == "yes")
        parts.append(f"<h2>Targets</h2><p>{solved} of {len(rows) - 1} verified, solved ones first; the full "
                     "programs and outputs are in items.jsonl.</p><table>")
        parts.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append(f"<tr><td>{esc(row[0])}</td><td class='name'>{esc(row[1])}</td>"
                         f"<td class='code'>{esc(row[2])}</td><td>{esc(row[3])}</td><td>{esc(row[4])}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report_dir: str | os.PathLike, report: Mapping[str, Any],
                 items: Iterable[Mapping[str, Any]] | None = None,
                 extra_items: Mapping[str, Iterable[Mapping[str, Any]]] | None = None) -> Path:
    """Write report.json, items.jsonl (and `<name>-items.jsonl` per extra), plots, report.md and
    report.html into `report_dir`; returns the directory."""
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "report.json", json.dumps(report, indent=2, default=str) + "\n")
    items = list(items) if items is not None else None  # read twice: items.jsonl and the targets table
    if items is not None:
        atomic_write(out / "items.jsonl", "".join(json.dumps(item, default=str) + "\n" for item in items))
    for name, rows in (extra_items or {}).items():
        atomic_write(out / f"{name}-items.jsonl", "".join(json.dumps(item, default=str) + "\n" for item in rows))
    pngs: dict[str, bytes] = {}
    files: dict[str, str] = {}
    for title, name, make in (("Sequence match by target length", "by-length.png", plot_by_length),
                              (PASS_AT_K_PLOT, "pass-at-k.png", plot_pass_at_k),
                              ("This run beside its baselines", "headline.png", plot_headline)):
        try:
            png = make(report)
        except Exception as error:  # a plot must never cost the report
            png = None
            print(f"warning: plot {title!r} failed: {type(error).__name__}: {error}")
        if png:
            pngs[title] = png
            files[title] = name
            atomic_write(out / name, png)
    images = files
    atomic_write(out / "report.md", markdown(report, images))
    atomic_write(out / "report.html", html_page(report, pngs, items))
    return out
