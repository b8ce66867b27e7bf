"""WAT text -> compiled `wasmtime.Module`, with errors that say where and why.

`validate(wat)` checks the size cap first (before any parsing), then parses with
wasmtime's built-in WAT parser and compiles (which validates). Every failure is a
`WatError` with `line`, `column` and a one-line `reason`:

- syntax errors come with wasmtime's own position (`--> <anon>:LINE:COL`);
- validation errors (type mismatch, bad index, ...) come with a byte offset into the
  binary module; the offset is mapped back to the instruction of the text it was
  encoded from (by decoding the code section and walking the text's instructions in
  encoding order, folded ones in post-order), or, outside function bodies, to the
  first module field of the section's kind.

Compiled modules are cached by (engine configuration, SHA-256 of the text), one
`wasmtime.Engine` per configuration, so validating or running the same text again is cheap.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import re
import threading
import time
from collections import OrderedDict

import wasmtime

from .canonical import DEFAULT_MAX_BYTES, SList, SourceMap, check_size, instruction_groups, parse_sexpr
from .canonical import TYPEUSE_HEADS, TYPEUSE_INSTRS, Atom
from .errors import WatError, WatParseError, WatValidationError

DEFAULT_STACK_BYTES = 512 << 10
MEMORY_RESERVATION = 32 << 20
MODULE_CACHE_SIZE = 512

_lock = threading.Lock()
_engines: dict[tuple, wasmtime.Engine] = {}
_modules: "OrderedDict[tuple, wasmtime.Module]" = OrderedDict()


def engine_key(stack_bytes: int = DEFAULT_STACK_BYTES) -> tuple:
    return ("fuel", "epoch", int(stack_bytes))


def get_engine(stack_bytes: int = DEFAULT_STACK_BYTES) -> wasmtime.Engine:
    """The engine for one configuration: fuel metering and epoch interruption on, no threads."""
    key = engine_key(stack_bytes)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            config = wasmtime.Config()
            config.consume_fuel = True
            config.epoch_interruption = True
            config.max_wasm_stack = int(stack_bytes)
            config.wasm_threads = False
            config.parallel_compilation = False
            # Small address-space reservations (instead of 4 GiB + guard per memory), so that
            # the sandbox works under an RLIMIT_AS (the evaluation workers set one): memories
            # are bounds-checked explicitly and move when they grow past the reservation.
            config.memory_reservation = MEMORY_RESERVATION
            config.memory_guard_size = 1 << 16
            config.memory_reservation_for_growth = 1 << 20
            engine = wasmtime.Engine(config)
            _engines[key] = engine
        return engine


# The epoch ticker: one daemon thread a process advances the epoch of every engine each
# `TICK` seconds of wall-clock time (catching up after late wake-ups), so that a store's
# epoch deadline of `ceil(timeout / TICK)` ticks interrupts wasm after about `timeout` s.
# wasmtime releases the GIL while wasm runs, so the ticker runs beside it.
TICK = 0.01
_ticker_pid: int | None = None


def _tick_forever() -> None:
    start = time.monotonic()
    done = 0
    while True:
        time.sleep(TICK)
        due = int((time.monotonic() - start) / TICK)
        with _lock:
            engines = list(_engines.values())
        while done < due:
            for engine in engines:
                engine.increment_epoch()
            done += 1


def _after_fork_in_child() -> None:
    # the ticker thread does not survive a fork, and it may have held the lock at that moment
    global _lock, _ticker_pid
    _lock = threading.Lock()
    _ticker_pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def ensure_ticker() -> None:
    """Start the epoch ticker in this process if it is not running (after a fork, too)."""
    global _ticker_pid
    if _ticker_pid == os.getpid():
        return
    with _lock:
        if _ticker_pid == os.getpid():
            return
        threading.Thread(target=_tick_forever, name="wat-epoch-ticker", daemon=True).start()
        _ticker_pid = os.getpid()


# ---------------------------------------------------------------- error messages

_POSITION = re.compile(r"-->\s*[^\n]*?:(\d+):(\d+)")
_OFFSET_DEC = re.compile(r"at offset (\d+)")
_OFFSET_HEX = re.compile(r"\(at offset (0x[0-9a-fA-F]+)\)")


def _first_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message.strip() or "invalid module"


def _cause(message: str) -> str:
    """The innermost cause of a wasmtime error message, on one line, without its offset."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if "Caused by:" in lines:
        lines = lines[lines.index("Caused by:") + 1:]
    reason = lines[-1] if lines else message.strip()
    reason = re.sub(r"^\d+:\s*", "", reason)
    reason = re.sub(r"^Invalid input WebAssembly code at offset \d+:\s*", "", reason)
    reason = _OFFSET_HEX.sub("", reason).strip()
    return reason or "invalid module"


