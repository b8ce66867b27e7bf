"""A state machine over WAT's structural tokens, for constrained decoding.

A pushdown automaton: the state is a tuple of frames (bottom first), each a small
tuple, so states are hashable and `allowed` / `advance` are memoised per state.

What it guarantees for any accepted token sequence (ending in `END`): one
`(module ...)` with balanced parentheses, and `END` only once it is closed; only
known keywords and instructions, each where its construct allows it (module fields
at module level; a function header `(export ...) (import ...) (type ...) (param ...)
(result ...) (local ...)` in that order before the body; instructions in function
bodies, block bodies, `then` / `else` and global initialisers); the immediates every
instruction needs (a number after `i64.const`, an index after `local.get`, `call`,
`br`, ...; optional label and block type after `block` / `loop` / `if`; optional
`offset=` / `align=` after loads and stores); flat `else` only inside a flat `if`,
flat `end` only inside an open flat block, and a function or block closed only when
its flat blocks are; a folded `if` with its `(then ...)` and an optional `(else ...)`;
well-formed numbers (a sign then digits without a leading zero) within range
(i64.const: -2^63..2^63-1, i32.const: -2^31..2^31-1, indices and offsets: u32,
memory limits: <= 65536 pages, align=: 1/2/4/8 up to the access width) and identifiers
(at most 32 suffix tokens); a number slot (`<n0>`..`<n7>`, `codegen.number_slots`) may
stand for the constant of an `i32.const` / `i64.const`, and `-` then a slot for its negation
(its range is checked once it is filled in, by validation). So
every accepted sequence detokenizes without error.

In a function body it also counts the operand stack: an instruction needs its operands
(`i64.add` two, `if` one), a block without a type leaves the stack as it found it, the
function ends with exactly its result count, and at most MAX_STACK values are pushed. Where it
cannot count (typed blocks, `call`, folded instructions, the unreachable rest of a block after
`br` / `return`) it stops constraining until it can again, so no valid program is rejected for
its stack. Value types are not checked (wasmtime's validator does that). Every canonical
program of the problem generator and of the LODA compiler is accepted.
"""
from __future__ import annotations

import re
from typing import Hashable

from codegen.language import Grammar
from codegen.number_slots import SLOT_TOKENS

from . import tokens as T

END = Grammar.END
NUM_START = frozenset(T.CONSTANT_TOKENS) | {T.PLUS, T.MINUS}
SLOTS = frozenset(SLOT_TOKENS)
CONST_START = NUM_START | SLOTS  # a number slot (codegen.number_slots) is a whole constant, or its negation after `-`
UNUM_START = frozenset(t for t in T.CONSTANT_TOKENS if not t.startswith("-")) | {T.PLUS}
NAMES = frozenset(T.NAMES)
SUFFIXES = frozenset(T.SUFFIXES)
DIGITS = frozenset(T.DIGITS)
NONZERO = frozenset(T.DIGITS[1:])
TYPES = frozenset({"i32", "i64"})
STRINGS = frozenset(T.STRINGS)
IDX_START = NAMES | UNUM_START
PAGES_START = frozenset(t for t in UNUM_START if t == T.PLUS or int(t) <= 65536)
OPEN, CLOSE = T.OPEN, T.CLOSE

PLAIN = frozenset(T.INSTRUCTIONS) - {"else", "end"}
FOLD_HEADS = PLAIN
FIELD_HEADS = frozenset({"func", "memory", "global", "export", "import", "type", "start"})
IDX_INSTRS = frozenset({"local.get", "local.set", "local.tee", "global.get", "global.set", "call", "br", "br_if"})
MEM_INSTRS = frozenset(T.LOADS + T.STORES)
BLOCK_CHAR = {"block": "b", "loop": "l", "if": "i"}

# Range bounds (as decimal strings) of numbers spelled with a sign and digit tokens.
I64_POS, I64_NEG = str(2**63 - 1), str(2**63)
I32_POS, I32_NEG = str(2**31 - 1), str(2**31)
U32 = str(2**32 - 1)
MAX_PAGES = "65536"
MAX_SUFFIX = 32  # suffix tokens after an identifier's name token
ALIGNS = ("1", "2", "4", "8")

