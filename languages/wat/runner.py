"""The sandbox: run WebAssembly text with hard limits, in process or in a worker process.

- fuel: an instruction budget per call (wasmtime fuel metering);
- a wall-clock deadline per call (epoch interruption; a ticker thread advances the epoch);
- store limits on linear memory (default 16 MiB), table elements, tables, memories, instances;
- no WASI, and no imports but an allow-list of host functions: `env.log_i64` (param i64),
  whose values are captured in `Sandbox.logs` (and in `WatError.logs` when a run fails);
  any other import fails with "import not allowed: module.name";
- traps become `WatTrap` with a clear message; fuel and time become `WatFuelError` and
  `WatTimeout`; limits `WatMemoryError`; a missing or unusable export `WatEntryError`;
  arguments that do not fit the signature `WatArgsError`.

    run(wat, entry="main", args=(), limits=None, isolate=False) -> int | None
    sb = Sandbox(wat, limits); sb.call("a", 5) -> int

With `isolate=True` the run happens in a worker process (started once, reused) that is
killed if it does not answer within the deadline plus a grace period; a killed worker is
replaced on the next run. `IsolatedRunner` is that worker, for batch evaluation.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import wasmtime

from .canonical import DEFAULT_MAX_BYTES
from .errors import (WatArgsError, WatEntryError, WatError, WatFuelError, WatImportError, WatMemoryError, WatTimeout,
                     WatTrap, error_from_kind)
from .validator import DEFAULT_STACK_BYTES, TICK, compile_module, ensure_ticker, get_engine


@dataclass(frozen=True)
class RunLimits:
    fuel: int = 100_000_000          # instructions (fuel units) per call
    timeout: float = 2.0             # seconds of wall-clock time per call
    memory_bytes: int = 16 << 20     # linear memory, all memories together
    table_elements: int = 10_000
    instances: int = 4
    tables: int = 4
    memories: int = 1
    stack_bytes: int = DEFAULT_STACK_BYTES  # wasm stack (engine setting)
    max_bytes: int | None = DEFAULT_MAX_BYTES  # size cap on the text (None: no cap)
    max_log: int = 10_000            # captured env.log_i64 values kept (later ones are counted, not kept)

    def __post_init__(self) -> None:
        for name in ("fuel", "memory_bytes", "table_elements", "instances", "tables", "memories", "stack_bytes",
                     "max_log"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise WatArgsError(f"run limit {name} must be a non-negative integer, got {value!r}")
        if not isinstance(self.timeout, (int, float)) or not self.timeout > 0:
            raise WatArgsError(f"run limit timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.max_bytes is not None and (not isinstance(self.max_bytes, int) or self.max_bytes < 0):
            raise WatArgsError(f"run limit max_bytes must be a non-negative integer or None, got {self.max_bytes!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "RunLimits":
        """RunLimits from a mapping; unknown keys raise `WatArgsError`."""
        if values is None:
            return cls()
        if isinstance(values, RunLimits):
            return values
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise WatArgsError(f"unknown run limits: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = {k: int(v) if isinstance(v, float) and v.is_integer() and k not in ("timeout",) else v
                  for k, v in dict(values).items()}
        return replace(cls(), **values)


# ---------------------------------------------------------------- host functions

_I32, _I64 = "i32", "i64"


def _valtype_name(t: wasmtime.ValType) -> str:
    return str(t)


class _HostFunc:
    def __init__(self, params: Sequence[str], results: Sequence[str], make: Callable[["Sandbox"], Callable]):
        self.params = tuple(params)
        self.results = tuple(results)
        self.make = make

    def signature(self) -> str:
        p = f" (param {' '.join(self.params)})" if self.params else ""
        r = f" (result {' '.join(self.results)})" if self.results else ""
        return f"(func{p}{r})"

    def functype(self) -> wasmtime.FuncType:
        vt = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64()}
        return wasmtime.FuncType([vt[p] for p in self.params], [vt[r] for r in self.results])


def _make_log(sandbox: "Sandbox") -> Callable:
    def log_i64(value: int) -> None:
        sandbox._log(value)
    return log_i64


# (module, name) -> host function; anything else is refused
ALLOWED_IMPORTS: dict[tuple[str, str], _HostFunc] = {
    ("env", "log_i64"): _HostFunc([_I64], [], _make_log),
}


def check_imports(module: wasmtime.Module) -> list[_HostFunc]:
    """The host functions for `module`'s imports, in order; `WatImportError` for an import
    outside the allow-list ("import not allowed: module.name") or of the wrong type."""
    hosts = []
    for imp in module.imports:
        host = ALLOWED_IMPORTS.get((imp.module, imp.name))
        if host is None:
            raise WatImportError(f"import not allowed: {imp.module}.{imp.name}")
        itype = imp.type
        if not isinstance(itype, wasmtime.FuncType) or \
                tuple(map(_valtype_name, itype.params)) != host.params or \
                tuple(map(_valtype_name, itype.results)) != host.results:
            raise WatImportError(f"import {imp.module}.{imp.name} must be {host.signature()}")
        hosts.append(host)
    return hosts


# ---------------------------------------------------------------- errors

_TRAP_MESSAGES = {
    "INTEGER_DIVISION_BY_ZERO": "integer divide by zero",
    "INTEGER_OVERFLOW": "integer overflow",
    "UNREACHABLE": "unreachable instruction executed",
    "STACK_OVERFLOW": "stack overflow: call stack exhausted (unbounded recursion?)",
    "MEMORY_OUT_OF_BOUNDS": "out of bounds memory access",
    "HEAP_MISALIGNED": "misaligned memory access",
    "TABLE_OUT_OF_BOUNDS": "out of bounds table access",
    "INDIRECT_CALL_TO_NULL": "indirect call to a null table entry",
    "BAD_SIGNATURE": "indirect call signature mismatch",
    "BAD_CONVERSION_TO_INTEGER": "invalid conversion to integer",
    "NULL_REFERENCE": "null reference",
}


def _trap_error(trap: wasmtime.Trap, limits: RunLimits, logs: list[int]) -> WatError:
    code = trap.trap_code
    name = code.name if code is not None else None
    if name == "OUT_OF_FUEL":
        return WatFuelError(f"fuel exhausted: more than {limits.fuel} instructions", logs=logs)
    if name == "INTERRUPT":
        return WatTimeout(f"time limit exceeded: more than {limits.timeout:g} s", logs=logs)
    reason = _TRAP_MESSAGES.get(name or "")
    if reason is None:
        lines = [ln.strip() for ln in str(trap).splitlines() if ln.strip()]
        reason = lines[-1] if lines else "trap"
        if reason.startswith("wasm trap: "):
            reason = reason[len("wasm trap: "):]
    where = ""
    try:
        frames = trap.frames
        if frames:
            f = frames[0]
            where = f" in function ${f.func_name}" if f.func_name else f" in function {f.func_index}"
    except Exception:  # frames are a nicety
        pass
    return WatTrap(f"trap: {reason}{where}", trap_code=name, logs=logs)


def _runtime_error(exc: Exception, limits: RunLimits, logs: list[int]) -> WatError:
    if isinstance(exc, wasmtime.Trap):
        return _trap_error(exc, limits, logs)
    message = " ".join(str(exc).split())
    if any(marker in message for marker in ("exceeds memory limits", "exceeds table limits", "resource limit",
                                             "Cannot allocate memory", "mmap failed")) or \
            ("instance" in message and "limit" in message):
        if "table" in message:
            limit = f"table limit {limits.table_elements} elements"
        elif "instance" in message:
            limit = f"instance limit {limits.instances}"
        else:
            limit = f"memory limit {limits.memory_bytes} bytes"
        return WatMemoryError(f"resource limit: {message} ({limit})", logs=logs)
    return WatError(message, logs=logs)


# ---------------------------------------------------------------- the sandbox

def _coerce_arg(value: Any, vtype: str, index: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, str):
                value = int(value.strip(), 0)
            else:
                raise TypeError
        except (TypeError, ValueError):
            raise WatArgsError(f"argument {index + 1}: expected an integer for {vtype}, got {value!r}") from None
    bits = 32 if vtype == _I32 else 64
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise WatArgsError(f"argument {index + 1}: {value} does not fit in {vtype}")
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


class Sandbox:
    """One module compiled and instantiated once in a fresh store; `call` runs an export
    with fuel and deadline re-armed for each call."""

    def __init__(self, wat: str, limits: RunLimits | Mapping[str, Any] | None = None):
        self.limits = limits = RunLimits.from_mapping(limits)
        self.logs: list[int] = []
        self.logs_dropped = 0
        self._signatures: dict[str, tuple[list[str], list[str]]] = {}
        self.module = compile_module(wat, max_bytes=limits.max_bytes, stack_bytes=limits.stack_bytes)
        ensure_ticker()
        self.store = wasmtime.Store(get_engine(limits.stack_bytes))
        self.store.set_limits(memory_size=limits.memory_bytes, table_elements=limits.table_elements,
                              instances=limits.instances, tables=limits.tables, memories=limits.memories)
        imports = [wasmtime.Func(self.store, host.functype(), host.make(self)) for host in check_imports(self.module)]
        self._arm()  # a start function runs during instantiation
        try:
            self.instance = wasmtime.Instance(self.store, self.module, imports)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise _runtime_error(exc, limits, self.logs) from None
        self.exports = self.instance.exports(self.store)

    def _log(self, value: int) -> None:
        if len(self.logs) < self.limits.max_log:
            self.logs.append(value)
        else:
            self.logs_dropped += 1

    def _arm(self) -> None:
        self.store.set_fuel(int(self.limits.fuel))
        self.store.set_epoch_deadline(max(1, math.ceil(self.limits.timeout / TICK)))

    def signature(self, entry: str) -> tuple[list[str], list[str]]:
        """(param types, result types) of the exported function `entry`."""
        cached = self._signatures.get(entry)
        if cached is not None:
            return cached
        try:
            func = self.exports[entry]
        except KeyError:
            names = ", ".join(repr(e.name) for e in self.module.exports) or "none"
            raise WatEntryError(f"no export named {entry!r} (exports: {names})") from None
        if not isinstance(func, wasmtime.Func):
            raise WatEntryError(f"export {entry!r} is a {type(func).__name__.lower()}, not a function")
        ftype = func.type(self.store)
        signature = ([_valtype_name(t) for t in ftype.params], [_valtype_name(t) for t in ftype.results])
        self._signatures[entry] = signature
        return signature

    def call(self, entry: str = "main", *args: Any) -> int | None:
        """Call the exported function `entry`; its i32/i64 result (None for no result)."""
        params, results = self.signature(entry)
        for t in params + results:
            if t not in (_I32, _I64):
                raise WatEntryError(f"function {entry!r} has a {t} in its signature; only i32 and i64 are supported")
        if len(results) > 1:
            raise WatEntryError(f"function {entry!r} returns {len(results)} values; expected at most one")
        if len(args) != len(params):
            raise WatArgsError(f"function {entry!r} takes {len(params)} argument(s) "
                               f"({' '.join(params) or 'none'}), got {len(args)}")
        values = [_coerce_arg(a, t, i) for i, (a, t) in enumerate(zip(args, params))]
        self._arm()
        try:
            result = self.exports[entry](self.store, *values)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise _runtime_error(exc, self.limits, self.logs) from None
        return result


def run(wat: str, entry: str = "main", args: Sequence[Any] = (), limits: RunLimits | Mapping[str, Any] | None = None,
        isolate: bool = False, logs: list[int] | None = None) -> int | None:
    """Compile (cached), instantiate in a fresh store, call `entry(*args)`.

    `logs`, if given, receives the values the program passed to `env.log_i64`.
    `isolate=True` runs it in a worker process with a hard kill (see `IsolatedRunner`)."""
    if isolate:
        return _default_runner().run(wat, entry, args, limits, logs=logs)
    limits = RunLimits.from_mapping(limits)
    sandbox = None
    try:
        sandbox = Sandbox(wat, limits)
        return sandbox.call(entry, *args)
    finally:
        if logs is not None and sandbox is not None:
            logs.extend(sandbox.logs)


# ---------------------------------------------------------------- worker process

def _worker_entry(read_fd: int, write_fd: int) -> None:
    conn_in = Connection(read_fd, writable=False)
    conn_out = Connection(write_fd, readable=False)
    _worker_loop(conn_in, conn_out)


def _worker_loop(conn_in, conn) -> None:
    """The worker loop: ("run", wat, entry, args, limits) -> ("ok", value, logs) or ("error", ...)."""
    conn.send(("ready",))
    while True:
        try:
            request = conn_in.recv()
        except (EOFError, OSError):
            return
        op = request[0]
        if op == "stop":
            return
        if op == "sleep":  # for tests of the hard kill
            time.sleep(request[1])
            conn.send(("ok", None, []))
            continue
        _, wat, entry, args, limits = request
        logs: list[int] = []
        try:
            value = run(wat, entry, args, RunLimits(**limits), logs=logs)
            conn.send(("ok", value, logs))
        except WatError as exc:
            conn.send(("error", exc.kind, exc.reason, exc.line, exc.column, exc.logs or logs))
        except Exception as exc:  # never let the worker die on an unexpected error
            conn.send(("error", "error", f"{type(exc).__name__}: {exc}", None, None, logs))


class IsolatedRunner:
    """A worker process (spawned, reused across runs) that is killed when a run overstays
    its deadline by more than `grace` seconds; the next run starts a fresh one."""

    def __init__(self, limits: RunLimits | Mapping[str, Any] | None = None, grace: float = 1.5,
                 start_timeout: float = 60.0):
        self.limits = RunLimits.from_mapping(limits)
        self.grace = grace
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None
        self._out: Connection | None = None
        self._in: Connection | None = None
        self._lock = threading.Lock()
        self.kills = 0

    def _start(self) -> None:
        # A plain `python -c` child (not multiprocessing's spawn), so that the caller's
        # __main__ is never re-imported; messages are pickles over two pipes.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = f"from languages.wat.runner import _worker_entry; _worker_entry({to_child_r}, {from_child_w})"
        try:
            proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), env=env,
                                    stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        conn_out = Connection(to_child_w, readable=False)
        conn_in = Connection(from_child_r, writable=False)
        if not conn_in.poll(self.start_timeout):
            proc.kill()
            proc.wait()
            conn_out.close()
            conn_in.close()
            raise WatError("sandbox worker did not start")
        try:
            conn_in.recv()
        except EOFError:
            proc.wait()
            conn_out.close()
            conn_in.close()
            raise WatError("sandbox worker failed to start") from None
        self._proc, self._out, self._in = proc, conn_out, conn_in

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
        for conn in (self._out, self._in):
            if conn is not None:
                conn.close()
        self._proc = self._out = self._in = None

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                try:
                    self._out.send(("stop",))
                    self._proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def __enter__(self) -> "IsolatedRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, request: tuple, deadline: float) -> tuple:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._kill()
                self._start()
            try:
                self._out.send(request)
                if self._in.poll(deadline):
                    return self._in.recv()
            except (EOFError, OSError):
                self._kill()
                raise WatError("sandbox worker died") from None
            self._kill()
            self.kills += 1
            raise WatTimeout(f"time limit exceeded: worker killed after {deadline:g} s")

    def run(self, wat: str, entry: str = "main", args: Sequence[Any] = (),
            limits: RunLimits | Mapping[str, Any] | None = None, logs: list[int] | None = None) -> int | None:
        limits = RunLimits.from_mapping(limits) if limits is not None else self.limits
        hard = limits.timeout + self.grace + 1.0  # compiling is not under the epoch deadline
        reply = self._request(("run", wat, entry, tuple(args), asdict(limits)), hard)
        if reply[0] == "ok":
            if logs is not None:
                logs.extend(reply[2])
            return reply[1]
        _, kind, reason, line, column, got_logs = reply
        if logs is not None:
            logs.extend(got_logs)
        raise error_from_kind(kind, reason, line=line, column=column, logs=got_logs)

    def sleep(self, seconds: float, deadline: float) -> None:
        """Make the worker sleep (tests the hard kill)."""
        self._request(("sleep", seconds), deadline)


_default: IsolatedRunner | None = None
_default_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # a forked child must not share the parent's worker (its pipes) nor a lock held at fork time
    global _default, _default_lock
    _default = None
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_runner() -> IsolatedRunner:
    global _default
    with _default_lock:
        if _default is None:
            _default = IsolatedRunner()
        return _default
