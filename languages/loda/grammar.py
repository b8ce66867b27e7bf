"""A state machine over LODA's structural tokens, for constrained decoding.

Any token sequence it accepts (ending in `END`) detokenizes to text the LODA parser
accepts: only known operations, a cell as every target, a non-negative constant as the
`seq` source, `lpe` only inside an open loop, at most 100 open loops, and `END` only
when every loop is closed and at least one operation was emitted. Every program of the
corpus is accepted.

Spelled-out numbers are bounded, so that a decoder cannot wander into digits that can
only fail: a `seq` argument has at most 7 digits (OEIS A-numbers), a cell index at most
7, an offset at most 6, a constant at most 1156 (|c| < 2^3840, the overflow bound).

Given the sequence numbers of a program library (`known_sequences`), a `seq` argument
is restricted to them: digit by digit over their decimal prefixes, so a decoder can only
call programs that exist. An empty library (no corpus attached) rules `seq` out: no call
could run.

A number slot (`<n0>`..`<n7>`, see `codegen.number_slots`) may stand for any constant source
operand (not a `seq` argument), and `-` then a slot for its negation; generation fills it with
the prompt's number before the code is detokenized.

States are small tuples `(phase, depth, emitted, seq_source, digits_left)`; `allowed` is
memoised per state, so a decoding step costs one dict lookup.
"""
from __future__ import annotations

from typing import Hashable, Iterable

from codegen.language import Grammar
from codegen.number_slots import SLOT_TOKENS

from . import tokens as T

MAX_OPEN_LOOPS = 100
SEQ_DIGITS = 7
CELL_DIGITS = 7
OFFSET_MAX_DIGITS = 6
CONSTANT_DIGITS = 1156

# phases
START = 0  # nothing yet: `#offset` or the first operation
OFFSET_VALUE = 1  # after `#offset`
OFFSET_FIRST = 2  # after the sign of a long offset
OFFSET_DIGITS = 3  # inside the digits of a long offset
LINE = 4  # between operations
TARGET = 5  # after an opcode that takes operands
TARGET_FIRST = 6  # after `$` / `$$` of a long target cell
TARGET_DIGITS = 7
SOURCE = 8  # after the target
SOURCE_FIRST = 9  # after `$`, `$$`, `+` or `-` of a long source
SOURCE_DIGITS = 10
DONE = 11  # after END
SEQ_DIGITS_KNOWN = 12  # inside the digits of a `seq` argument restricted to known numbers
SOURCE_NEG = 13  # after the `-` of a constant source: its first digit, or a number slot it negates

_CELLS = frozenset(T.DIRECT + T.INDIRECT + (T.DIRECT_PREFIX, T.INDIRECT_PREFIX))
_SLOTS = frozenset(SLOT_TOKENS)
# a number slot (codegen.number_slots) stands for a whole constant
_ANY_SOURCE = frozenset(_CELLS | set(T.CONSTANT_TOKENS) | {T.PLUS, T.MINUS} | _SLOTS)
_SEQ_SOURCE = frozenset(set(T.NONNEG_CONSTANT_TOKENS) | {T.PLUS})
_ANY_INTEGER = frozenset(set(T.CONSTANT_TOKENS) | {T.PLUS, T.MINUS})
_DIGITS = frozenset(T.DIGITS)
_FIRST_DIGITS = frozenset(T.NONZERO_DIGITS)
_OPS_NO_LPE = frozenset(op for op in T.OPS if op != "lpe")