_HEAD = ("HEAD",)
_SUFX = ("SUFX", 0)
_CLOSE = ("CLOSE",)
_STR = ("STR",)
_IDX = ("IDX",)
_UNUM = ("UNUM", U32)
# A SEQ frame is ("SEQ", phase, blocks, height, entries, results): `blocks` the open flat blocks
# ("b"/"l"/"i"/"e"), `height` the operand-stack height (None where unknown), `entries` each open
# block's height at entry (None where unknown), `results` the function's result count (None
# where the sequence is not a function body: folded bodies, `then`/`else`, global initialisers).
_BODY = ("SEQ", 6, "", None, (), None)
_FUNC = ("SEQ", 0, "", 0, (), 0)
MAX_STACK = 16  # operand-stack height allowed while decoding (canonical programs stay far below)
_UNARY = {"i32.eqz", "i64.eqz", "i32.clz", "i32.ctz", "i32.popcnt", "i64.clz", "i64.ctz", "i64.popcnt",
          "i32.wrap_i64", "i64.extend_i32_s", "i64.extend_i32_u", "i32.extend8_s", "i32.extend16_s",
          "i64.extend8_s", "i64.extend16_s", "i64.extend32_s", "local.tee", "memory.grow"}
_POLYMORPHIC = frozenset({"unreachable", "br", "br_table", "return"})  # the rest of the block is unreachable


def _stack_effect(tok: str) -> tuple[int, int] | None:
    """(pops, pushes) of a flat instruction; None where the grammar cannot tell (`call`: the
    callee's signature) or the stack becomes polymorphic."""
    if tok in _POLYMORPHIC or tok == "call":
        return None
    if tok in ("nop", "block", "loop"):
        return (0, 0)
    if tok in ("if", "br_if", "drop", "local.set", "global.set"):
        return (1, 0)
    if tok in ("local.get", "global.get", "memory.size", "i32.const", "i64.const"):
        return (0, 1)
    if tok in ("memory.fill", "memory.copy"):
        return (3, 0)
    if tok == "select":
        return (3, 1)
    if tok in _UNARY or ".load" in tok:
        return (1, 1)
    if ".store" in tok:
        return (2, 0)
    return (2, 1)  # the binary i32./i64. operations


_EFFECTS = {tok: _stack_effect(tok) for tok in T.INSTRUCTIONS if tok not in ("else", "end")}
# Flat instructions a known height allows: enough operands, and no push past MAX_STACK.
_PLAIN_AT = tuple(frozenset(t for t in PLAIN if _EFFECTS[t] is None
                            or (_EFFECTS[t][0] <= h and h - _EFFECTS[t][0] + _EFFECTS[t][1] <= MAX_STACK))
                  for h in range(MAX_STACK + 1))


