"""Mutation family: the LODA miner's small changes around seed programs, climbing from near-misses.

Seeds are (label, code) pairs: the model's candidates, the search's near-misses. Each seed's
one-change variants, in turns across kinds so a small budget still tries every kind:

- a constant replaced (its neighbours, small values, its double, half and negation, the target's
  first terms);
- an operand replaced (another cell, or a constant for a cell);
- the operation type swapped (`add` -> `sub`, `mul`, ...);
- an operation deleted (or a loop unwrapped), two neighbours exchanged;
- an operation inserted (common arithmetic on the cells in use, small constants).

`seq` numbers are never changed and never added, and a variant that calls a sequence in
`excluded` (the target, and what reaches it) is never proposed.

Every variant runs here first, cheaply (SCORE_STEPS per term, SCORE_SECONDS per variant), to
count the leading terms it reproduces. Only those that reproduce every given term, or ran out of
budget while matching at least half of them, are yielded: the orchestrator's verification (with
its larger limits) is then spent on likely hits, not on the thousands of variants that fail at
once. A variant that reproduces more leading terms than its parent becomes a parent itself (up
to MAX_DEPTH changes from its seed): the search climbs from the best near-miss. Seeds take
turns breadth-first, alternating with the climbers (a better climber more often), so a lucky
climber never starves the seeds' own one-change neighbourhoods, where most targets are.
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

from ..canonical import format_program
from ..errors import CallArgumentError, EvaluationTimeoutError, LodaError, StepLimitError, UnknownSequenceError
from ..interpreter import execute
from ..parser import parse
from ..program import ARITHMETIC_OPS, Operand, OperandKind, Operation, Program
from ..runtime import reachable_forbidden
from ..vm import Evaluator, Limits
from . import Proposal

SCORE_STEPS = 50_000  # per term, for the cheap run that scores a variant
SCORE_SECONDS = 0.02  # per variant
SCORE_MEMORY = 10_000
MAX_DEPTH = 3  # changes from the seed, at most
CHUNK = 12  # variants of one parent per turn
MIN_CLIMB = 2  # leading terms a variant must reproduce to become a parent itself (a(0) = 0 is cheap)
CHILDREN = 3  # variants one parent makes parents, beyond those that beat all its earlier ones
MAX_PARENTS = 200  # parents waiting for a turn, at most (the worst are dropped)
MAX_CELLS = 8  # cells $0..$7 tried as new operands
NEIGHBOURS = (1, -1, 2, -2, 3, -3)
SMALL_VALUES = (0, 1, 2, -1, 3, 4, 5, 6, 7, 8, 9, 10, -2)
TERM_HINTS = 4  # the target's first distinct terms tried as constants
# operation types by how often LODA programs use them: swaps and insertions try these first
COMMON_OPS = ("add", "sub", "mul", "div", "mov", "mod", "pow", "bin", "trn", "dif", "max", "min", "gcd",
              "equ", "neq", "leq", "geq", "fac", "log", "nrt", "dgs", "dir", "lex", "dgr", "ban", "bor", "bxo")
SWAP_OPS = COMMON_OPS + tuple(op for op in ARITHMETIC_OPS if op not in COMMON_OPS)
INSERT_OPS = ("add", "sub", "mul", "div", "mov", "mod", "trn", "pow", "bin", "max", "min", "dif", "gcd")
INSERT_CONSTANTS = (1, 2, -1, 3)
_LOOP = ("lpb", "lpe")


# ---------------------------------------------------------------------------- variants


def substitutes(value: int, hints: Sequence[int] = (), first: Sequence[int] = ()) -> list[int]:
    """Values to try in place of the constant `value`, most plausible first, each once: `first`
    (the numbers of the target's name), then near values, small ones, and `hints` (its terms)."""
    ordered = [*first] + [value + d for d in NEIGHBOURS] + [*SMALL_VALUES, 2 * value, value // 2, -value, *hints]
    return [v for v in dict.fromkeys(ordered) if v != value]


def _cells(ops: Sequence[Operation]) -> list[int]:
    """Cells a new operand may name: those in use and one more, at most MAX_CELLS."""
    used = [o.value for op in ops for o in (op.target, op.source) if o is not None and o.kind is not OperandKind.CONSTANT]
    return list(range(min(max(used, default=0) + 2, MAX_CELLS)))


def _with(ops: tuple[Operation, ...], index: int, operation: Operation) -> tuple[Operation, ...]:
    return ops[:index] + (operation,) + ops[index + 1:]


def _mutable_source(op: Operation) -> bool:
    """Whether the source operand may change: not a `seq` number, not a loop's region length."""
    return op.source is not None and op.op not in ("seq", "lpb")


def constant_variants(ops: tuple[Operation, ...], hints: Sequence[int],
                      first: Sequence[int] = ()) -> Iterator[tuple[Operation, ...]]:
    """One constant replaced: the first substitute of every constant, then the second, ..."""
    slots = [(i, substitutes(op.source.value, hints, first)) for i, op in enumerate(ops)
             if _mutable_source(op) and op.source.kind is OperandKind.CONSTANT]
    for depth in range(max((len(values) for _, values in slots), default=0)):
        for i, values in slots:
            if depth < len(values):
                yield _with(ops, i, replace(ops[i], source=Operand.constant(values[depth])))


def operand_variants(ops: tuple[Operation, ...]) -> Iterator[tuple[Operation, ...]]:
    """One operand replaced: a target by another cell, a source cell by another cell or a small
    constant, a source constant by a cell."""
    cells = _cells(ops)
    for i, op in enumerate(ops):
        if op.target is not None and op.target.kind is OperandKind.DIRECT and op.op != "lpe":
            for cell in cells:
                if cell != op.target.value:
                    yield _with(ops, i, replace(op, target=Operand.direct(cell)))
        if not _mutable_source(op):
            continue
        if op.source.kind is OperandKind.CONSTANT:
            choices = [Operand.direct(cell) for cell in cells]
        else:
            choices = [Operand.direct(cell) for cell in cells if cell != op.source.value]
            choices += [Operand.constant(value) for value in INSERT_CONSTANTS]
        for operand in choices:
            yield _with(ops, i, replace(op, source=operand))


def swap_variants(ops: tuple[Operation, ...]) -> Iterator[tuple[Operation, ...]]:
    """One arithmetic operation's type replaced, the most used types first."""
    slots = [i for i, op in enumerate(ops) if op.op in ARITHMETIC_OPS]
    for name in SWAP_OPS:
        for i in slots:
            if ops[i].op != name:
                yield _with(ops, i, replace(ops[i], op=name))


def _loop_ends(ops: Sequence[Operation]) -> dict[int, int]:
    ends, stack = {}, []
    for i, op in enumerate(ops):
        if op.op == "lpb":
            stack.append(i)
        elif op.op == "lpe" and stack:
            ends[stack.pop()] = i
    return ends


def removal_variants(ops: tuple[Operation, ...]) -> Iterator[tuple[Operation, ...]]:
    """One operation deleted, a loop unwrapped (its lpb and lpe deleted), two neighbours exchanged."""
    for i, op in enumerate(ops):
        if op.op not in _LOOP:
            yield ops[:i] + ops[i + 1:]
    for start, end in _loop_ends(ops).items():
        yield ops[:start] + ops[start + 1:end] + ops[end + 1:]
    for i in range(len(ops) - 1):
        if ops[i].op not in _LOOP and ops[i + 1].op not in _LOOP and ops[i] != ops[i + 1]:
            yield ops[:i] + (ops[i + 1], ops[i]) + ops[i + 2:]


def insertion_variants(ops: tuple[Operation, ...]) -> Iterator[tuple[Operation, ...]]:
    """One operation inserted at any position: the common types with the commonest operands
    first, then with the program's own constants and more small ones, then the rarer types."""
    cells = [Operand.direct(cell) for cell in _cells(ops)]
    basic = [Operand.constant(value) for value in INSERT_CONSTANTS] + cells
    own = [op.source.value for op in ops if _mutable_source(op) and op.source.kind is OperandKind.CONSTANT]
    extra = [Operand.constant(v) for v in dict.fromkeys([*own, *SMALL_VALUES]) if v not in INSERT_CONSTANTS]
    rare = [name for name in COMMON_OPS if name not in INSERT_OPS]
    zero = [Operand.constant(0)]  # equ/neq/leq/geq $k,0: the tests programs make of a cell
    for names, sources in ((INSERT_OPS, basic), (INSERT_OPS, extra), (rare, zero + basic)):
        yield from _insertions(ops, names, sources, cells)


def _insertions(ops: tuple[Operation, ...], names: Sequence[str], sources: Sequence[Operand],
                targets: Sequence[Operand]) -> Iterator[tuple[Operation, ...]]:
    for name in names:
        for source in sources:
            for target in targets:
                if source == target:
                    continue
                new = Operation(name, target, source)
                for position in range(len(ops) + 1):
                    yield ops[:position] + (new,) + ops[position:]


def variants(ops: tuple[Operation, ...], hints: Sequence[int], first: Sequence[int] = ()) -> Iterator[tuple[Operation, ...]]:
    """Every one-change variant of `ops`, the kinds taking turns (constants first)."""
    streams = [constant_variants(ops, hints, first), removal_variants(ops), swap_variants(ops), operand_variants(ops),
               insertion_variants(ops)]
    for batch in itertools.zip_longest(*streams):
        for variant in batch:
            if variant is not None:
                yield variant


# ---------------------------------------------------------------------------- the climb


@dataclass(order=True)
class _Parent:
    """A program whose variants are being tried; parents take turns by `due` (a virtual clock:
    after a turn of CHUNK variants a parent is due again 1 / (1 + score) later, so one reproducing
    7 leading terms takes 8 turns for each turn of one reproducing none)."""

    due: float
    rank: int  # minus the score: of parents due together, the best first
    order: int
    label: str = field(compare=False)
    ops: tuple[Operation, ...] = field(compare=False)
    score: int = field(compare=False)
    depth: int = field(compare=False)
    stream: Iterator[tuple[Operation, ...]] | None = field(default=None, compare=False)
    children: int = field(default=0, compare=False)  # variants it made parents
    best_child: int = field(default=0, compare=False)  # the best score among them

    def later(self) -> float:
        return self.due + 1 / (1 + self.score)


class _Scorer:
    """Runs variants cheaply: how many leading terms each reproduces.

    Most variants fail on their first terms, so compiling each (about a millisecond of Python
    `compile`) would cost more than running it: the variant itself runs on the plain interpreter
    (the VM's tested twin), one term at a time, stopping at the first wrong term. The sequences it
    calls are corpus programs run many times: those go through the compiled VM, results cached."""

    def __init__(self, terms: Sequence[int], offset: int, corpus, excluded: frozenset[int], deadline: float):
        self.terms, self.offset, self.corpus, self.excluded, self.deadline = list(terms), offset, corpus, excluded, deadline
        self.limits = Limits(max_steps=SCORE_STEPS, max_memory=SCORE_MEMORY, timeout=SCORE_SECONDS)
        self.callee = Evaluator(library=corpus, limits=self.limits, forbidden=excluded)
        self.results: dict[tuple[int, int], tuple[int, int]] = {}
        self.stop = 0.0

    def _call(self, number: int, argument: int) -> tuple[int, int]:
        hit = self.results.get((number, argument))
        if hit is None:
            if self.corpus is None or number not in self.corpus:
                raise UnknownSequenceError(f"no program for A{number:06d}")
            program = self.corpus.program(number)
            if argument < program.offset:
                raise CallArgumentError(f"argument {argument} of A{number:06d} is below its offset {program.offset}")
            self.callee.limits = replace(self.limits, timeout=max(self.stop - time.monotonic(), 1e-3))
            hit = (self.callee.term(program, argument), self.callee.steps)
            self.results[(number, argument)] = hit
        return hit

    def _tick(self, steps: int) -> None:
        if time.monotonic() > self.stop:
            raise EvaluationTimeoutError(f"scoring took longer than {SCORE_SECONDS} s")

    def score(self, program: Program) -> tuple[int, bool]:
        """(leading terms reproduced, whether the run stopped at a limit rather than a wrong term)."""
        now = time.monotonic()
        if now >= self.deadline:
            return 0, False
        self.stop = min(now + SCORE_SECONDS, self.deadline)
        matched = 0
        try:
            if self.excluded and program.calls():
                reachable_forbidden(program, self.corpus, self.excluded)
            for n, expected in enumerate(self.terms, start=self.offset):
                value, _ = execute(program, n, self.limits, self._call, self._tick)
                if value != expected:
                    return matched, False
                matched += 1
        except (StepLimitError, EvaluationTimeoutError):
            return matched, True
        except LodaError:
            return matched, False
        except RecursionError:  # a deep chain of calls: not worth more of the budget
            return matched, False
        return matched, False


def _callable(ops: Iterable[Operation], corpus, excluded: frozenset[int]) -> bool:
    """Whether every `seq` of `ops` names a sequence the corpus has and `excluded` does not."""
    for op in ops:
        if op.op == "seq":
            number = op.source.value
            if number in excluded or corpus is None or number not in corpus:
                return False
    return True


def _seeds(seeds: Sequence[tuple[str, str]]) -> list[tuple[str, tuple[Operation, ...]]]:
    parsed = []
    for label, code in seeds:
        try:
            parsed.append((label, parse(code).operations))
        except LodaError:
            continue  # a seed that does not parse has no variants worth running
    return parsed


def _hints(terms: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(int(t) for t in terms))[:TERM_HINTS]


def mutation_proposals(seeds: Sequence[tuple[str, str]], terms: Sequence[int], offset: int, corpus,
                       excluded: frozenset[int], deadline: float, hints: Sequence[int] = ()) -> Iterator[Proposal]:
    """Variants of `seeds` ((label, code) pairs) likely to reproduce `terms` from a(`offset`), as
    "mutation of <label>" proposals, until `deadline` (time.monotonic()). None calls a sequence in
    `excluded` or changes what a seed calls. `hints`: more constants to try (the numbers of the
    target's name: 389 in "Decimal expansion of 1/389", whose neighbour's program divides by 387)."""
    terms = [int(t) for t in terms]
    if not terms:
        return
    yield from _Climb(terms, offset, corpus, excluded, deadline, hints).run(_seeds(seeds))


class _Climb:
    """The seeds waiting for a turn (`seeds`), the variants made parents (`climb`), and the best
    variants that were not (`reserve`). Seeds and climbers take turns alternately: most targets
    are one change from a seed, and a climber reproducing a few leading terms by chance must not
    starve that neighbourhood. Once every parent is spent, the reserve become parents in turn,
    since a target two changes away is often reached through a variant no better than its seed.

    A variant becomes a parent where it reproduces more leading terms than its parent (at least
    MIN_CLIMB), for the first CHILDREN of a parent and then only the ones beating all its earlier
    children: enough to climb from a near-miss without starving the seeds' own neighbourhoods."""

    def __init__(self, terms: list[int], offset: int, corpus, excluded: frozenset[int], deadline: float,
                 hints: Sequence[int] = ()):
        self.offset, self.corpus, self.excluded, self.deadline = offset, corpus, excluded, deadline
        self.total = len(terms)
        self.scorer = _Scorer(terms, offset, corpus, excluded, deadline)
        self.hints = _hints(terms)
        self.first_hints = list(dict.fromkeys(hints))
        self.seen: set[str] = set()
        self.order = itertools.count()
        self.seeds: list[_Parent] = []
        self.climb: list[_Parent] = []
        self.reserve: list[_Parent] = []
        self.alternate = itertools.cycle((0, 1))

    def run(self, seeds: list[tuple[str, tuple[Operation, ...]]]) -> Iterator[Proposal]:
        for label, ops in seeds:
            if time.monotonic() >= self.deadline:
                return
            program = Program(ops, offset=self.offset)
            self.seen.add(format_program(program))
            score = self.scorer.score(program)[0] if _callable(ops, self.corpus, self.excluded) else 0
            self._push(self.seeds, _Parent(0.0, -score, 0, label, ops, score, 0))
        while time.monotonic() < self.deadline:
            heap = self._next_heap()
            if heap is None:
                return
            yield from self._turn(heapq.heappop(heap))

    def _next_heap(self) -> list[_Parent] | None:
        """The heap whose parent takes the next turn: seeds and climbers alternately, the reserve
        (moved to the climbers) once both are empty; None when all are."""
        if not self.seeds and not self.climb:
            if not self.reserve:
                return None
            self.climb, self.reserve = self.reserve, []
            heapq.heapify(self.climb)
        first = (self.seeds, self.climb)[next(self.alternate)]
        return first if first else (self.climb if first is self.seeds else self.seeds)

    def _push(self, heap: list[_Parent], parent: _Parent) -> None:
        heapq.heappush(heap, replace(parent, order=next(self.order)))
        if len(heap) > 2 * MAX_PARENTS:
            heap[:] = heapq.nsmallest(MAX_PARENTS, heap)

    def _turn(self, parent: _Parent) -> Iterator[Proposal]:
        """Up to CHUNK variants of `parent`; it is due again later if it has more."""
        if parent.stream is None:
            parent.stream = variants(parent.ops, self.hints, self.first_hints)
        for taken, ops in enumerate(parent.stream, start=1):
            if time.monotonic() >= self.deadline:
                return
            proposal = self._try(ops, parent)
            if proposal is not None:
                yield proposal
            if taken >= CHUNK:
                self._push(self.seeds if parent.depth == 0 else self.climb, replace(parent, due=parent.later()))
                return

    def _try(self, ops: tuple[Operation, ...], parent: _Parent) -> Proposal | None:
        """The variant as a proposal where it is worth verifying; kept as a parent where it may
        change further (a climber or in the reserve)."""
        if not _callable(ops, self.corpus, self.excluded):
            return None
        program = Program(ops, offset=self.offset)
        code = format_program(program)
        if code in self.seen:
            return None
        self.seen.add(code)
        score, stopped = self.scorer.score(program)
        if 0 < score < self.total and parent.depth + 1 < MAX_DEPTH:
            self._adopt(parent, ops, score)
        if score == self.total or (stopped and 2 * score >= self.total):
            return Proposal(code, f"mutation of {parent.label}", "mutation")
        return None

    def _adopt(self, parent: _Parent, ops: tuple[Operation, ...], score: int) -> None:
        child = _Parent(parent.due, -score, 0, parent.label, ops, score, parent.depth + 1)
        climbs = score > parent.score and score >= MIN_CLIMB
        if climbs and (parent.children < CHILDREN or score > parent.best_child):
            parent.children += 1
            parent.best_child = max(parent.best_child, score)
            self._push(self.climb, replace(child, due=child.later()))
        else:
            self._push(self.reserve, child)


__all__ = ["mutation_proposals", "substitutes", "variants"]