class LodaGrammar(Grammar):
    def __init__(self, known_sequences: Iterable[int] | None = None) -> None:
        self._allowed: dict[Hashable, frozenset[str]] = {}
        self._advance: dict[tuple[Hashable, str], Hashable] = {}
        self._known: frozenset[str] | None = None
        self._prefixes: frozenset[str] = frozenset()
        self._seq_source = _SEQ_SOURCE
        self._no_calls = False
        if known_sequences is not None:
            known = frozenset(str(int(n)) for n in known_sequences if int(n) >= 0)
            self._known = known
            self._prefixes = frozenset(k[:i] for k in known for i in range(1, len(k) + 1))
            single = {t for t in T.NONNEG_CONSTANT_TOKENS if t in known}
            self._seq_source = frozenset(single | ({T.PLUS} if known - single else set()))
            self._no_calls = not known

    def start(self) -> Hashable:
        return (START, 0, False, False, 0)

    def _ops(self, depth: int) -> set[str]:
        ops = set(_OPS_NO_LPE)
        if self._no_calls:
            ops.discard("seq")
        if depth > 0:
            ops.add("lpe")
        if depth >= MAX_OPEN_LOOPS:
            ops.discard("lpb")
        return ops

    def _line(self, depth: int, emitted: bool) -> set[str]:
        allowed = self._ops(depth)
        if depth == 0 and emitted:
            allowed.add(self.END)
        return allowed

    def _compute(self, state: Hashable) -> frozenset[str]:
        phase, depth, emitted, seq, left = state  # type: ignore[misc]
        if phase == SEQ_DIGITS_KNOWN:  # `left` holds the digits so far
            allowed = {d for d in T.DIGITS if left + d[1:] in self._prefixes}
            return frozenset(allowed | self._line(depth, True) if left in self._known else allowed)
        digits = _DIGITS if left > 0 else frozenset()
        if phase == START:
            return frozenset(self._ops(0) | {T.OFFSET})
        if phase == OFFSET_VALUE:
            return _ANY_INTEGER
        if phase in (OFFSET_FIRST, TARGET_FIRST, SOURCE_FIRST):
            return _FIRST_DIGITS
        if phase == SOURCE_NEG:
            return _FIRST_DIGITS | _SLOTS
        if phase == OFFSET_DIGITS:
            return frozenset(digits | self._ops(0))
        if phase == LINE:
            return frozenset(self._line(depth, emitted))
        if phase == TARGET:
            return _CELLS
        if phase == TARGET_DIGITS:
            return frozenset(digits | (self._seq_source if seq else _ANY_SOURCE))
        if phase == SOURCE:
            return self._seq_source if seq else _ANY_SOURCE
        if phase == SOURCE_DIGITS:
            return frozenset(digits | self._line(depth, True))
        if phase == DONE:
            return frozenset()
        raise ValueError(f"not a LODA grammar state: {state!r}")

    def allowed(self, state: Hashable) -> frozenset[str]:
        result = self._allowed.get(state)
        if result is None:
            result = self._allowed[state] = self._compute(state)
        return result

    def _op_state(self, token: str, depth: int) -> Hashable:
        if token == "lpe":
            return (LINE, depth - 1, True, False, 0)
        if token in T.NULLARY_OPS:
            return (LINE, depth, True, False, 0)
        if token == "lpb":
            depth += 1  # the loop is open from here on
        return (TARGET, depth, True, token == "seq", 0)

    def _step(self, state: Hashable, token: str) -> Hashable:
        phase, depth, emitted, seq, left = state  # type: ignore[misc]
        if phase == START:
            if token == T.OFFSET:
                return (OFFSET_VALUE, 0, False, False, 0)
            return self._op_state(token, 0)
        if phase == OFFSET_VALUE:
            if token in (T.PLUS, T.MINUS):
                return (OFFSET_FIRST, 0, False, False, OFFSET_MAX_DIGITS)
            return (LINE, 0, False, False, 0)
        if phase in (OFFSET_FIRST, OFFSET_DIGITS):
            if token in _DIGITS:
                return (OFFSET_DIGITS, 0, False, False, left - 1)
            return self._op_state(token, 0)
        if phase == SEQ_DIGITS_KNOWN and token in _DIGITS:
            return (SEQ_DIGITS_KNOWN, depth, emitted, False, left + token[1:])
        if phase == LINE or (phase in (SOURCE_DIGITS, SEQ_DIGITS_KNOWN) and token not in _DIGITS):
            if token == self.END:
                return (DONE, 0, True, False, 0)
            return self._op_state(token, depth)
        if phase == TARGET:
            if token in (T.DIRECT_PREFIX, T.INDIRECT_PREFIX):
                return (TARGET_FIRST, depth, emitted, seq, CELL_DIGITS)
            return (SOURCE, depth, emitted, seq, 0)
        if phase in (TARGET_FIRST, TARGET_DIGITS) and token in _DIGITS:
            return (TARGET_DIGITS, depth, emitted, seq, left - 1)
        if phase in (TARGET_DIGITS, SOURCE):
            if token in (T.DIRECT_PREFIX, T.INDIRECT_PREFIX):
                limit = CELL_DIGITS
            elif token in (T.PLUS, T.MINUS):
                if seq and self._known is not None:
                    return (SEQ_DIGITS_KNOWN, depth, emitted, False, "")
                if token == T.MINUS and not seq:
                    return (SOURCE_NEG, depth, emitted, False, CONSTANT_DIGITS)
                limit = SEQ_DIGITS if seq else CONSTANT_DIGITS
            else:
                return (LINE, depth, True, False, 0)
            return (SOURCE_FIRST, depth, emitted, False, limit)
        if phase == SOURCE_NEG and token in _SLOTS:
            return (LINE, depth, True, False, 0)
        if phase in (SOURCE_FIRST, SOURCE_DIGITS, SOURCE_NEG):
            return (SOURCE_DIGITS, depth, emitted, False, left - 1)
        raise ValueError(f"not a LODA grammar state: {state!r}")

    def advance(self, state: Hashable, token: str) -> Hashable:
        key = (state, token)
        result = self._advance.get(key)
        if result is None:
            if token not in self.allowed(state):
                raise ValueError(f"token {token!r} not allowed in state {state!r}")
            result = self._advance[key] = self._step(state, token)
        return result

    def accepts(self, tokens) -> bool:
        """True when `tokens` (without END) is a complete program for this grammar."""
        state = self.start()
        try:
            for token in tokens:
                state = self.advance(state, token)
        except ValueError:
            return False
        return self.END in self.allowed(state)


def grammar() -> LodaGrammar:
    return LodaGrammar()
