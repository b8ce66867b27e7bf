"""LODA language adapter: structural tokens, grammar, recipes."""
from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.language import CodeError, Grammar, get_language
from codegen.number_slots import MAX_SLOTS, fill_slots
from languages.loda import parse
from languages.loda import tokens as T
from languages.loda.canonical import canonicalize
from languages.loda.grammar import LodaGrammar


@pytest.fixture(scope="module")
def loda():
    return get_language("loda")


def test_registered(loda):
    assert loda.name == "loda"
    assert list(loda.recipes) == ["loda", "loda-terms"]
    assert loda.terms_recipes == {"loda-terms"} and loda.corpus_recipes == {"loda", "loda-terms"}
    assert len(set(loda.structural_tokens())) == len(loda.structural_tokens())


@pytest.mark.parametrize("code", [
    "mov $0,1\n",
    "#offset 1\nmov $1,$0\nlpb $1\n  sub $1,1\n  add $0,$$1\nlpe\n",
    "#offset -3\nlpb $0,2\n  lpb $7,$2\n    sub $0,-1\n  lpe\nlpe\n",
    "seq $0,165190\nmov $200,-123456789012345678901234567890\nadd $$77,$300\n",
    "mov $1,129\nmov $2,-17\nmov $3,1000000\nmov $4,0\nclr $5,3\nnop\n",
    "#offset 123456\nmov $0,$$16\n",
])
def test_round_trip_examples(loda, code):
    assert canonicalize(code) == code
    tokens = loda.tokenize(code)
    assert all(t in loda.structural_tokens() for t in tokens)
    assert loda.detokenize(tokens) == code
    assert LodaGrammar().accepts(tokens)


def test_short_encoding(loda):
    # one token per opcode and operand; lpb always carries its length
    assert loda.tokenize("lpb $0\n  sub $0,1\nlpe\n") == ["lpb", "$0", "1", "sub", "$0", "1", "lpe"]
    assert loda.tokenize("mov $1,-12345\n") == ["mov", "$1", "-", "d1", "d2", "d3", "d4", "d5"]
    assert loda.tokenize("seq $0,40\n") == ["seq", "$0", "40"]
    assert loda.tokenize("mov $130,$$20\n") == ["mov", "$", "d1", "d3", "d0", "$$", "d2", "d0"]


def test_every_integer_representable():
    rng = random.Random(1)
    values = [0, 1, -1, 128, 129, -16, -17, 10 ** 40, -(10 ** 40)] + [rng.randint(-10 ** 12, 10 ** 12) for _ in range(200)]
    for value in values:
        code = f"mov $0,{value}\n"
        assert T.detokenize(T.tokenize(code)) == code


def test_non_canonical_input_is_canonicalized(loda):
    assert loda.detokenize(loda.tokenize("mov $0, 1 ; comment\nlpb $0,1\nlpe")) == "mov $0,1\nlpb $0\nlpe\n"


def test_errors(loda):
    with pytest.raises(CodeError) as info:
        loda.canonicalize("mvo $0,1")
    assert info.value.kind == "parse"
    with pytest.raises(CodeError):
        loda.validate("mov 1,$0")
    for bad in (["mov", "$0"], ["lpe"], ["lpb", "$0", "1"], ["mov", "1", "1"], ["seq", "$0", "-1"], ["bogus"],
                ["mov", "$0", "+", "d0"]):
        with pytest.raises(CodeError) as info:
            loda.detokenize(bad)
        assert info.value.kind == "tokens"


def test_grammar_basics(loda):
    g = LodaGrammar()
    state = g.start()
    assert Grammar.END not in g.allowed(state)  # at least one operation
    assert "lpe" not in g.allowed(state)
    state = g.advance(state, "mov")
    assert g.allowed(state) == g.allowed(g.advance(g.start(), "add"))
    assert not any(t in g.allowed(state) for t in T.CONSTANT_TOKENS)  # no constant targets
    with pytest.raises(ValueError):
        g.advance(state, "5")
    s = g.advance(g.advance(g.start(), "seq"), "$0")
    assert "-1" not in g.allowed(s) and "-" not in g.allowed(s) and "$1" not in g.allowed(s) and "7" in g.allowed(s)
    s = g.advance(g.advance(g.advance(g.start(), "lpb"), "$0"), "1")
    assert Grammar.END not in g.allowed(s) and "lpe" in g.allowed(s)
    s = g.advance(s, "lpe")
    assert Grammar.END in g.allowed(s)
    # at most 100 open loops
    s = g.start()
    for _ in range(100):
        s = g.advance(g.advance(g.advance(s, "lpb"), "$0"), "1")
    assert "lpb" not in g.allowed(s)
    # memoised: the same frozenset object per state
    assert g.allowed(s) is g.allowed(s)


SLOT_VALUES = [3, -7, 0, 10 ** 30, 1, 2, 5, 99][:MAX_SLOTS]
_FINISH = (Grammar.END, "lpe", "mov", "$0", "1", "d1")


def _walk(grammar: LodaGrammar, choices: list[int], budget: int) -> list[str]:
    state = grammar.start()
    out: list[str] = []
    i = 0
    while True:
        allowed = grammar.allowed(state)
        if i < budget and i < len(choices):
            options = sorted(allowed)
            token = options[choices[i] % len(options)]
        else:  # out of budget: close the program as fast as possible
            token = next(t for t in _FINISH if t in allowed)
        i += 1
        if token == Grammar.END:
            return out
        out.append(token)
        state = grammar.advance(state, token)
        assert i < budget + 500, "the walk must terminate"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10 ** 6), min_size=1, max_size=120), st.integers(1, 120))
