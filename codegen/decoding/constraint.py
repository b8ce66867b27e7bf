"""Grammar constraint over token ids: a language's `Grammar` (a deterministic state machine over
its structural tokens) mapped onto a tokenizer's ids, with masks per state, a length budget (the
fewest tokens that still complete a program) and checks of whole outputs."""
from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import torch

from ..language import Grammar


class _Done:
    """State of a row that has produced EOS (later positions are padding)."""

    def __repr__(self) -> str:
        return "DONE"


class _Dead:
    """State after a token the grammar does not allow (only reachable without the mask)."""

    def __repr__(self) -> str:
        return "DEAD"


DONE = _Done()
DEAD = _Dead()
_MISSING = object()


class GrammarConstraint:
    """A grammar over token ids: the state after a sequence of ids, and the allowed-id mask of a state.

    `token_ids` maps each structural token string to its id; `eos_token_id` stands for
    `Grammar.END`. Masks are cached per (state, vocabulary size, device)."""

    MAX_CACHED_MASKS = 200_000
    # Length-budget searches are bounded: a grammar whose states carry much context (WAT's
    # typed stack) makes nearly every decoded prefix a new state, and an unbounded search per
    # row and step took minutes and gigabytes per batch. Past these bounds the budget is not
    # enforced (an output cut at the length limit then fails to parse; it is never faked).
    MAX_EXPANSIONS = 300
    BUDGET_WINDOW = 48  # tokens left below which the budget is checked at all
    # one token adds at most this many to the shortest completion (it opens a block, say):
    # while the state's own distance plus this fits, every token does, without a search per token
    BUDGET_SLACK = 8
    UNREACHABLE = 10**9

    def __init__(self, grammar: Grammar, token_ids: Mapping[str, int], eos_token_id: int,
                 pad_token_id: int | None = None):
        self.grammar = grammar
        self.token_ids = dict(token_ids)
        self.id_to_token = {i: t for t, i in self.token_ids.items()}
        self.eos_token_id = int(eos_token_id)
        self.pad_token_id = pad_token_id
        self._allowed_ids: dict[Hashable, list[int]] = {}
        self._masks: dict[tuple, torch.Tensor] = {}
        self._next: dict[Hashable, dict[Hashable, list[int]]] = {}
        self._distance: dict[Hashable, int] = {}

    def start(self) -> Hashable:
        return self.grammar.start()

    def advance(self, state: Hashable, token_id: int) -> Hashable:
        if state is DONE or state is DEAD:
            return state
        if token_id == self.eos_token_id:
            return DONE if Grammar.END in self.grammar.allowed(state) else DEAD
        token = self.id_to_token.get(token_id)
        if token is None:
            return DEAD
        try:
            return self.grammar.advance(state, token)
        except ValueError:
            return DEAD

    def state_of(self, ids: Sequence[int]) -> Hashable:
        state = self.start()
        for token_id in ids:
            state = self.advance(state, int(token_id))
        return state

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether `ids` (code ids, EOS optional at the end) form a complete sentence of the grammar."""
        ids = list(ids)
        if ids and ids[-1] == self.eos_token_id:
            ids = ids[:-1]
        state = self.state_of(ids)
        return state is not DEAD and state is not DONE and Grammar.END in self.grammar.allowed(state)

    def allowed_ids(self, state: Hashable) -> list[int]:
        cached = self._allowed_ids.get(state)
        if cached is None:
            ids = set()
            for token in self.grammar.allowed(state):
                if token == Grammar.END:
                    ids.add(self.eos_token_id)
                elif token in self.token_ids:
                    ids.add(self.token_ids[token])
            if not ids:  # a dead end of the grammar (or tokens missing from the vocabulary): stop here
                ids.add(self.eos_token_id)
            cached = sorted(ids)
            if len(self._allowed_ids) > self.MAX_CACHED_MASKS:
                self._allowed_ids.clear()
            self._allowed_ids[state] = cached
        return cached

    # -- length budget: the fewest tokens that still complete a program

    def _successors(self, state: Hashable) -> dict[Hashable, list[int]]:
        """Distinct next states (END excluded) -> the token ids leading there."""
        cached = self._next.get(state)
        if cached is None:
            cached = {}
            for token_id in self.allowed_ids(state):
                if token_id != self.eos_token_id:
                    cached.setdefault(self.advance(state, token_id), []).append(token_id)
            if len(self._next) > self.MAX_CACHED_MASKS:
                self._next.clear()
            self._next[state] = cached
        return cached

    def _known_distance(self, state: Hashable) -> int | None:
        """The distance of `state` without a search: memoised here, or told by the grammar."""
        known = self._distance.get(state)
        return self.grammar.completion_distance(state) if known is None else known

    def distance(self, state: Hashable) -> int:
        """Fewest code tokens after which `state` allows END (0 where it does now): a breadth-first
        search over the grammar, memoised, reusing the distances already known."""
        if state is DONE or state is DEAD:
            return 0
        known = self._known_distance(state)
        if known is not None:
            return known
        best = self.UNREACHABLE
        frontier, seen, level, expanded = [state], {state}, 0, 0
        while frontier and level < best:
            following = []
            for current in frontier:  # never DEAD: the start is not, and no DEAD successor is queued
                known = self._known_distance(current)
                if known is not None:
                    best = min(best, level + known)
                    continue
                if self.eos_token_id in self.allowed_ids(current):
                    if Grammar.END in self.grammar.allowed(current):
                        best = min(best, level)
                        continue
                expanded += 1
                for successor in self._successors(current):
                    if successor not in seen and successor is not DEAD:
                        seen.add(successor)
                        following.append(successor)
            if expanded > self.MAX_EXPANSIONS:  # give up: treat as unconstrained by length
                best = min(best, level)
                break
            frontier = following
            level += 1
        if len(self._distance) > self.MAX_CACHED_MASKS:
            self._distance.clear()
        self._distance[state] = best
        return best

    def budget_mask(self, state: Hashable, remaining: int, vocab_size: int,
                    device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The allowed-id mask where at most `remaining` more tokens (EOS included) may be generated:
        a token is kept only if a program can still be completed after it. Equals `mask` while the
        budget is not tight."""
        if (state is DONE or state is DEAD or remaining > self.BUDGET_WINDOW
                or self.distance(state) + self.BUDGET_SLACK + 2 <= remaining):
            return self.mask(state, vocab_size, device)
        key = (state, vocab_size, str(device), remaining)
        mask = self._masks.get(key)
        if mask is None:
            # where no completion fits, only EOS is left (the output will not parse)
            ids = self.permitted_ids(state, remaining)
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            mask[torch.tensor([i for i in ids if i < vocab_size], dtype=torch.long, device=device)] = True
            self._masks[key] = mask
        return mask

    def permits(self, state: Hashable, token_id: int, remaining: int) -> bool:
        """Whether `token_id` may come next in `state` with `remaining` tokens (EOS included) left."""
        if state is DONE or state is DEAD or token_id not in self.allowed_ids(state):
            return False
        if token_id == self.eos_token_id:
            return Grammar.END in self.grammar.allowed(state) and remaining >= 1
        return self.distance(self.advance(state, token_id)) + 2 <= remaining

    def permitted_ids(self, state: Hashable, remaining: int) -> list[int]:
        """The ids `budget_mask` allows, as a list."""
        if state is DONE or state is DEAD:
            return [self.eos_token_id]
        ids = [self.eos_token_id] if Grammar.END in self.grammar.allowed(state) else []
        for successor, token_ids in self._successors(state).items():
            if self.distance(successor) + 2 <= remaining:
                ids.extend(token_ids)
        return ids or [self.eos_token_id]

    def mask(self, state: Hashable, vocab_size: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """Boolean mask of allowed ids (True = allowed); None where everything is allowed (DONE)."""
        if state is DONE:
            return None
        key = (state, vocab_size, str(device))
        mask = self._masks.get(key)
        if mask is None:
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            if state is DEAD:
                mask[self.eos_token_id] = True
            else:
                mask[torch.tensor([i for i in self.allowed_ids(state) if i < vocab_size], dtype=torch.long,
                                  device=device)] = True
            if len(self._masks) > self.MAX_CACHED_MASKS:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    # -- whole outputs

    def valid(self, ids: Sequence[int], finished: bool, forbidden: set[int] | frozenset[int] = frozenset()) -> bool:
        """Whether a decoded output (code ids, no EOS) is one constrained decoding could have written:
        finished (ended with EOS), accepted by the grammar, and free of `forbidden` ids. A finished
        accepted output always fits the length budget it was decoded under."""
        return finished and not forbidden.intersection(ids) and self.accepts(ids)

    def violation(self, ids: Sequence[int], finished: bool, max_length: int, complete: bool = True,
                  forbidden: set[int] | frozenset[int] = frozenset()) -> int | None:
        """The first position whose token the grammar and the length budget (`max_length` tokens, EOS
        included) do not permit, or that is `forbidden`; for a `complete` output, also the position
        of a missing or premature EOS (len(ids)). None where there is none."""
        state = self.start()
        for position, token_id in enumerate(ids):
            if token_id in forbidden or not self.permits(state, token_id, max_length - position):
                return position
            state = self.advance(state, token_id)
        if complete and (not finished or not self.permits(state, self.eos_token_id, max_length - len(ids))):
            return len(ids)
        return None

    def grammatical(self, prefix: Sequence[int], token_id: int) -> bool:
        """Whether the grammar alone (no length budget) allows `token_id` after `prefix`."""
        return token_id in self.allowed_ids(self.state_of(prefix))
