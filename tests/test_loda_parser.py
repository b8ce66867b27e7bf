"""Parser errors (with line and column), the canonical form, and parse(format(p)) == p."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from languages.loda import ParseError, canonicalize, format_program, parse
from languages.loda.program import Operand, OperandKind, Operation
from conftest import programs


def error_of(text: str, source: str | None = None) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text, source=source)
    return info.value


def test_parses_operands_offset_and_header():
    program = parse("; A000001: name\n; 1,2,3\n#offset -2\nmov $1,$$2 ; c\nlpb $1\nlpb $$1,$3\nlpe\nlpe\nnop\nseq $0,45")
    assert program.offset == -2
    assert program.header == ("A000001: name", "1,2,3")
    mov = program.operations[0]
    assert (mov.op, mov.target, mov.source, mov.line) == ("mov", Operand.direct(1), Operand.indirect(2), 4)
    assert program.operations[1].source == Operand.constant(1)  # lpb $c means lpb $c,1
    assert program.operations[2].target.kind is OperandKind.INDIRECT
    assert program.operations[2].source == Operand.direct(3)
    assert program.calls() == [45]
    assert parse("mov $0,-123456789012345678901234567890").operations[0].source.value == -123456789012345678901234567890


@pytest.mark.parametrize("text, line, column, fragment", [
    ("mov $0,1\nfoo $1,2", 2, 1, "unknown operation 'foo'"),
    ("mov $0,1\n  mov 3,$1", 2, 7, "target must be a cell"),
    ("mov $0,1\nlpb $0\nadd $0,1", 2, 1, "lpb without matching lpe"),
    ("mov $0,1\nlpe", 2, 1, "lpe without matching lpb"),
    ("mov $0,$x", 1, 8, "malformed operand"),
    ("mov $0,$-1", 1, 8, "malformed operand"),
    ("mov $0,1,2", 1, 1, "expects 2 operand"),
    ("add $0", 1, 1, "expects 2 operand"),
    ("lpe $0", 1, 1, "expects 0 operand"),
    ("seq $0,$1", 1, 1, "seq"),
    ("#offset x", 1, 1, "malformed directive"),
    ("mov $0,1\n#offset 2", 2, 1, "#offset must come before"),
])
def test_parse_errors_name_line_and_column(text, line, column, fragment):
    error = error_of(text, source="prog.asm")
    assert error.line == line and error.column == column
    assert fragment in str(error)
    assert str(error).startswith(f"prog.asm:{line}:{column}: ")
    assert error.kind == "parse"


def test_canonical_form():
    text = "; header\n#offset 1\n\nmov $1,$0   ; copy\nlpb $1 , 1\n sub $1,1\n   lpb $$2,$3\n add $0,1\nlpe\n lpe\n"
    expected = "#offset 1\nmov $1,$0\nlpb $1\n  sub $1,1\n  lpb $$2,$3\n    add $0,1\n  lpe\nlpe\n"
    assert canonicalize(text) == expected
    assert canonicalize(expected) == expected
    assert parse(text) == parse(expected)  # comments and layout do not count
    assert canonicalize("lpb $0,2\nlpe") == "lpb $0,2\nlpe\n"


def test_equality_ignores_lines_and_comments_only():
    assert parse("mov $0,1 ; a") == parse("\n\nmov $0,1")
    assert parse("mov $0,1") != parse("mov $0,2")
    assert parse("mov $0,1") != parse("#offset 1\nmov $0,1")
    assert Operation("mov", Operand.direct(0), Operand.constant(1), line=3) == Operation(
        "mov", Operand.direct(0), Operand.constant(1), line=9)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_format_round_trip(program):
    text = format_program(program)
    again = parse(text)
    assert again == program
    assert format_program(again) == text  # idempotent
    assert canonicalize(text) == text


def test_overlong_numbers_are_parse_errors():
    for text in ["mov $0," + "9" * 5000, "mov $" + "9" * 5000 + ",1", "#offset " + "1" * 5000]:
        assert error_of(text).line == 1
