"""The canonical WAT formatter: layout, comments, strings, numbers, idempotence, behaviour."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from languages.wat.canonical import format_wat, lex
from languages.wat.errors import WatError
from languages.wat.problems import generate_problems
from languages.wat.runner import run

PROBLEMS = generate_problems(60, seed=11)


def atoms(text: str) -> list[str]:
    return [t for _, t, _ in lex(text)]


def test_layout_example():
    messy = '''(module ;; a comment
      (import "env" "log_i64" (func $log (param i64)))
      (func $main (export "main") (result i64) (local $i i64) (local $r i64)
        i64.const 0x10 local.set $i (; block (; nested ;) comment ;)
        block $exit loop $loop local.get $i i64.eqz br_if $exit
          local.get $i i64.const 1 i64.sub local.set $i br $loop end end
        (i64.add (local.get $i) (i64.const +1_000))))'''
    assert format_wat(messy) == '''(module
  (import "env" "log_i64" (func $log (param i64)))
  (func $main (export "main") (result i64)
    (local $i i64)
    (local $r i64)
    i64.const 16
    local.set $i
    block $exit
      loop $loop
        local.get $i
        i64.eqz
        br_if $exit
        local.get $i
        i64.const 1
        i64.sub
        local.set $i
        br $loop
      end
    end
    (i64.add (local.get $i) (i64.const 1000))))
'''


def test_folded_stays_folded_and_long_folded_breaks_lines():
    text = ('(module (func (export "main") (result i64) (if (result i64) (i64.eqz (i64.const 0)) '
            '(then (i64.const 1)) (else (i64.add (i64.mul (i64.const 1000000) (i64.const 2000000)) '
            '(i64.add (i64.const 1000000) (i64.const 2000000000)))))))')
    out = format_wat(text)
    assert out == '''(module
  (func (export "main") (result i64)
    (if (result i64)
      (i64.eqz (i64.const 0))
      (then
        (i64.const 1))
      (else
        (i64.add
          (i64.mul (i64.const 1000000) (i64.const 2000000))
          (i64.add (i64.const 1000000) (i64.const 2000000000)))))))
'''
    assert atoms(out) == atoms(text)
    assert run(out) == run(text) == 1


def test_flat_else_and_nested_blocks_indent():
    text = '(module (func (export "main") (result i64) i64.const 1 if (result i64) i64.const 2 else i64.const 3 end))'
    assert format_wat(text) == '''(module
  (func (export "main") (result i64)
    i64.const 1
    if (result i64)
      i64.const 2
    else
      i64.const 3
    end))
'''


def test_strings_are_kept_intact():
    text = ('(module (memory 1) (data (i32.const 0) "a ;; not a comment (; nor this ;)  \\"q\\" \\00") '
            '(export "x y" (memory 0)))')
    out = format_wat(text)
    assert '"a ;; not a comment (; nor this ;)  \\"q\\" \\00"' in out and '"x y"' in out
    assert format_wat(out) == out


def test_numbers_are_decimal_elsewhere_kept():
    out = format_wat("(module (func i64.const 0xFF i64.const 1_000_000 i32.const -0x10 i32.const +7 "
                     "i64.load offset=0x20 align=8 f64.const 1.5e3 f64.const -0 f32.const nan:0x200000 drop))")
    assert atoms(out)[4:] == ["i64.const", "255", "i64.const", "1000000", "i32.const", "-16", "i32.const", "7",
                              "i64.load", "offset=32", "align=8", "f64.const", "1.5e3", "f64.const", "-0",
                              "f32.const", "nan:0x200000", "drop", ")", ")"]


def test_comments_only_between_tokens_are_dropped():
    assert format_wat("(module;;x\n(func(;y;)$f))") == "(module\n  (func $f))\n"


@pytest.mark.parametrize("text, line, column, words", [
    ("(module (func", 1, 9, "unclosed"),
    ("(module))", 1, 9, "unexpected `)`"),
    ('(module (export "abc', 1, 17, "unterminated string"),
    ("(module (; open", 1, 9, "unterminated block comment"),
    ("", 1, 1, "empty"),
])
def test_errors_have_positions(text, line, column, words):
    with pytest.raises(WatError) as info:
        format_wat(text)
    assert info.value.kind == "parse" and (info.value.line, info.value.column) == (line, column)
    assert words in info.value.reason


def test_size_cap():
    with pytest.raises(WatError) as info:
        format_wat("(module)" + " " * 100, max_bytes=50)
    assert info.value.kind == "size"
    assert format_wat("(module)" + " " * 100, max_bytes=None) == "(module)\n"


# ---------------------------------------------------------------- properties

def _mess_up(canonical: str, rng: random.Random) -> str:
    """Same program, other layout: random whitespace, comments, hex / underscore / plus numbers."""
    out = []
    for kind, tok, _ in lex(canonical):
        if kind == "atom" and tok.isdigit() and rng.random() < 0.3:
            tok = rng.choice([hex(int(tok)), "+" + tok, "_".join(tok) if len(tok) > 1 else tok])
        out.append(tok)
        out.append(rng.choice([" ", "  ", "\n", "\t", " ;; note ( ) \"\n", " (; c (; nested ;) ;) ", "\n\n   "]))
    return "".join(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(PROBLEMS) - 1), seed=st.integers(0, 10_000))
def test_reformatting_a_messy_program_gives_the_canonical_text_and_the_same_result(index, seed):
    problem = PROBLEMS[index]
    messy = _mess_up(problem.wat, random.Random(seed))
    assert format_wat(messy) == problem.wat
    assert run(messy) == run(problem.wat) == problem.answer


_ATOMS = st.sampled_from(["i64.add", "local.get", "$x", "$loop", "0", "-5", "0x1F", "1_0", '"s;; (x)"', '"a\\"b"',
                          "offset=8", "block", "loop", "if", "else", "end", "then", "func", "module", "nop",
                          "i64.const", "f32.const", "nan:0x1", "br_table", "(result i64)"])


def _render(tree) -> str:
    if isinstance(tree, str):
        return tree
    return "(" + " ".join(_render(x) for x in tree) + ")"


_TREES = st.recursive(_ATOMS, lambda children: st.lists(children, max_size=6), max_leaves=40)


@settings(max_examples=100, deadline=None)
@given(trees=st.lists(_TREES, min_size=1, max_size=3), sep=st.sampled_from([" ", "\n", "  \t"]))
def test_idempotent_on_arbitrary_s_expressions(trees, sep):
    text = sep.join(_render(t) if isinstance(t, list) else f"({t})" for t in trees)
    once = format_wat(text)
    assert format_wat(once) == once
    assert len(atoms(once)) == len(atoms(text))


# random valid programs mixing folded and flat instructions: formatting keeps behaviour
_BINOPS = ["i64.add", "i64.sub", "i64.mul", "i64.and", "i64.or", "i64.xor", "i64.rotl", "i64.div_s"]


@st.composite
def _expr(draw, depth=0):
    """(folded text, flat text) pairs of one i64 expression; the style of each node is drawn."""
    choice = draw(st.integers(0, 4 if depth < 4 else 0))
    folded = draw(st.booleans())
    if choice == 0:
        v = draw(st.integers(-(1 << 63), (1 << 63) - 1))
        return f"(i64.const {v})" if folded else f"i64.const {v}"
    if choice in (1, 2):
        op = draw(st.sampled_from(_BINOPS))
        a, b = draw(_expr(depth + 1)), draw(_expr(depth + 1))
        return f"({op} {a} {b})" if folded and a.startswith("(") and b.startswith("(") else f"{a} {b} {op}"
    if choice == 3:
        c, a, b = draw(_expr(depth + 1)), draw(_expr(depth + 1)), draw(_expr(depth + 1))
        if folded and c.startswith("("):
            return f"(if (result i64) (i64.eqz {c}) (then {a}) (else {b}))"
        return f"{c} i64.eqz if (result i64) {a} else {b} end"
    a = draw(_expr(depth + 1))
    return f"(block $b (result i64) {a})" if folded else f"block $b (result i64) {a} end"


def _outcome(text: str):
    try:
        return ("ok", run(text))
    except WatError as error:
        return (error.kind, error.reason)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_expr())
def test_formatting_preserves_behaviour_of_random_programs(body):
    text = f'(module (func (export "main") (result i64) {body}))'
    out = format_wat(text)
    assert format_wat(out) == out
    assert atoms(out) == atoms(text)  # folded stays folded, flat stays flat
    assert _outcome(out) == _outcome(text)