def parse_error(text: str, exc: Exception) -> WatParseError:
    """A wasmtime WAT-parser error as a `WatParseError` with line and column."""
    message = str(exc)
    m = _POSITION.search(message)
    line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return WatParseError(_first_line(message), line=line, column=col)


# ---------------------------------------------------------------- binary offsets -> text positions

def _leb(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _skip_leb(b: bytes, i: int) -> int:
    while b[i] & 0x80:
        i += 1
    return i + 1


_FC_IMMEDIATES = {8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1}


def _instruction_offsets(b: bytes, p: int, end: int) -> list[int] | None:
    """Start offsets of the instructions in b[p:end]; None on an opcode this decoder does not know."""
    out = []
    while p < end:
        out.append(p)
        op = b[p]
        p += 1
        if op in (0x02, 0x03, 0x04):  # block type
            t = b[p]
            if t in (0x63, 0x64):
                p = _skip_leb(b, p + 1)
            elif t & 0x80:
                p = _skip_leb(b, p)
            else:
                p += 1
        elif op in (0x0C, 0x0D, 0x10, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3F, 0x40, 0xD2, 0x08, 0x14,
                    0x15):
            p = _skip_leb(b, p)
        elif op in (0x11, 0x13):
            p = _skip_leb(b, _skip_leb(b, p))
        elif op == 0x0E:
            n, p = _leb(b, p)
            for _ in range(n + 1):
                p = _skip_leb(b, p)
        elif op == 0x1C:
            n, p = _leb(b, p)
            p += n
        elif 0x28 <= op <= 0x3E:
            align, p = _leb(b, p)
            if align & 0x40:
                p = _skip_leb(b, p)
            p = _skip_leb(b, p)
        elif op in (0x41, 0x42):
            p = _skip_leb(b, p)
        elif op == 0x43:
            p += 4
        elif op == 0x44:
            p += 8
        elif op == 0xD0:
            t = b[p]
            p = _skip_leb(b, p) if t & 0x80 else p + 1
        elif op == 0xFC:
            sub, p = _leb(b, p)
            for _ in range(_FC_IMMEDIATES.get(sub, 0)):
                p = _skip_leb(b, p)
            if sub > 17:
                return None
        elif op in (0x00, 0x01, 0x05, 0x0B, 0x0F, 0x1A, 0x1B, 0xD1) or 0x45 <= op <= 0xC4:
            pass
        else:
            return None
    return out


def _decode(binary: bytes):
    """Sections as (id, start, end) and, per defined function, its instruction offsets (or None)."""
    sections = []
    bodies: list[list[int] | None] = []
    i = 8
    while i < len(binary):
        sid = binary[i]
        size, j = _leb(binary, i + 1)
        sections.append((sid, i, j + size))
        if sid == 10:
            count, p = _leb(binary, j)
            for _ in range(count):
                body_size, q = _leb(binary, p)
                body_end = q + body_size
                groups, q = _leb(binary, q)
                for _ in range(groups):
                    q = _skip_leb(binary, q)
                    t = binary[q]
                    q = _skip_leb(binary, q + 1) if t in (0x63, 0x64) else q + 1
                try:
                    bodies.append(_instruction_offsets(binary, q, body_end))
                except IndexError:
                    bodies.append(None)
                p = body_end
        i = j + size
    return sections, bodies


def _text_instructions(func: SList) -> list[int]:
    """Text offsets of a function's instructions in the order they are encoded."""
    out: list[int] = []

    def seq(items):
        for group in instruction_groups(items):
            first = group[0]
            if isinstance(first, Atom):
                out.append(first.pos)
            else:
                folded(first)

    def header_end(node: SList) -> int:
        items, i = node.items, 1
        while i < len(items) and isinstance(items[i], Atom) and items[i].text.startswith("$"):
            i += 1
        while i < len(items) and isinstance(items[i], SList) and items[i].head in TYPEUSE_HEADS:
            i += 1
        return i

    def folded(node: SList):
        head = node.head
        items = node.items
        if head in ("block", "loop"):
            out.append(node.pos)
            seq(items[header_end(node):])
            out.append(node.end)
        elif head == "if":
            rest = items[header_end(node):]
            for x in rest:
                if isinstance(x, SList) and x.head not in ("then", "else"):
                    folded(x)
            out.append(node.pos)
            for x in rest:
                if isinstance(x, SList) and x.head == "then":
                    seq(x.items[1:])
                elif isinstance(x, SList) and x.head == "else":
                    out.append(x.pos)
                    seq(x.items[1:])
            out.append(node.end)
        else:
            for x in items[1:]:
                if isinstance(x, SList) and not (head in TYPEUSE_INSTRS and x.head in TYPEUSE_HEADS):
                    folded(x)
            out.append(node.pos)

    items = func.items
    i = 1
    while i < len(items) and isinstance(items[i], Atom):
        i += 1
    while i < len(items) and isinstance(items[i], SList) and items[i].head in (
            "export", "import", "type", "param", "result", "local"):
        i += 1
    seq(items[i:])
    out.append(func.end)
    return out


_SECTION_FIELDS = {1: "type", 2: "import", 3: "func", 4: "table", 5: "memory", 6: "global", 7: "export", 8: "start",
                   9: "elem", 10: "func", 11: "data", 12: "data", 13: "tag"}


def _fields(nodes) -> list:
    for node in nodes:
        if isinstance(node, SList) and node.head == "module":
            return [x for x in node.items if isinstance(x, SList)]
    return [x for x in nodes if isinstance(x, SList)]


def _is_imported(func: SList) -> bool:
    return any(isinstance(x, SList) and x.head == "import" for x in func.items)


def locate_offset(text: str, binary: bytes, offset: int) -> int | None:
    """The text offset of what was encoded at binary `offset` (best effort)."""
    try:
        nodes = parse_sexpr(text)
        sections, bodies = _decode(binary)
    except (WatError, IndexError):
        return None
    fields = _fields(nodes)
    section = next((s for s in sections if s[1] <= offset < s[2]), None)
    if section is None:
        return fields[0].pos if fields else None
    sid = section[0]
    if sid == 10:
        funcs = [f for f in fields if f.head == "func" and not _is_imported(f)]
        # which body: the last one whose first instruction starts at or before the offset
        for k, offs in enumerate(bodies):
            if offs and offs[0] <= offset <= offs[-1] and k < len(funcs):
                text_offs = _text_instructions(funcs[k])
                j = bisect.bisect_right(offs, offset) - 1
                if len(text_offs) == len(offs):
                    return text_offs[max(j, 0)]
                return funcs[k].pos
        return funcs[0].pos if funcs else None
    keyword = _SECTION_FIELDS.get(sid)
    for f in fields:
        if f.head == keyword:
            return f.pos
    return fields[0].pos if fields else None


def validation_error(text: str, binary: bytes, exc: Exception) -> WatValidationError:
    message = str(exc)
    m = _OFFSET_HEX.search(message) or _OFFSET_DEC.search(message)
    line = col = None
    if m:
        offset = int(m.group(1), 0)
        pos = locate_offset(text, binary, offset)
        if pos is not None:
            line, col = SourceMap(text).position(pos)
    return WatValidationError(_cause(message), line=line, column=col)


# ---------------------------------------------------------------- entry points

def compile_module(wat: str, *, max_bytes: int | None = DEFAULT_MAX_BYTES,
                   stack_bytes: int = DEFAULT_STACK_BYTES) -> wasmtime.Module:
    """Like `validate`, on the engine of a given configuration (cached by text hash)."""
    if not isinstance(wat, str):
        raise WatParseError(f"module text must be a str, not {type(wat).__name__}")
    check_size(wat, max_bytes)
    key = engine_key(stack_bytes) + (hashlib.sha256(wat.encode("utf-8", "surrogatepass")).digest(),)
    with _lock:
        module = _modules.get(key)
        if module is not None:
            _modules.move_to_end(key)
            return module
    engine = get_engine(stack_bytes)
    try:
        binary = wasmtime.wat2wasm(wat)
    except (wasmtime.WasmtimeError, ValueError, UnicodeError) as exc:
        raise parse_error(wat, exc) from None
    try:
        module = wasmtime.Module(engine, binary)
    except wasmtime.WasmtimeError as exc:
        raise validation_error(wat, bytes(binary), exc) from None
    with _lock:
        _modules[key] = module
        while len(_modules) > MODULE_CACHE_SIZE:
            _modules.popitem(last=False)
    return module


def validate(wat: str, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> wasmtime.Module:
    """Parse and validate WebAssembly text; the compiled module, or a `WatError`
    (`WatSizeError` over `max_bytes`, checked before parsing; `WatParseError` otherwise,
    with `line`, `column` and a one-line `reason`)."""
    return compile_module(wat, max_bytes=max_bytes)
