"""Number slots: which numbers of a prompt get slots, how code constants become slots and back,
that grammars and decoding accept exactly the slots a prompt has, and that a tokenizer without
slot tokens (a checkpoint trained before them) works as before."""
from __future__ import annotations

import pytest
import torch

from codegen.decoding import GrammarConstraint, GrammarLogitsProcessor
from codegen.language import CodeError, get_language
from codegen.number_slots import MAX_SLOTS, SLOT_TOKENS, fill_slots, mark_prompt, prompt_numbers, slot_code_tokens
from codegen.prompts import make_prompt
from codegen.tokenizer import (
    add_language_tokens, decode_code, encode_code, encode_prompts, fast_tokenizer_from_spm, structural_token_ids,
    train_sentencepiece, unused_slot_ids, uses_number_slots,
)
from languages.loda.grammar import LodaGrammar

TEXTS = ["Compute 12 mod 5.", "a(n) = 7*n + 4.", "Multiply -583 by 524.", "The prime numbers.", "Powers of 2."] * 8


def _tokenizer(slots: bool):
    tokenizer = fast_tokenizer_from_spm(train_sentencepiece(TEXTS, 60))
    tokenizer.codegen_meta = {"languages": []}
    add_language_tokens(tokenizer, ["loda", "wat"])
    if not slots:  # a tokenizer as saved before number slots existed
        tokenizer = fast_tokenizer_from_spm(train_sentencepiece(TEXTS, 60))
        from tokenizers import AddedToken

        from codegen.tokenizer import code_token, prefix_tokens

        wanted = prefix_tokens(["loda", "wat"]) + [code_token(name, t) for name in ("loda", "wat")
                                                    for t in get_language(name).structural_tokens()]
        tokenizer.add_tokens([AddedToken(t, normalized=False) for t in wanted])
    return tokenizer


@pytest.fixture(scope="module")
def slotted():
    return _tokenizer(True)


@pytest.fixture(scope="module")
def plain():
    return _tokenizer(False)


@pytest.mark.parametrize("description, numbers", [
    ("Compute 26779 mod 75.", [26779, 75]),
    ("Multiply -583 by 524.", [-583, 524]),
    ("a(n) = 2^n - 1.", [2, 1]),  # a subtraction, not -1
    ("a(n) = n-1.", [1]),
    ("a(n) = (-1)^n * 3.", [-1, 3]),
    ("a(n) = A000045(n) + 2, x2 and 1.5 are not numbers", [2]),
    ("What is the 5th power of 26?", [5, 26]),
    ("Sum 4 and 4 and 9.", [4, 9]),  # distinct values, first appearance
    ("The prime numbers.", []),
])
def test_prompt_numbers(description, numbers):
    assert prompt_numbers(make_prompt("wat", description)) == numbers


def test_terms_get_no_slots_and_slots_are_bounded():
    prompt = make_prompt("loda", "a(n) = 3*n + 7.", [7, 10, 13, 16])
    assert prompt_numbers(prompt) == [3, 7]
    assert mark_prompt(prompt) == "<loda> a(n) = <n0> 3*n + <n1> 7. <terms> 7, 10, 13, 16"
    many = make_prompt("wat", "The largest of " + ", ".join(str(v) for v in range(20, 40)) + ".")
    assert prompt_numbers(many) == list(range(20, 20 + MAX_SLOTS))
    assert mark_prompt(many).count("<n") == MAX_SLOTS


def test_hostile_numbers_get_no_slot():
    huge = "9" * 5000  # int() of it would raise (Python's digit limit); it is no constant to copy anyway
    prompt = make_prompt("wat", f"Add {huge} and 7.")
    assert prompt_numbers(prompt) == [7]
    assert mark_prompt(prompt).endswith(f"Add {huge} and <n0> 7.")


