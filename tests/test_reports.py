"""report.html and report.md (codegen.reports): the targets table and the titles a reader relies on."""
from __future__ import annotations

import re

from codegen.reports import (PASS_AT_K_PLOT, PASS_AT_K_TABLE, SEQUENCE_MATCH_NOTE, short_program, targets_table,
                             write_report)

ITEMS = [
    {"id": "A000001", "description": "Unsolved <one>", "chosen": "mov $0,1\nadd $0,2\n", "sequence_match": False,
     "verified_solve": False, "chosen_source": "model"},
    {"id": "A000002", "description": "Solved by search", "chosen": "mul $0,2\n", "sequence_match": True,
     "verified_solve": True, "chosen_source": "search:affine"},
    {"id": "A000003", "description": "Nothing ran", "chosen": None, "sequence_match": False},
    # an item written before items recorded their source: the model's
    {"id": "A000000", "description": "Old item", "chosen": "mov $0,0\n", "sequence_match": True},
]


def test_targets_table_puts_solved_first_with_source_and_short_program():
    rows = targets_table(ITEMS)
    assert rows[0] == ["id", "name", "chosen program", "verified", "source"]
    assert [row[0] for row in rows[1:]] == ["A000000", "A000002", "A000001", "A000003"]
    assert rows[1][3:] == ["yes", "model"] and rows[2][3:] == ["yes", "search:affine"]
    assert rows[3][2] == "mov $0,1; add $0,2" and rows[4][2:] == ["–", "no", "–"]


def test_short_program_cuts_long_programs():
    long = "\n".join(f"add $0,{n}" for n in range(100))
    short = short_program(long, limit=40)
    assert len(short) == 40 and short.endswith("…") and "\n" not in short


def test_report_html_has_the_targets_the_note_and_distinct_pass_at_k_titles(tmp_path):
    report = {"label": "run", "n": 4, "sequence_match": 0.5, "pass_at_k": {"1": 0.25, "2": 0.5}}
    write_report(tmp_path, report, iter(ITEMS))  # an iterator: read for items.jsonl and for the table
    page = (tmp_path / "report.html").read_text()
    titles = re.findall(r"<h2>([^<]*)</h2>", page)
    assert PASS_AT_K_TABLE in titles and PASS_AT_K_PLOT in titles and len(set(titles)) == len(titles)
    assert "Targets" in titles and "2 of 4 verified" in page
    assert page.index("A000002") < page.index("A000001")  # solved first
    assert "Unsolved &lt;one&gt;" in page  # escaped
    assert SEQUENCE_MATCH_NOTE.split(";")[0] in page
    assert SEQUENCE_MATCH_NOTE in (tmp_path / "report.md").read_text()
    assert len((tmp_path / "items.jsonl").read_text().splitlines()) == 4
