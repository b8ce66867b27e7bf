"""The `wat` Language adapter: registration, tokens, grammar, execution, recipes."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.language import CodeError, Grammar, Record, get_language
from codegen.number_slots import MAX_SLOTS, fill_slots
from languages.wat import tokens as T
from languages.wat.grammar import WatGrammar
from languages.wat.language import WatLanguage
from languages.wat.problems import generate_problems

LANG = get_language("wat")
PROGRAMS = [p.wat for p in generate_problems(500, seed=1)]
SQUARE = '(module\n  (func (export "a") (param $n i64) (result i64)\n    (i64.mul (local.get $n) (local.get $n))))\n'
LODA_SOURCES = [
    "mov $1,$0\nadd $1,1\nmul $1,$0\nmov $0,$1\n",
    "mov $1,1\nlpb $0\n  sub $0,1\n  mul $1,2\nlpe\nmov $0,$1\n",
    "mov $2,5\nmov $$2,$0\nadd $5,3\nmov $0,$5\n",
    "#offset 1\nmov $1,$0\npow $1,2\ndiv $1,3\ngcd $0,$1\n",
]


def test_registered():
    assert isinstance(LANG, WatLanguage) and LANG.name == "wat"
    assert list(LANG.recipes) == ["wat-problems", "wat-oeis"]
    assert LANG.corpus_recipes == {"wat-oeis"} and not LANG.terms_recipes
    assert LANG.recipes["wat-oeis"].source == "loda-programs" and LANG.recipes["wat-problems"].source is None
    assert isinstance(LANG.grammar(), Grammar)


def test_vocabulary_is_fixed_and_distinct():
    vocab = LANG.structural_tokens()
    assert vocab == LANG.structural_tokens() and len(vocab) == len(set(vocab))
    for token in ("(", ")", "module", "func", "i64.add", "local.get", "$main", "$n", "$a", "$c", "$t", "-", "+",
                  "d0", "d9", "0", "-1", '"main"', '"a"', "offset="):
        assert token in vocab
    assert Grammar.END not in vocab


def test_round_trip_on_every_generated_problem():
    vocab = set(LANG.structural_tokens())
    for code in PROGRAMS:
        tokens = LANG.tokenize(code)
        assert set(tokens) <= vocab
        assert LANG.detokenize(tokens) == code


def _compiled():
    from languages.loda.parser import parse
    from corpora.loda_to_wat.compiler import compile_program

    return [LANG.canonicalize(compile_program(parse(src))) for src in LODA_SOURCES]


def test_round_trip_and_grammar_on_compiler_output():
    grammar = LANG.grammar()
    for code in _compiled():
        tokens = LANG.tokenize(code)
        assert LANG.detokenize(tokens) == code
        assert grammar.accepts(tokens)


@pytest.mark.corpus
def test_compiler_output_on_a_corpus_sample_is_representable(corpus):
    from corpora.loda_to_wat.compiler import UnsupportedProgram, compile_program

    numbers = sorted(corpus.records)
    random.Random(0).shuffle(numbers)
    grammar, checked = LANG.grammar(), 0
    for number in numbers[:80]:
        try:
            wat = compile_program(corpus.program(number), corpus, number=number)
        except UnsupportedProgram:
            continue
        code = LANG.canonicalize(wat)
        tokens = LANG.tokenize(code)
        assert LANG.detokenize(tokens) == code and grammar.accepts(tokens), number
        checked += 1
    assert checked > 50


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 70), 1 << 70))
def test_every_integer_is_representable(value):
    tokens = T.integer_tokens(str(value))
    assert T.atoms(tokens) == [str(value)]
    assert len(tokens) == 1 or tokens[0] in ("+", "-")


@settings(max_examples=80, deadline=None)
@given(st.from_regex(r"\$[a-z_][a-z0-9_]{0,12}", fullmatch=True))
def test_lowercase_identifiers_are_representable(name):
    tokens = T.name_tokens(name)
    assert T.atoms(tokens) == [name]


def test_identifier_splits():
    assert T.name_tokens("$c12") == ["$c", "d1", "d2"]
    assert T.name_tokens("$a45") == ["$a", "d4", "d5"]
    assert T.name_tokens("$op_add") == ["$op_add"]
    assert T.name_tokens("$exit1") == ["$exit", "d1"]
    assert T.integer_tokens("3037000499") == ["+", "d3", "d0", "d3", "d7", "d0", "d0", "d0", "d4", "d9", "d9"]
    assert T.atom_tokens("offset=131072") == ["offset=", "+", "d1", "d3", "d1", "d0", "d7", "d2"]


@pytest.mark.parametrize("code", [
    '(module (func (export "main") (result f64) f64.const 1.5))',  # float literal
    "(module (func $Upper))",  # upper-case identifier
    '(module (export "other" (func 0)))',  # unknown string
    "(module (func v128.const i32x4 1 2 3 4))",  # unknown instruction
])
def test_unrepresentable_code_raises(code):
    with pytest.raises(CodeError) as info:
        LANG.tokenize(LANG.canonicalize(code))
    assert info.value.kind == "tokenize"


@pytest.mark.parametrize("tokens", [["(", "module"], ["d1"], ["(", "module", ")", ")"], ["+"], ["offset="],
                                    ["nonsense"]])
def test_detokenize_rejects_malformed_tokens(tokens):
    with pytest.raises(CodeError):
        LANG.detokenize(tokens)


def _walk(grammar: Grammar, tokens: list[str]):
    state = grammar.start()
    for token in tokens:
        assert token in grammar.allowed(state)
        assert Grammar.END not in grammar.allowed(state)  # END only once the module is closed
        state = grammar.advance(state, token)
    return state


def test_grammar_accepts_every_tokenized_program():
    grammar = LANG.grammar()
    for code in PROGRAMS:
        state = _walk(grammar, LANG.tokenize(code))
        assert grammar.allowed(state) == frozenset({Grammar.END})


def test_grammar_rejects_unbalanced_and_broken_programs():
    grammar = WatGrammar()
    rng = random.Random(0)
    for code in PROGRAMS[:100]:
        tokens = LANG.tokenize(code)
        closes = [i for i, t in enumerate(tokens) if t == ")"]
        i = rng.choice(closes)
        assert not grammar.accepts(tokens[:i] + tokens[i + 1:])  # a missing `)`
        assert not grammar.accepts(tokens + [")"])  # an extra `)`
        assert not grammar.accepts(tokens[:-1])  # module not closed
        ends = [i for i, t in enumerate(tokens) if t == "end"]
        if ends:
            j = rng.choice(ends)
            assert not grammar.accepts(tokens[:j] + tokens[j + 1:])  # a flat block left open
    assert not grammar.accepts(["(", "module", "(", "func", "i64.const", ")", ")"])  # missing immediate
    assert not grammar.accepts(["(", "module", "(", "func", "local.get", "i64.add", ")", ")"])
    assert not grammar.accepts(["(", "module", "(", "func", "else", ")", ")"])
    assert not grammar.accepts(["(", "module", "(", "i64.add", ")", ")"])  # instruction as a module field
    assert not grammar.accepts(["(", "module", "(", "func", "(", "if", "(", "i32.const", "1", ")", ")", ")", ")"])
    assert grammar.accepts(["(", "module", ")"])
    with pytest.raises(ValueError):
        grammar.advance(grammar.start(), "module")


def _func(*body: str, result: bool = True) -> list[str]:
    head = ["(", "module", "(", "func", "$main", "(", "export", '"main"', ")"]
    return head + (["(", "result", "i64", ")"] if result else []) + list(body) + [")", ")"]


def test_grammar_tracks_the_operand_stack_of_a_function_body():
    """Constrained decoding cannot end a function with the wrong number of values, pop an empty
    stack, leave values in a block, or push without bound (the failures of small models: a
    runaway `local.get $x ...` that never closes, `i64.const a i64.const b i64.const c i64.mul`)."""
    from languages.wat.grammar import MAX_STACK

    grammar = WatGrammar()
    c = ["i64.const", "7"]
    assert grammar.accepts(_func(*c))
    assert not grammar.accepts(_func())  # the i64 result is missing
    assert not grammar.accepts(_func(*c, *c))  # a value left over
    assert grammar.accepts(_func(result=False)) and not grammar.accepts(_func(*c, result=False))
    assert not grammar.accepts(_func("i64.add"))  # nothing to pop
    assert not grammar.accepts(_func(*c, "i64.add"))
    assert grammar.accepts(_func(*c, *c, "i64.add"))
    assert grammar.accepts(["(", "module", "(", "func", "(", "result", "i64", "i64", ")", *c, *c, ")", ")"])
    # a block without a type must leave the stack as it found it, in each arm of an `if`
    assert grammar.accepts(_func(*c, "block", *c, "drop", "end"))
    assert not grammar.accepts(_func(*c, "block", *c, "end"))
    assert grammar.accepts(_func(*c, *c, "if", "nop", "else", "nop", "end"))
    assert not grammar.accepts(_func(*c, *c, "if", *c, "else", "nop", "end"))
    assert not grammar.accepts(_func(*c, "if", "nop", "end"))  # `if` pops its condition
    # where the grammar cannot count, it does not constrain: typed blocks, calls, folded code,
    # and the unreachable rest of a block after `br` / `return`
    assert grammar.accepts(_func("block", "(", "result", "i64", ")", *c, "end"))
    assert grammar.accepts(_func("call", "$f"))
    assert grammar.accepts(_func("(", "i64.add", "(", "i64.const", "1", ")", "(", "i64.const", "2", ")", ")"))
    assert grammar.accepts(_func(*c, "block", *c, "br", "0", "end"))
    assert grammar.accepts(_func(*c, "return", "i64.add"))
    # a bounded stack: after MAX_STACK pushes, only what consumes is allowed
    state = grammar.start()
    for tok in _func(*c * MAX_STACK)[:-2]:
        state = grammar.advance(state, tok)
    allowed = grammar.allowed(state)
    assert "i64.add" in allowed and "drop" in allowed
    assert not allowed & {"i64.const", "local.get", "global.get", ")"}


def _bellman_holds(grammar: WatGrammar, state) -> bool:
    """A distance d is the true fewest tokens to END exactly where d = 0 with END allowed, and
    d = 1 + min d(next) otherwise (follow the minimum down to 0; no path can drop faster)."""
    allowed = grammar.allowed(state)
    if Grammar.END in allowed:
        return grammar.completion_distance(state) == 0
    return grammar.completion_distance(state) == 1 + min(
        grammar.completion_distance(grammar.advance(state, token)) for token in allowed)


def test_completion_distance_is_the_fewest_tokens_to_the_end():
    """Decoding's length budget trusts `completion_distance` instead of searching: it must be
    the true fewest tokens to END from every state (prefixes of programs, random detours from
    them, random walks), including off-height blocks and functions, which `unreachable` closes
    in one token, and deep off-height nests."""
    grammar, rng, checked = WatGrammar(), random.Random(4), 0
    c = ["i64.const", "7"]
    deep = _func(*c, "block", *c, "block", *c, "block", *c, "block", *c, "block")[:-2]
    extra = [_func(*c, "block", *c, *c)[:-2], _func(*c, *c, "if")[:-2], _func()[:-2], _func(*c, *c)[:-2], deep]
    for tokens in [LANG.tokenize(code) for code in PROGRAMS] + extra:
        state = grammar.start()
        for token in tokens:
            state = grammar.advance(state, token)
            walked = state
            for _ in range(rng.randint(0, 6)):
                options = sorted(grammar.allowed(walked) - {Grammar.END})
                if not options:
                    break
                walked = grammar.advance(walked, rng.choice(options))
                assert _bellman_holds(grammar, walked), walked
                checked += 1
            assert _bellman_holds(grammar, state), state
    assert checked > 1000
    state = grammar.start()
    for token in deep:
        state = grammar.advance(state, token)
    # 5 open blocks entered at heights 1..5 of a function of one result: `end`, 4 x `unreachable
    # end` (each enclosing block is off its entry height) and two `)`
    assert grammar.completion_distance(state) == 1 + 4 * 2 + 2
    assert grammar.completion_distance(grammar.start()) == len(["(", "module", ")"])


SLOT_VALUES = [3, -7, 0, 65536, 1, 2, 5, 99][:MAX_SLOTS]  # all within i32, as a valid prompt's would be


def test_grammar_random_walks_detokenize_to_code():
    grammar = WatGrammar()
    rng = random.Random(1)
    finished = 0
    for _ in range(200):
        state, tokens = grammar.start(), []
        while len(tokens) < 400:
            allowed = sorted(grammar.allowed(state))
            if Grammar.END in allowed:  # only after the module is closed, and then alone
                assert allowed == [Grammar.END]
                break
            # grow first (no `)` while another token is possible), then close with probability 1/2
            choices = [t for t in allowed if t != ")"] if len(tokens) < 40 else allowed
            closing = ")" in allowed and len(tokens) >= 40 and rng.random() < 0.5
            token = ")" if closing else rng.choice(choices or allowed)
            tokens.append(token)
            state = grammar.advance(state, token)
        if Grammar.END in grammar.allowed(state):
            finished += 1
            text = LANG.detokenize(fill_slots(LANG, tokens, SLOT_VALUES))  # a walk may take number slots
            assert text.startswith("(module") and LANG.detokenize(LANG.tokenize(text)) == text
    assert finished > 150


def test_grammar_random_walks_have_numbers_in_range():
    from languages.wat.errors import WatError
    from languages.wat.validator import validate

    grammar = WatGrammar()
    rng = random.Random(7)
    finished = 0
    for _ in range(300):
        state, tokens = grammar.start(), []
        while len(tokens) < 300:
            allowed = sorted(grammar.allowed(state))
            if Grammar.END in allowed:
                break
            closers = [t for t in allowed if t in (")", "end")]
            token = rng.choice(closers) if len(tokens) >= 60 and closers else rng.choice(allowed)
            tokens.append(token)
            state = grammar.advance(state, token)
        if Grammar.END not in grammar.allowed(state):
            continue
        finished += 1
        try:
            validate(LANG.detokenize(fill_slots(LANG, tokens, SLOT_VALUES)))
        except WatError as error:
            assert "out of range" not in str(error), (str(error), tokens)
    assert finished > 100


def _after(grammar: Grammar, tokens: list[str]):
    state = grammar.start()
    for token in ["(", "module", "(", "func"] + tokens:
        state = grammar.advance(state, token)
    return grammar.allowed(state)


def test_grammar_bounds_long_numbers():
    grammar = WatGrammar()
    digits = set(T.DIGITS)
    assert not digits & _after(grammar, ["i64.const", "+"] + ["d1"] * 19)  # 20 digits: never in range
    assert not digits & _after(grammar, ["i64.const", "-"] + ["d1"] * 19)
    assert "d0" not in _after(grammar, ["i64.const", "+"])  # no leading zero
    assert digits <= _after(grammar, ["i64.const", "+"] + ["d1"] * 18)
    max64 = [f"d{c}" for c in str(2**63 - 1)]
    assert digits & _after(grammar, ["i64.const", "+"] + max64[:-1]) == {f"d{i}" for i in range(8)}
    assert digits & _after(grammar, ["i64.const", "-"] + max64[:-1]) == {f"d{i}" for i in range(9)}
    assert not digits & _after(grammar, ["i32.const", "+"] + ["d1"] * 10)
    assert digits & _after(grammar, ["i32.const", "+"] + [f"d{c}" for c in "214748364"]) == {
        f"d{i}" for i in range(8)}
    assert not digits & _after(grammar, ["local.get", "+"] + ["d1"] * 10)  # u32 index
    assert "d5" not in _after(grammar, ["local.get", "+"] + ["d4"] * 9)
    assert not set(T.SUFFIXES) & _after(grammar, ["local.get", "$a"] + ["d1"] * 32)  # identifier length


def test_grammar_states_are_hashable_and_memoised():
    grammar = WatGrammar()
    tokens = LANG.tokenize(PROGRAMS[0])
    state = grammar.start()
    for token in tokens:
        hash(state)
        assert grammar.allowed(state) is grammar.allowed(state)
        state = grammar.advance(state, token)


# ---------------------------------------------------------------- execution

def test_execute_problem_and_sequence():
    p = generate_problems(1, seed=4)[0]
    result = LANG.execute(p.wat)
    assert result.ok and result.outputs == [p.answer] and result.seconds > 0
    result = LANG.execute(SQUARE, terms=4, offset=3)
    assert result.ok and result.outputs == [9, 16, 25, 36]
    assert LANG.execute(SQUARE, terms=2).outputs == [0, 1]


def test_execute_never_raises():
    cases = {
        "(module (func": "parse",
        '(module (func (export "main") (result i64) (loop $l (br $l)) (i64.const 0)))': "fuel",
        '(module (func (export "a") (param i64) (result i64) (i64.div_s (i64.const 1) (local.get 0))))': "trap",
        '(module (func (export "other") (result i64) (i64.const 1)))': "entry",
        '(module (import "x" "y" (func)) (func (export "main") (result i64) (i64.const 1)))': "import",
    }
    for code, kind in cases.items():
        result = LANG.execute(code, limits={"fuel": 1_000_000})
        assert not result.ok and result.error_kind == kind, (code, result)
    assert LANG.execute("(module)", limits={"bogus": 1}).error_kind == "args"


def test_execute_keeps_terms_before_an_error():
    code = ('(module (func (export "a") (param $n i64) (result i64) '
            '(i64.div_s (i64.const 12) (i64.sub (i64.const 3) (local.get $n)))))')
    result = LANG.execute(code, terms=5)
    assert not result.ok and result.outputs == [4, 6, 12] and result.error_kind == "trap"


def test_execute_forbidden_sequences():
    code = ('(module (func $a45 (param i64) (result i64) (i64.const 1))\n'
            ' (func (export "a") (param $n i64) (result i64) (call $a45 (local.get $n))))')
    assert LANG.execute(code, terms=1).ok
    for forbidden in (["A000045"], ["45"], ["$a45"]):
        result = LANG.execute(code, terms=1, forbidden=forbidden)
        assert not result.ok and result.error_kind == "forbidden"
    assert LANG.execute(code, terms=1, forbidden=["A000040"]).ok


def test_validate_and_canonicalize():
    LANG.validate(PROGRAMS[0])
    LANG.validate(SQUARE)
    for code, kind in [("(module (func", "parse"), ('(module (func (export "x")))', "entry"),
                       ('(module (import "env" "nope" (func)) (func (export "main")))', "import")]:
        with pytest.raises(CodeError) as info:
            LANG.validate(code)
        assert info.value.kind == kind
    assert LANG.canonicalize(" (module  ;; c\n )") == "(module)\n"
    with pytest.raises(CodeError) as info:
        LANG.canonicalize("(module")
    assert info.value.kind == "parse"


# ---------------------------------------------------------------- recipes

def test_problem_records():
    records = list(LANG.records("wat-problems", None, count=20, seed=2, levels="1,3", include_denied=True))
    assert len(records) == 20 and all(isinstance(r, Record) for r in records)
    problems = generate_problems(20, seed=2, levels=(1, 3))
    for r, p in zip(records, problems):
        assert r.id == p.id and r.code == p.wat and r.expected == p.answer
        assert r.prompt == f"<wat> {p.text}"
        assert r.meta["level"] == p.level and r.meta["kind"] == p.kind and r.meta["text"] == p.text
        assert LANG.execute(r.code).outputs == [r.expected]


def test_oeis_records_delegate(monkeypatch):
    from corpora import wat_oeis as oeis

    seen = {}

    def fake(corpus, *, terms=10, sample=None, seed=0, progress=True, limits=None, cell_limit=4096):
        seen.update(corpus=corpus, terms=terms, sample=sample)
        yield Record(id="A000290", prompt="The squares", code=SQUARE, terms=[0, 1, 4], offset=0)

    monkeypatch.setattr(oeis, "oeis_records", fake)
    records = list(LANG.records("wat-oeis", "CORPUS", sample=3, terms=5, include_denied=True))
    assert seen == {"corpus": "CORPUS", "terms": 5, "sample": 3}
    assert records[0].prompt == "<wat> The squares" and records[0].meta["name"] == "The squares"
    assert LANG.execute(records[0].code, terms=3).outputs == records[0].terms