def test_loda_constants_slotted_except_structure():
    loda = get_language("loda")
    code = "#offset 1\nmov $1,7\nlpb $0,2\n  add $1,$2\n  sub $0,1\nlpe\nmul $1,123456\nseq $1,7\n"
    tokens = loda.tokenize(code)
    values = {value for _, _, value in loda.constant_spans(tokens)}
    assert values == {7, 1, 123456}  # not the offset, the loop length 2, cells or the seq argument
    slotted = slot_code_tokens(loda, tokens, [123456, 7])
    assert slotted.count("<n1>") == 1 and slotted.count("<n0>") == 1  # `seq $1,7` keeps its 7
    assert len(slotted) == len(tokens) - 6  # "+ d1 d2 d3 d4 d5 d6" became one token
    assert loda.detokenize(fill_slots(loda, slotted, [123456, 7])) == code


def test_wat_constants_round_trip(slotted):
    wat = get_language("wat")
    constraint = GrammarConstraint(wat.grammar(), structural_token_ids(slotted, wat), slotted.eos_token_id)
    records = list(wat.records("wat-problems", None, count=60, seed=3))
    used = 0
    for record in records:
        ids = encode_code(slotted, wat, record.code, record.prompt)
        used += any(slotted.convert_ids_to_tokens(i) in SLOT_TOKENS for i in ids)
        assert decode_code(slotted, wat, ids, record.prompt) == record.code
        assert constraint.accepts(ids)
    assert used >= 55  # nearly every problem copies a number of its text


def test_slot_ids_shared_by_prompt_and_code(slotted):
    loda = get_language("loda")
    prompt = make_prompt("loda", "a(n) = 7*n + 4000.")
    code = "mul $0,7\nadd $0,4000\n"
    prompt_ids = encode_prompts(slotted, [prompt])["input_ids"][0]
    code_ids = encode_code(slotted, loda, code, prompt)
    slot_ids = set(slotted.convert_tokens_to_ids(["<n0>", "<n1>"]))
    assert slot_ids <= set(prompt_ids) and slot_ids <= set(code_ids)
    assert decode_code(slotted, loda, code_ids, prompt) == code
    # the same ids under another prompt are other numbers: copying, not memorising
    assert decode_code(slotted, loda, code_ids, make_prompt("loda", "a(n) = 3*n + 11.")) == "mul $0,3\nadd $0,11\n"


def test_missing_slot_is_a_clear_error(slotted):
    loda = get_language("loda")
    ids = encode_code(slotted, loda, "mul $0,7\nadd $0,9\n", make_prompt("loda", "a(n) = 7*n + 9."))
    with pytest.raises(CodeError) as error:
        decode_code(slotted, loda, ids, make_prompt("loda", "Seven times n."))
    assert error.value.kind == "slot" and "<n0>" in str(error.value)


def test_tokenizer_without_slots_unchanged(plain):
    loda = get_language("loda")
    prompt = make_prompt("loda", "a(n) = 7*n + 4000.")
    assert not uses_number_slots(plain)
    assert encode_prompts(plain, [prompt])["input_ids"][0] == plain(prompt)["input_ids"]
    ids = encode_code(plain, loda, "mul $0,7\nadd $0,4000\n", prompt)
    assert decode_code(plain, loda, ids, prompt) == "mul $0,7\nadd $0,4000\n"
    assert not set(SLOT_TOKENS) & set(structural_token_ids(plain, loda))
    assert unused_slot_ids(plain, [prompt]) is None


def test_grammar_takes_a_slot_where_a_constant_goes(slotted):
    loda = get_language("loda")
    constraint = GrammarConstraint(LodaGrammar(()), structural_token_ids(slotted, loda), slotted.eos_token_id)
    ids = constraint.token_ids
    after_target = constraint.state_of([ids["mul"], ids["$0"]])
    assert ids["<n0>"] in constraint.allowed_ids(after_target)
    assert ids["<n0>"] not in constraint.allowed_ids(constraint.state_of([ids["mul"]]))  # not as a target
    assert constraint.accepts([ids["mul"], ids["$0"], ids["<n0>"]])
    wat = get_language("wat")
    wat_ids = structural_token_ids(slotted, wat)
    wat_constraint = GrammarConstraint(wat.grammar(), wat_ids, slotted.eos_token_id)
    tokens = wat.tokenize(wat.canonicalize(
        '(module (func (export "main") (result i64) (local $x i64) i64.const 5 local.set $x local.get $x))'))
    ids_of = [wat_ids[t] for t in tokens]
    local_get = ids_of[:tokens.index("local.get") + 1]  # an index follows, never a slot
    assert wat_ids["<n0>"] not in wat_constraint.allowed_ids(wat_constraint.state_of(local_get))
    const = ids_of[:tokens.index("i64.const") + 1]
    assert wat_ids["<n0>"] in wat_constraint.allowed_ids(wat_constraint.state_of(const))