def test_grammar_random_walks_parse(choices, budget):
    loda = get_language("loda")
    tokens = _walk(LodaGrammar(), choices, budget)
    text = loda.detokenize(fill_slots(loda, tokens, SLOT_VALUES))  # a walk may take number slots
    program = parse(text)  # must not raise
    assert len(program.operations) >= 1
    assert canonicalize(text) == text


def test_corpus_round_trip_and_grammar(loda, corpus):
    """Every program of a large sample: tokens known, exact round trip, accepted by the grammar
    (empty programs excepted: the grammar wants at least one operation)."""
    vocabulary = set(loda.structural_tokens())
    grammar = LodaGrammar()
    records = list(corpus)
    sample = random.Random(0).sample(records, min(20000, len(records)))
    lengths = []
    for record in sample:
        tokens = loda.tokenize(record.code)
        assert set(tokens) <= vocabulary, record.id
        assert loda.detokenize(tokens) == record.code, record.id
        if any(line and not line.startswith("#") for line in record.code.splitlines()):
            assert grammar.accepts(tokens), record.id
        lengths.append(len(tokens) + 1)
    assert statistics.median(lengths) <= 60


def test_recipes(loda, corpus):
    names = loda.records("loda", corpus)
    first = next(names)
    entry = corpus.records[int(first.id[1:])]
    assert first.prompt == f"<loda> {' '.join(entry.name.split())}"
    assert first.code == entry.code and first.terms == list(entry.terms) and first.offset == entry.offset
    assert first.meta["recipe"] == "loda" and first.meta["length"] >= 1 and first.meta["calls"] == list(entry.calls)
    with_terms = next(loda.records("loda-terms", corpus, terms_count=5))
    assert with_terms.id == first.id
    shown = ", ".join(str(t) for t in entry.terms[:5])
    assert with_terms.prompt == f"{first.prompt} <terms> {shown}"
    with pytest.raises(KeyError):
        loda.records("nope", corpus)


def test_execute(loda):
    result = loda.execute("mov $1,$0\nmul $1,2\nmov $0,$1\n", terms=5)
    assert result.ok and result.outputs == [0, 2, 4, 6, 8]
    shifted = loda.execute("#offset 1\nmov $1,$0\nmul $1,2\nmov $0,$1\n", terms=3)
    assert shifted.outputs == [2, 4, 6]
    assert loda.execute("#offset 1\nmul $0,2\n", terms=2, offset=0).outputs == [0, 2]
    bad = loda.execute("mov $0,", terms=3)
    assert not bad.ok and bad.error_kind == "parse"
    undefined = loda.execute("div $0,0\n", terms=2)
    assert not undefined.ok and undefined.error_kind


def test_grammar_bounds_spelled_out_numbers():
    """A decoder cannot spell a `seq` argument beyond 7 digits (no such A-number) nor a
    cell index beyond 7 digits; both used to produce programs that could only fail."""
    grammar = LodaGrammar()
    for prefix in (["seq", "$0", T.PLUS], ["mov", T.DIRECT_PREFIX]):
        state = grammar.start()
        for token in prefix:
            state = grammar.advance(state, token)
        state = grammar.advance(state, "d1")
        for _ in range(6):
            assert "d2" in grammar.allowed(state)
            state = grammar.advance(state, "d2")
        assert not set(T.DIGITS) & grammar.allowed(state)
    # a seq argument of 7 digits still forms a program that parses
    tokens = ["seq", "$0", T.PLUS] + ["d1"] * 7
    assert grammar.accepts(tokens)
    assert parse(get_language("loda").detokenize(tokens)).operations[0].source.value == 1111111


def test_grammar_restricts_seq_to_known_programs():
    from languages.loda.grammar import LodaGrammar

    grammar = LodaGrammar(known_sequences=[45, 40, 1222, 290])
    assert grammar.accepts(["seq", "$0", "45"])
    assert not grammar.accepts(["seq", "$0", "46"])
    assert grammar.accepts(["seq", "$0", T.PLUS, "d1", "d2", "d2", "d2"])
    assert not grammar.accepts(["seq", "$0", T.PLUS, "d1", "d2", "d2"])  # 122: no such program
    state = grammar.start()
    for token in ["seq", "$0", T.PLUS, "d1", "d2"]:
        state = grammar.advance(state, token)
    assert grammar.allowed(state) & set(T.DIGITS) == {"d2"}
    # other operands are not affected
    assert grammar.accepts(["mov", "$0", T.PLUS, "d1", "d2", "d3", "d4", "d5"])


def test_grammar_without_a_library_rules_out_calls(monkeypatch):
    """No corpus attached: a `seq` call could not run, so constrained decoding never writes one
    (the quickstart runs without the corpus and must print a program that runs)."""
    empty = LodaGrammar(known_sequences=())
    assert not empty.accepts(["seq", "$0", "45"])
    assert empty.accepts(["mov", "$1", "$0", "add", "$0", "1"])
    assert "seq" not in empty.allowed(empty.start())
    monkeypatch.delenv("CODEGEN_LODA_CORPUS", raising=False)
    language = type(get_language("loda"))()
    assert "seq" not in language.grammar().allowed(language.grammar().start())