def _natural_align(tok: str) -> str:
    """Largest valid `align=` of a load / store (its access width in bytes)."""
    width = re.search(r"(8|16|32)(_[su])?$", tok)
    if width:
        return str(int(width.group(1)) // 8)
    return "4" if tok.startswith("i32") else "8"


def _immediates(tok: str) -> tuple:
    if tok == "i64.const":
        return (("NUM", I64_POS, I64_NEG),)
    if tok == "i32.const":
        return (("NUM", I32_POS, I32_NEG),)
    if tok in IDX_INSTRS:
        return (_IDX,)
    if tok == "br_table":
        return (("IDXS", 0),)
    if tok in MEM_INSTRS:
        return (("MEMARG", 0, _natural_align(tok)),)
    return ()


def _digits_allowed(n: int, cmp: int, bound: str) -> frozenset[str]:
    """Digit tokens that may follow `n` digits (no leading zero) whose comparison with
    `bound[:n]` is `cmp` (-1 less, 0 equal, 1 greater), keeping the value <= `bound`."""
    last = len(bound) - 1
    if n < last or (n == last and cmp < 0):
        return DIGITS
    if n == last and cmp == 0:
        return frozenset(T.DIGITS[: int(bound[-1]) + 1])
    return frozenset()


# Fewest tokens that close a frame on top (leaving the frames below as they are): a frame whose
# allowed tokens include those of the frame below (an identifier's suffix, digits, optional
# immediates, a block type) costs nothing, a missing immediate or `)` one token.
_FRAME_COST = {"SUFX": 0, "DIGS": 0, "MEMARG": 0, "BT": 0, "NUM": 1, "UNUM": 1, "ALIGN": 1, "DIG1": 1,
               "NDIG1": 1, "IDX": 1, "STR": 1, "CLOSE": 1, "TY": 1, "FOLD": 1, "FSIG": 1, "MOD": 1,
               "EXPDESC": 4, "IMPDESC": 3}  # `(func 0)`, `(func)`
_PHASE_COST = {  # by the frame's phase (its last field)
    "TOP": (3, 2, 0, 0),      # `(module)`, `module)`, done
    "IDXS": (1, 0),           # `br_table` needs one label
    "FIF": (4, 1, 1),         # `(then))`, `)`, `)`
    "TL": (1, 2, 1, 1),       # `)`, a type after a name then `)`, `)`, `)`
    "MEM": (2, 2, 1, 1),      # pages `)`, pages `)`, `)`, `)`
    "GLOB": (2, 2),           # a type then the initialiser's `)`
    "TYPEDESC": (3, 3),       # `(func)`
}


def _fold_frames(head: str) -> tuple:
    if head in ("block", "loop"):
        return (_BODY, ("BT", 0))
    if head == "if":
        return (("FIF", 0), ("BT", 0))
    return (("FOLD",),) + _immediates(head)


class WatGrammar(Grammar):
    MAX_CACHE = 500_000

    def __init__(self) -> None:
        self._allowed: dict[Hashable, frozenset[str]] = {}
        self._advance: dict[tuple[Hashable, str], Hashable] = {}
        self._distances: dict[Hashable, int] = {}

    def start(self) -> Hashable:
        return (("TOP", 0),)

    # -------------------------------------------------------------- allowed
    def allowed(self, state: Hashable) -> frozenset[str]:
        result = self._allowed.get(state)
        if result is None:
            if len(self._allowed) > self.MAX_CACHE:
                self._allowed.clear()
            result = self._allowed[state] = frozenset(self._compute(state))
        return result

    def _compute(self, state: tuple) -> set[str] | frozenset[str]:
        top, rest = state[-1], state[:-1]
        tag = top[0]
        if tag == "HEAD":
            return self._heads(rest)
        if tag == "DIGS":
            return _digits_allowed(top[1], top[2], top[3]) | self.allowed(rest)
        if tag == "SUFX":
            return (SUFFIXES if top[1] < MAX_SUFFIX else frozenset()) | self.allowed(rest)
        if tag == "NUM":
            return CONST_START
        if tag == "UNUM":
            bound = int(top[1])
            return {t for t in UNUM_START if t == T.PLUS or int(t) <= bound}
        if tag == "ALIGN":
            return {a for a in ALIGNS if int(a) <= int(top[1])}
        if tag in ("DIG1", "NDIG1"):
            first = NONZERO if len(top[1]) > 1 else frozenset(T.DIGITS[1: int(top[1]) + 1])
            return first | SLOTS if tag == "NDIG1" else first
        if tag == "IDX":
            return IDX_START
        if tag == "IDXS":
            return IDX_START if top[1] == 0 else IDX_START | self.allowed(rest)
        if tag == "STR":
            return STRINGS
        if tag == "CLOSE":
            return {CLOSE}
        if tag == "TY":
            return TYPES
        if tag == "MEMARG":
            return ({"offset=", "align="} if top[1] == 0 else {"align="}) | self.allowed(rest)
        if tag == "BT":
            own = {OPEN} | (NAMES if top[1] == 0 else set())
            return own | self.allowed(rest)
        if tag == "TOP":
            return ({OPEN}, {"module"}, {END}, set())[top[1]]
        if tag == "MOD":
            return {OPEN, CLOSE} | (NAMES if top[1] == 0 else set())
        if tag == "SEQ":
            _, phase, blocks, height, entries, results = top
            out = set(PLAIN if height is None else _PLAIN_AT[height])
            out.add(OPEN)
            if blocks:
                # a block without a type leaves the stack as it found it
                if height is None or entries[-1] is None or height == entries[-1]:
                    out.add("end")
                    if blocks[-1] == "i":
                        out.add("else")
            elif height is None or results is None or height == results:
                out.add(CLOSE)
            if phase == 0:
                out |= NAMES
            return out
        if tag == "FIF":
            return ({OPEN}, {OPEN, CLOSE}, {CLOSE})[top[1]]
        if tag == "FOLD":
            return {OPEN, CLOSE}
        if tag == "TL":
            _, kind, phase = top
            if phase == 0:
                return TYPES | {CLOSE} | (NAMES if kind != "result" else set())
            return (None, TYPES, {CLOSE}, TYPES | {CLOSE})[phase]
        if tag == "MEM":
            phase = top[1]
            if phase == 0:
                return NAMES | {OPEN} | PAGES_START
            return ({OPEN} | PAGES_START, PAGES_START | {CLOSE}, {CLOSE})[phase - 1]
        if tag == "GLOB":
            return ({OPEN} | TYPES | NAMES) if top[1] == 0 else ({OPEN} | TYPES)
        if tag in ("EXPDESC", "IMPDESC"):
            return {OPEN}
        if tag == "FSIG":
            return {OPEN, CLOSE} | (NAMES if top[1] == 0 else set())
        if tag == "TYPEDESC":
            return {OPEN} | (NAMES if top[1] == 0 else set())
        raise AssertionError(f"unknown frame {top!r}")

    def _heads(self, stack: tuple) -> set[str] | frozenset[str]:
        top, rest = stack[-1], stack[:-1]
        tag = top[0]
        if tag == "MOD":
            return FIELD_HEADS
        if tag == "SEQ":
            phase = top[1]
            out = set(FOLD_HEADS)
            if phase <= 1:
                out |= {"export", "import", "type"}
            if phase <= 3:
                out.add("param")
            if phase <= 4:
                out.add("result")
            if phase <= 5:
                out.add("local")
            return out
        if tag == "BT":
            phase = top[1]
            own = {"result"} | ({"param"} if phase <= 2 else set()) | ({"type"} if phase <= 1 else set())
            return own | self._heads(rest)
        if tag == "FIF":
            return (FOLD_HEADS | {"then"}, {"else"}, set())[top[1]]
        if tag == "FOLD":
            return FOLD_HEADS
        if tag == "MEM":
            return {"export"} if top[1] <= 1 else set()
        if tag == "GLOB":
            return {"export", "mut"}
        if tag == "EXPDESC":
            return {"func", "memory", "global"}
        if tag == "IMPDESC":
            return {"func"}
        if tag == "FSIG":
            phase = top[1]
            return ({"type"} if phase <= 1 else set()) | ({"param"} if phase <= 3 else set()) | {"result"}
        if tag == "TYPEDESC":
            return {"func"}
        raise AssertionError(f"no heads after `(` in frame {top!r}")

    # -------------------------------------------------------------- advance
    def advance(self, state: Hashable, token: str) -> Hashable:
        key = (state, token)
        result = self._advance.get(key)
        if result is None:
            if token not in self.allowed(state):
                raise ValueError(f"token {token!r} not allowed here")
            if len(self._advance) > self.MAX_CACHE:
                self._advance.clear()
            result = self._advance[key] = self._step(state, token)
        return result

    def _step(self, state: tuple, tok: str) -> tuple:
        top, rest = state[-1], state[:-1]
        tag = top[0]
        if tag == "HEAD":
            return self._open(rest, tok)
        if tag == "SUFX":
            if tok in SUFFIXES and top[1] < MAX_SUFFIX:
                return rest + (("SUFX", top[1] + 1),)
            return self.advance(rest, tok)
        if tag == "DIGS":
            _, n, cmp, bound = top
            if tok in _digits_allowed(n, cmp, bound):
                if cmp == 0:
                    cmp = (tok[1] > bound[n]) - (tok[1] < bound[n])
                return rest + (("DIGS", n + 1, cmp, bound),)
            return self.advance(rest, tok)
        if tag == "NUM":
            if tok == T.PLUS:
                return rest + (("DIG1", top[1]),)
            return rest + (("NDIG1", top[2]),) if tok == T.MINUS else rest
        if tag == "UNUM":
            return rest + (("DIG1", top[1]),) if tok == T.PLUS else rest
        if tag == "ALIGN":
            return rest
        if tag in ("DIG1", "NDIG1"):
            if tok in SLOTS:  # a negated slot ends the constant
                return rest
            bound = top[1]
            cmp = (tok[1] > bound[0]) - (tok[1] < bound[0])
            return rest + (("DIGS", 1, cmp, bound),)
        if tag == "IDX":
            if tok in NAMES:
                return rest + (_SUFX,)
            return rest + (("DIG1", U32),) if tok == T.PLUS else rest
        if tag == "IDXS":
            if top[1] == 0 or tok in IDX_START:
                return self.advance(rest + (("IDXS", 1), _IDX), tok)
            return self.advance(rest, tok)
        if tag in ("STR", "CLOSE", "TY"):
            return rest
        if tag == "MEMARG":
            if tok == "offset=":
                return rest + (("MEMARG", 1, top[2]), _UNUM)
            if tok == "align=":
                return rest + (("ALIGN", top[2]),)
            return self.advance(rest, tok)
        if tag == "BT":
            if tok in NAMES and top[1] == 0:
                return rest + (("BT", 1), _SUFX)
            if tok == OPEN:
                return state + (_HEAD,)
            return self.advance(rest, tok)
        if tag == "TOP":
            return ((("TOP", 1),), (("TOP", 2), ("MOD", 0)), (("TOP", 3),))[top[1]]
        if tag == "MOD":
            if tok == OPEN:
                return state + (_HEAD,)
            if tok == CLOSE:
                return rest
            return rest + (("MOD", 1), _SUFX)
        if tag == "SEQ":
            _, phase, blocks, height, entries, results = top
            if tok == OPEN:
                return state + (_HEAD,)
            if tok == CLOSE:
                return rest
            if tok in NAMES:
                return rest + (("SEQ", 1, blocks, height, entries, results), _SUFX)
            if tok == "else":
                return rest + (("SEQ", 6, blocks[:-1] + "e", entries[-1], entries, results),)
            if tok == "end":
                return rest + (("SEQ", 6, blocks[:-1], entries[-1], entries[:-1], results),)
            effect = _EFFECTS[tok]
            if height is not None:
                height = None if effect is None else height - effect[0] + effect[1]
            if tok in BLOCK_CHAR:
                return rest + (("SEQ", 6, blocks + BLOCK_CHAR[tok], height, entries + (height,), results), ("BT", 0))
            return rest + (("SEQ", 6, blocks, height, entries, results),) + _immediates(tok)
        if tag in ("FIF", "FOLD", "EXPDESC", "IMPDESC"):
            return state + (_HEAD,) if tok == OPEN else rest
        if tag == "TL":
            _, kind, phase = top
            if tok == CLOSE:
                return rest
            if tok in NAMES:
                return rest + (("TL", kind, 1), _SUFX)
            below = rest[-1]
            if kind == "result" and below[0] == "SEQ" and below[5] is not None:  # a function's result
                rest = rest[:-1] + (below[:5] + (below[5] + 1,),)
            return rest + (("TL", kind, 2 if phase == 1 else 3),)
        if tag == "MEM":
            phase = top[1]
            if tok == OPEN:
                return state + (_HEAD,)
            if tok == CLOSE:
                return rest
            if tok in NAMES:
                return rest + (("MEM", 1), _SUFX)
            return self.advance(rest + (("MEM", 2 if phase <= 1 else 3), ("UNUM", MAX_PAGES)), tok)
        if tag == "GLOB":
            if tok == OPEN:
                return state + (_HEAD,)
            if tok in NAMES:
                return rest + (("GLOB", 1), _SUFX)
            return rest + (_BODY,)
        if tag == "FSIG":
            if tok == OPEN:
                return state + (_HEAD,)
            if tok == CLOSE:
                return rest
            return rest + (("FSIG", 1), _SUFX)
        if tag == "TYPEDESC":
            if tok == OPEN:
                return state + (_HEAD,)
            return rest + (("TYPEDESC", 1), _SUFX)
        raise AssertionError(f"unknown frame {top!r}")

    def _open(self, stack: tuple, head: str) -> tuple:
        """`(` then `head` on top of `stack` (the `(` itself was the HEAD marker)."""
        top, rest = stack[-1], stack[:-1]
        tag = top[0]
        if tag == "MOD":
            return stack + {
                "func": (_FUNC,),
                "memory": (("MEM", 0),),
                "global": (("GLOB", 0),),
                "export": (_CLOSE, ("EXPDESC",), _STR),
                "import": (_CLOSE, ("IMPDESC",), _STR, _STR),
                "type": (_CLOSE, ("TYPEDESC", 0)),
                "start": (_CLOSE, _IDX),
            }[head]
        if tag == "SEQ":
            tail = top[2:]
            if head == "export":
                return rest + (("SEQ", 1) + tail, _CLOSE, _STR)
            if head == "import":
                return rest + (("SEQ", 1) + tail, _CLOSE, _STR, _STR)
            if head == "type":
                # a function of a named type has results the grammar does not see
                return rest + (("SEQ", 2) + tail[:3] + (None,), _CLOSE, _IDX)
            if head == "param":
                return rest + (("SEQ", 3) + tail, ("TL", "param", 0))
            if head == "result":
                return rest + (("SEQ", 4) + tail, ("TL", "result", 0))
            if head == "local":
                return rest + (("SEQ", 5) + tail, ("TL", "local", 0))
            # a folded instruction pushes what the grammar does not count
            return rest + (("SEQ", 6, tail[0], None) + tail[2:],) + _fold_frames(head)
        if tag == "BT":
            phase = top[1]
            if head in ("type", "param", "result") and rest[-1][0] == "SEQ" and rest[-1][4]:
                # a typed block: its entry height and what it leaves are not tracked
                seq = rest[-1]
                rest = rest[:-1] + (("SEQ", seq[1], seq[2], None, seq[4][:-1] + (None,), seq[5]),)
            if head == "type" and phase <= 1:
                return rest + (("BT", 2), _CLOSE, _IDX)
            if head == "param" and phase <= 2:
                return rest + (("BT", 2), ("TL", "param", 0))
            if head == "result":
                return rest + (("BT", 3), ("TL", "result", 0))
            return self._open(rest, head)
        if tag == "FIF":
            if head == "then":
                return rest + (("FIF", 1), _BODY)
            if head == "else":
                return rest + (("FIF", 2), _BODY)
            return stack + _fold_frames(head)
        if tag == "FOLD":
            return stack + _fold_frames(head)
        if tag == "MEM":
            return rest + (("MEM", 1), _CLOSE, _STR)
        if tag == "GLOB":
            if head == "export":
                return rest + (("GLOB", 1), _CLOSE, _STR)
            return rest + (_BODY, _CLOSE, ("TY",))
        if tag == "EXPDESC":
            return rest + (_CLOSE, _IDX)
        if tag == "IMPDESC":
            return rest + (("FSIG", 0),)
        if tag == "FSIG":
            if head == "type":
                return rest + (("FSIG", 2), _CLOSE, _IDX)
            if head == "param":
                return rest + (("FSIG", 3), ("TL", "param", 0))
            return rest + (("FSIG", 4), ("TL", "result", 0))
        if tag == "TYPEDESC":
            return rest + (("FSIG", 1),)
        raise AssertionError(f"no `(` in frame {top!r}")

    # -------------------------------------------------------------- length budget
    def completion_distance(self, state: Hashable) -> int:
        """The fewest tokens after which `state` allows END, for every state: the frames close
        one by one from the top, each at its own fewest tokens (a number one constant, an index
        one token, a folded instruction `)`, a function or block body its `end`s and `)`, with an
        `unreachable` before each that is off its height), and a `(` on top takes the cheapest
        construct it can open. (A block type `(result)` would stop the count of the block just
        opened, saving at most one `unreachable` for 3 tokens.) The tests check it against the
        grammar's own transitions: the Bellman equation holds."""
        known = self._distances.get(state)
        if known is None:
            if len(self._distances) > self.MAX_CACHE:
                self._distances.clear()
            known = self._distances[state] = self._distance(state)
        return known

    def _distance(self, state: tuple) -> int:
        top, rest = state[-1], state[:-1]
        tag = top[0]
        if tag == "HEAD":
            return 1 + min(self.completion_distance(self.advance(state, head)) for head in self.allowed(state))
        if tag == "SEQ":
            _, _, _, height, entries, results = top
            cost = 0
            for entry in reversed(entries):  # each open block: `end`, after `unreachable` if off height
                cost += 1 + (height is not None and entry is not None and height != entry)
                height = entry
            own = cost + 1 + (height is not None and results is not None and height != results)
        else:
            own = _FRAME_COST[tag] if tag in _FRAME_COST else _PHASE_COST[tag][top[-1]]  # the phase comes last
        return own + (self.completion_distance(rest) if rest else 0)

    # -------------------------------------------------------------- helpers
    def accepts(self, tokens) -> bool:
        """Whether the grammar accepts `tokens` followed by END."""
        state = self.start()
        try:
            for tok in tokens:
                state = self.advance(state, tok)
        except ValueError:
            return False
        return END in self.allowed(state)