def test_decoding_masks_slots_the_prompt_lacks(slotted):
    loda = get_language("loda")
    constraint = GrammarConstraint(LodaGrammar(()), structural_token_ids(slotted, loda), slotted.eos_token_id)
    ids = constraint.token_ids
    prompts = [make_prompt("loda", "a(n) = 7*n + 9."), make_prompt("loda", "The prime numbers.")]
    forbidden = unused_slot_ids(slotted, prompts)
    assert forbidden[0] == slotted.convert_tokens_to_ids(list(SLOT_TOKENS[2:]))
    processor = GrammarLogitsProcessor(constraint, prefix_length=1, forbidden=forbidden, group_size=2)
    pad = slotted.pad_token_id
    rows = torch.tensor([[pad, ids["mul"], ids["$0"]]] * 4)  # two samples per prompt
    out = processor(rows, torch.zeros(4, len(slotted)))
    for row in (0, 1):
        assert torch.isfinite(out[row, [ids["<n0>"], ids["<n1>"]]]).all()
        assert not torch.isfinite(out[row, ids["<n2>"]])
    for row in (2, 3):
        assert not torch.isfinite(out[row, [ids[s] for s in SLOT_TOKENS]]).any()
        assert torch.isfinite(out[row, ids["7"]])


def test_slot_out_of_range_is_rejected_by_validation(slotted):
    wat = get_language("wat")
    code = '(module\n  (func $main (export "main") (result i64)\n    i64.const 66\n    i64.const 72\n    i64.rem_s))\n'
    code = wat.canonicalize(code)
    ids = encode_code(slotted, wat, code, make_prompt("wat", "Compute 66 mod 72."))
    filled = decode_code(slotted, wat, ids, make_prompt("wat", "Compute 123456789012345678901234567890 mod 7."))
    assert "123456789012345678901234567890" in filled  # copied as written ...
    with pytest.raises(CodeError, match="out of range"):  # ... and rejected before anything runs
        wat.validate(wat.canonicalize(filled))


def test_negated_slot_round_trip(slotted):
    # "4x^3 - 20x^2 - 14x + 9": Horner form adds -20 and -14, whose negations are the text's numbers
    wat = get_language("wat")
    prompt = make_prompt("wat", "Evaluate 4x^3 - 20x^2 - 14x + 9 for x = 6.")
    code = wat.canonicalize('(module (func (export "main") (result i64) (local $x i64) i64.const 6 local.set $x '
                            'i64.const 4 local.get $x i64.mul i64.const -20 i64.add local.get $x i64.mul '
                            'i64.const -14 i64.add))')
    ids = encode_code(slotted, wat, code, prompt)
    tokens = slotted.convert_ids_to_tokens(ids)
    assert "<wat:d2>" not in tokens  # -20 is "- <n2>", not spelt digit by digit
    assert tokens.count("<wat:->") == 2 and tokens[tokens.index("<wat:->") + 1] == "<n2>"
    assert decode_code(slotted, wat, ids, prompt) == code
    constraint = GrammarConstraint(wat.grammar(), structural_token_ids(slotted, wat), slotted.eos_token_id)
    assert constraint.accepts(ids)
    # under another prompt the same ids are other numbers; a negative number negated is positive
    other = make_prompt("wat", "Evaluate 5x^3 - (-7)x^2 - 11x + 8 for x = 10.")
    decoded = decode_code(slotted, wat, ids, other)
    assert "i64.const 7\n" in decoded and "i64.const -11\n" in decoded
    loda = get_language("loda")
    prompt = make_prompt("loda", "a(n) = 20 - 7*n.")
    ids = encode_code(slotted, loda, "mul $0,-7\nadd $0,20\n", prompt)
    assert slotted.convert_ids_to_tokens(ids)[2:4] == ["<loda:->", "<n1>"]
    assert decode_code(slotted, loda, ids, prompt) == "mul $0,-7\nadd $0,20\n"


def test_grammar_takes_a_negated_slot_only_after_a_sign(slotted):
    loda = get_language("loda")
    constraint = GrammarConstraint(LodaGrammar(()), structural_token_ids(slotted, loda), slotted.eos_token_id)
    ids = constraint.token_ids
    assert ids["<n0>"] in constraint.allowed_ids(constraint.state_of([ids["mul"], ids["$0"], ids["-"]]))
    assert ids["<n0>"] not in constraint.allowed_ids(constraint.state_of([ids["mul"], ids["$0"], ids["+"]]))
    assert constraint.accepts([ids["mul"], ids["$0"], ids["-"], ids["<n0>"], ids["add"], ids["$0"], ids["<n1>"]])
    assert not constraint.accepts([ids["mul"], ids["$0"], ids["-"], ids["<n0>"], ids["d1"]])  # a slot is whole
    wat = get_language("wat")
    wat_ids = structural_token_ids(slotted, wat)
    wat_constraint = GrammarConstraint(wat.grammar(), wat_ids, slotted.eos_token_id)
    head = [wat_ids[t] for t in wat.tokenize(wat.canonicalize('(module (func (export "main") (result i64) i64.const 1))'))]
    const = head[:-3]  # ... i64.const
    assert wat_ids["<n0>"] in wat_constraint.allowed_ids(wat_constraint.state_of(const + [wat_ids["-"]]))
    assert wat_ids["<n0>"] not in wat_constraint.allowed_ids(wat_constraint.state_of(const + [wat_ids["+"]]))


# -- the "words" reading (issue 25): numbers as people write them ------------------------------

@pytest.mark.parametrize("description, numbers", [
    ("The town has 9,876 people.", [9876]),  # thousands separator
    ("Is 1,234,567 even?", [1234567]),
    ("What's the square of 1 024?", [1024]),  # a space as separator
    ("Sum the digits of 1 000 000 007.", [1000000007]),
    ("Sum 1, 2, 3 and 4.", [1, 2, 3, 4]),  # a comma and a space: a list
    ("Pick a number between 3 and 4.", [3, 4]),
    ("Compute gcd(12,18) and 12,34 and 1,2345.", [12, 18, 34, 1, 2345]),  # not groups of three: separate
    ("What is -9,040 plus -12?", [-9040, -12]),
    ("Add 9,876.5 and 2.", [2]),  # a decimal fraction is no integer
    ("What is three hundred twelve plus forty-five?", [312, 45]),
    ("Two thousand and six, fifteen hundred, a hundred and twelve.", [2006, 1500, 112]),
    ("Nine thousand divided by 45.", [9000, 45]),
    ("Count from one to one hundred one.", [1, 101]),
    ("two three", [2, 3]),  # words that make no single number are two
    ("How many eggs in a dozen?", [12]),
    ("Which is smaller: three dozen or 40?", [3, 12, 40]),  # "dozen" is a factor, like "twice"
    ("Buy 3 dozen eggs and half a dozen rolls.", [3, 12, 6]),
    ("What is twice 8,675?", [2, 8675]),
    ("Double 4,321, then triple it.", [2, 4321, 3]),
    ("What is half of 3,570?", [2, 3570]),
    ("Halve 48.", [2, 48]),
    ("Half an hour is not a divisor; half the total is.", [2]),  # "half the": a division by 2
    ("What is the tenth prime? Find the tenth one.", [10]),  # "one" after a determiner is a pronoun
    ("The twenty-first prime and the fifth power.", [21, 5]),
    ("The first and second terms.", []),  # order words, not numbers
    ("No numbers here, someone.", []),
])
def test_words_reading(description, numbers):
    prompt = make_prompt("wat", description)
    assert prompt_numbers(prompt, "words") == numbers


@pytest.mark.parametrize("description, numbers", [
    ("The town has 9,876 people.", [9, 876]),
    ("What is three hundred twelve plus forty-five?", []),
    ("What is twice 1 024?", [1, 24]),
    ("How many eggs in a dozen?", []),
])
def test_digits_reading_is_the_default_and_unchanged(description, numbers):
    prompt = make_prompt("wat", description)
    assert prompt_numbers(prompt) == prompt_numbers(prompt, "digits") == numbers


def test_words_reading_marks_whole_spans():
    prompt = make_prompt("wat", "What is twice three hundred twelve, less 9,876? <terms> 1, 2")
    assert mark_prompt(prompt, "words") == "<wat> What is <n0> twice <n1> three hundred twelve, less <n2> 9,876?" \
        " <terms> 1, 2"
    with pytest.raises(ValueError, match="unknown number reading"):
        prompt_numbers(prompt, "roman")


def test_generated_levels_1_to_3_read_alike():
    # the shipped model was trained with the digits reading: on the generator's levels 1-3 the
    # words reading must give the same slots, so those prompts look exactly as in training
    from languages.wat.problems import generate_problems

    for problem in generate_problems(1500, seed=11, levels=(1, 2, 3)):
        prompt = make_prompt("wat", problem.text)
        assert prompt_numbers(prompt, "words") == prompt_numbers(prompt), problem.text


def test_tokenizer_number_reading_flag(slotted):
    from codegen.tokenizer import number_reading

    wat = get_language("wat")
    prompt = make_prompt("wat", "Double 9,876.")
    code = wat.canonicalize('(module (func (export "main") (result i64) i64.const 9876 i64.const 2 i64.mul))')
    saved = dict(slotted.codegen_meta)
    try:
        assert number_reading(slotted) == "digits"  # nothing recorded: as every older tokenizer
        digits_ids = encode_prompts(slotted, [prompt])["input_ids"][0]
        assert slotted.convert_ids_to_tokens(digits_ids).count("<n1>") == 1  # 9 and 876
        assert slotted.convert_tokens_to_ids("<n2>") not in digits_ids
        slotted.codegen_meta = {**saved, "number_reading": "words"}
        assert number_reading(slotted) == "words"
        words_ids = encode_prompts(slotted, [prompt])["input_ids"][0]
        assert words_ids != digits_ids
        ids = encode_code(slotted, wat, code, prompt)
        tokens = slotted.convert_ids_to_tokens(ids)
        assert "<n1>" in tokens and "<n0>" in tokens and "<wat:d9>" not in tokens  # 9876 and 2 copied whole
        assert decode_code(slotted, wat, ids, prompt) == code
        assert unused_slot_ids(slotted, [prompt])[0] == slotted.convert_tokens_to_ids(list(SLOT_TOKENS[2:]))
        slotted.codegen_meta = {**saved, "number_reading": "roman"}
        with pytest.raises(ValueError, match="number_reading"):
            number_reading(slotted)
    finally:
        slotted.codegen_meta = saved


def test_config_number_reading_goes_to_the_tokenizer(slotted):
    from codegen.config import ConfigError
    from codegen.train import _with_number_reading

    saved = dict(slotted.codegen_meta)
    try:
        assert _with_number_reading(slotted, {"data": {}}).codegen_meta == saved  # unset: the tokenizer's own
        assert _with_number_reading(slotted, {"data": {"number_reading": "words"}}).codegen_meta["number_reading"] \
            == "words"
        with pytest.raises(ConfigError, match="number_reading"):
            _with_number_reading(slotted, {"_source": "x.yaml", "data": {"number_reading": "roman"}})
    finally:
        slotted.codegen_meta = saved
