"""Running ecsops (and the example operation) the way a CI job would.

By default a command runs in this test process: `in_process` gives it the environment, argv, stdout and stderr a
subprocess would have had, and the exit code it would have ended with, and puts back what it changed. Starting a
Python process and importing ecsops costs about a second, and some 300 calls in the suite need nothing else.

A real process stays where a test needs one: a crash point (ECSOPS_CRASH_AT SIGKILLs the process, ECSOPS_STOP_AT
SIGSTOPs it: such calls always get a process), `process=True`, a process running in the background while the test
acts (start_ecsops: signals, two runners at once, a lock held by a live process). Those are forked from a server
that imported ecsops once (ForkedProcess), so they start in some 50 ms. A fresh interpreter (subprocess) stays for
what Python's own start or exit does: import costs, console scripts, signals while the interpreter exits; those
tests carry the `process` marker (pyproject.toml). ECSOPS_TESTS_IN_PROCESS=0 runs every call in a fresh
interpreter, as the suite once did, to compare.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).parent
# What `python -m ecsops` calls itself in usage lines and help hints (click derives it from how it was started).
PROG_NAME = "python -m ecsops"
# These stop the process they are set in: never in the test's own.
PROCESS_ONLY_ENV = ("ECSOPS_CRASH_AT", "ECSOPS_STOP_AT")
IN_PROCESS_ENV = "ECSOPS_TESTS_IN_PROCESS"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_env(store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ECSOPS_CRASH_AT", None)
    env["ECSOPS_STORE"] = str(store)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    env["ECSOPS_OPERATION_PLUGINS"] = "example_operation:SPEC"
    env.update(extra)
    return env


def needs_process(env: dict[str, str]) -> bool:
    """A crash point, or every call when ECSOPS_TESTS_IN_PROCESS=0 (to compare with real processes)."""
    return any(env.get(name) for name in PROCESS_ONLY_ENV) or fresh_processes()


def fresh_processes() -> bool:
    """ECSOPS_TESTS_IN_PROCESS=0: every call a fresh interpreter, as the suite once ran them."""
    return os.environ.get(IN_PROCESS_ENV) == "0"


def run_ecsops(store: Path, *args: str, timeout: float = 60, process: bool = False, **extra_env: str) -> Result:
    """`python -m ecsops ARGS` with ECSOPS_STORE=store: in this process unless process=True or a crash point."""
    env = cli_env(store, **extra_env)
    if process or needs_process(env):
        return run_forked("ecsops", [PROG_NAME, *args], env, timeout)
    return in_process(_ecsops_main, [PROG_NAME, *args], env)


def run_example(
    store: Path, ledger: Path, target: str, run_id: str, *params: str, process: bool = False, **extra_env: str
) -> Result:
    """tests/example_cli.py (the example operation driven by the runner), as run_ecsops runs ecsops."""
    argv = [str(TESTS_DIR / "example_cli.py"), str(ledger), target, run_id, *params]
    env = cli_env(store, **extra_env)
    if process or needs_process(env):
        return run_forked("example", argv, env, 60)
    return in_process(_example_main, argv, env)


def run_module(module: str, store: Path, *args: str, process: bool = False, **extra_env: str) -> Result:
    """`python -m MODULE ARGS` for a module whose `main()` reads sys.argv (the go-awsecs compatible commands)."""
    env = cli_env(store, **extra_env)
    if process or needs_process(env):
        return run_forked(f"module:{module}", [module, *args], env, 60)
    return in_process(_entry(f"module:{module}"), [module, *args], env)


def run_process(command: list[str], env: dict[str, str], timeout: float) -> Result:
    """A fresh interpreter: for what start-up itself does (imports, console scripts)."""
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    return Result(completed.returncode, completed.stdout, completed.stderr)


_COMMANDS: dict[int, Any] = {}


def _ecsops_main() -> object:
    """What `python -m ecsops` runs: typer's app, named as click names it then. The click command typer builds
    from the app (a tenth of a quick command's time) is built once per test process and reused, as click allows:
    each call still parses its own argv and environment in a context of its own."""
    import typer.main

    from ecsops.cli.app import app

    command = _COMMANDS.get(id(app))
    if command is None:
        command = _COMMANDS[id(app)] = typer.main.get_command(app)
    return command(prog_name=PROG_NAME)


def _example_main() -> object:
    import example_cli

    return sys.exit(example_cli.main())


def _entry(name: str) -> Callable[[], object]:
    """"ecsops", "example" or "module:NAME" (whose main() reads sys.argv)."""
    if name == "ecsops":
        return _ecsops_main
    if name == "example":
        return _example_main
    module = name.removeprefix("module:")

    def main() -> object:
        import importlib

        entry: Callable[[], object] = importlib.import_module(module).main
        return entry()

    return main


# ---- real processes, forked from a server that imported ecsops once -----------------------------------------

def run_forked(entry: str, argv: list[str], env: dict[str, str], timeout: float) -> Result:
    """`argv` run to its end as a real process (ForkedProcess); ECSOPS_TESTS_IN_PROCESS=0 starts a fresh
    interpreter instead."""
    if fresh_processes():
        return run_process(_fresh_command(entry, argv), env, timeout)
    process = ForkedProcess(entry, argv, env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    assert process.returncode is not None
    return Result(process.returncode, stdout, stderr)


def start_ecsops(
    store: Path, *args: str, fresh: bool = False, file_size_limit: int | None = None, **extra_env: str
) -> Any:
    """`python -m ecsops ARGS` in the background, for a test that talks to it while it runs (reads its stderr,
    signals it, runs another command meanwhile): a ForkedProcess, or with fresh=True a subprocess.Popen of a
    new interpreter, for what an interpreter's own start or exit does (signals while it shuts down).
    file_size_limit: RLIMIT_FSIZE for the process (its writes past it fail as on a full disk)."""
    env = cli_env(store, **extra_env)
    return start_process("ecsops", [PROG_NAME, *args], env, fresh=fresh, file_size_limit=file_size_limit)


def start_process(
    entry: str, argv: list[str], env: dict[str, str], *, fresh: bool = False, file_size_limit: int | None = None
) -> Any:
    """entry ("ecsops", "example", "module:NAME") as a background process; see start_ecsops."""
    if fresh or fresh_processes():

        def limited() -> None:
            if file_size_limit is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        return subprocess.Popen(_fresh_command(entry, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, preexec_fn=limited)
    return ForkedProcess(entry, argv, env, file_size_limit=file_size_limit)


def _fresh_command(entry: str, argv: list[str]) -> list[str]:
    if entry == "example":
        return [sys.executable, *argv]
    module = "ecsops" if entry == "ecsops" else entry.removeprefix("module:")
    return [sys.executable, "-m", module, *argv[1:]]


class ForkedProcess:
    """A real process of its own (its own pid and memory; a crash point or a signal ends it for real) forked from
    a server that imported ecsops, boto3 and the AWS models once (tests/warm_cli.py), so it starts in some 50 ms
    rather than a second. It offers what the tests use of subprocess.Popen (text stdout and stderr pipes, pid,
    poll, wait, communicate, send_signal, kill); its exit code is a subprocess's (-9 when SIGKILLed).

    It ends through multiprocessing, not an interpreter's shutdown: a test about what a process does while its
    interpreter exits (signals then) starts a fresh one.
    """

    def __init__(self, entry: str, argv: list[str], env: dict[str, str], *, file_size_limit: int | None = None
                 ) -> None:
        context = _fork_server()
        self.args = argv
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        self._child = context.Process(
            target=_forked_main,
            args=(entry, argv, env, os.getcwd(), _Fd(out_write), _Fd(err_write), file_size_limit),
            daemon=True,
        )
        try:
            self._child.start()
        finally:
            os.close(out_write)
            os.close(err_write)
        self.pid: int = self._child.pid or 0
        self.stdout = open(out_read, encoding="utf-8")  # noqa: SIM115
        self.stderr = open(err_read, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115

    @property
    def returncode(self) -> int | None:
        return self._child.exitcode

    def poll(self) -> int | None:
        return self._child.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._child.join(timeout)
        if self._child.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._child.exitcode

    def send_signal(self, sig: int) -> None:
        if self._child.exitcode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read stdout and stderr to their end (the process's exit), then wait for its exit code."""
        read: dict[str, str] = {}
        readers = [threading.Thread(target=lambda name=name, stream=stream: read.__setitem__(name, stream.read()),
                                    daemon=True)
                   for name, stream in (("stdout", self.stdout), ("stderr", self.stderr))]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout)
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.wait(timeout)
        self.stdout.close()
        self.stderr.close()
        return read["stdout"], read["stderr"]


def forked_processes() -> Any:
    """A multiprocessing context (Process, Barrier, Queue...) whose processes are forked from the warm server
    instead of spawned as fresh interpreters: each starts with this process's environment of the moment, as a
    spawned one would, and runs its target in a process of its own."""
    return _ForkedContext(_fork_server())


class _ForkedContext:
    def __init__(self, context: Any) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def Process(self, target: Callable[..., object], args: tuple[Any, ...] = (), **kwargs: Any) -> Any:
        return self._context.Process(target=_in_environment, args=(dict(os.environ), target, *args), **kwargs)


def _in_environment(env: dict[str, str], target: Callable[..., object], *args: Any) -> None:
    os.environ.clear()
    os.environ.update(env)
    target(*args)


class _Fd:
    """A file descriptor handed to a forked process (multiprocessing passes it through the fork server)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        from multiprocessing import reduction

        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(duplicate: Any) -> int:
    fd: int = duplicate.detach()
    return fd


def _fork_server() -> Any:
    """The forkserver context, its server started (once per test process) with tests/warm_cli.py imported."""
    import multiprocessing
    import multiprocessing.forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["warm_cli"])
    # The server finds warm_cli (and the example operation) on its PYTHONPATH: it is started with the
    # environment of this moment, and ignores the sys.path it is sent (Python 3.11).
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), saved]))
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    return context


def _forked_main(
    entry: str, argv: list[str], env: dict[str, str], cwd: str, out: int, err: int, file_size_limit: int | None
) -> None:
    """In the forked process: stdout and stderr to the parent's pipes (stdout block-buffered, stderr
    line-buffered, as Python has them on pipes), the command's argv, environment and directory, then its entry
    point. What it left open is closed at exit as an interpreter's shutdown would."""
    for fd, target in ((1, out), (2, err)):
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    if file_size_limit is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    with _connections_closed_at_exit():
        _entry(entry)()


# ---- the in-process runner ---------------------------------------------------------------------------------

_ONE_AT_A_TIME = threading.Lock()
# Above Linux's largest possible pid (PID_MAX_LIMIT, 2**22): no process on this host ever has one of these.
_GONE_PIDS = itertools.count(2**22 + 1 + (os.getpid() % 1000) * 100_000)


def in_process(entry: Callable[[], object], argv: list[str], env: dict[str, str]) -> Result:
    """Call entry() as a process's main: os.environ = env, sys.argv = argv, stdout and stderr captured, the exit
    code from SystemExit (an uncaught exception prints its traceback and exits 1, as Python does). Calls are
    serialised: the environment and the standard streams belong to the whole test process."""
    assert not any(env.get(name) for name in PROCESS_ONLY_ENV), "a crash point stops the process: use a real one"
    stdout, stderr = io.StringIO(), io.StringIO()
    with _ONE_AT_A_TIME, _as_a_process(argv, env, stdout, stderr):
        try:
            entry()
            code = 0
        except SystemExit as exc:
            code = _exit_status(exc.code, stderr)
        except KeyboardInterrupt:
            traceback.print_exc(file=stderr)
            code = 128 + signal.SIGINT
        except BaseException:
            traceback.print_exc(file=stderr)
            code = 1
    return Result(code, stdout.getvalue(), stderr.getvalue())


def _exit_status(code: object, stderr: io.StringIO) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code % 256
    print(code, file=stderr)
    return 1


@contextlib.contextmanager
def _as_a_process(argv: list[str], env: dict[str, str], stdout: io.StringIO, stderr: io.StringIO) -> Iterator[None]:
    """What a fresh process would start from, and everything put back afterwards."""
    saved_env = dict(os.environ)
    saved_argv, saved_streams, saved_hook = sys.argv, (sys.stdout, sys.stderr), sys.excepthook
    saved_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    _reset_process_state()
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        with _owner_of_its_own(), _connections_closed_at_exit(), _service_models_read_once(), _local_sim_clock():
            yield
    finally:
        sys.stdout, sys.stderr = saved_streams
        sys.excepthook = saved_hook
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in saved_handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        _reset_process_state()


@contextlib.contextmanager
def _owner_of_its_own() -> Iterator[None]:
    """Each call owns its locks as a process of its own that is gone once the call returns, as a CLI process
    would be: a lock it leaves (an interrupted run) is taken over by the next call as from a dead process,
    with a new token, instead of being re-entered by the same owner."""
    import machines.engine

    owner = f"{socket.gethostname()}:{next(_GONE_PIDS)}"
    original = machines.engine.process_owner
    machines.engine.process_owner = lambda: owner  # type: ignore[assignment]
    try:
        yield
    finally:
        machines.engine.process_owner = original  # type: ignore[assignment]


@contextlib.contextmanager
def _connections_closed_at_exit() -> Iterator[None]:
    """The SQLite connections the call opened are closed when it returns, as at a process's exit: the last one
    to close checkpoints the WAL into the store file, which a test may then copy or inspect."""
    import sqlite3

    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recorded(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        opened.append(connection)
        return connection

    sqlite3.connect = recorded  # type: ignore[assignment]
    try:
        yield
    finally:
        sqlite3.connect = connect
        for connection in opened:
            connection.close()


# The simulators running in this test process, by URL (tests/conftest.py registers the worker's).
LOCAL_SIMULATORS: dict[str, Any] = {}


@contextlib.contextmanager
def _local_sim_clock() -> Iterator[None]:
    """Under ECSOPS_CLOCK=sim a run reads the simulator's clock over HTTP several times a poll, which costs as
    much as the poll's AWS call. When that simulator runs in this process the call reads and advances its clock
    directly: the same virtual time, without the round trip. (Real processes, and test_sim_endpoint, still go
    over HTTP.)"""
    from ecsops.cli.sim_clock import SimClock

    over_http = SimClock._call

    def call(clock: Any, path: str, body: dict[str, float] | None = None) -> float:
        sim = LOCAL_SIMULATORS.get(clock._base)
        if sim is None:
            return float(over_http(clock, path, body))
        if path == "/_ecsops/clock":
            return float(sim.now())
        assert path == "/_ecsops/clock/advance" and body is not None, path
        return float(sim.advance(float(body.get("seconds", 0))))

    SimClock._call = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        SimClock._call = over_http  # type: ignore[method-assign]


_LOADERS: dict[str | None, Any] = {}


@contextlib.contextmanager
def _service_models_read_once() -> Iterator[None]:
    """Every boto3 session a call makes reads the AWS service models (JSON files, a quarter of a second for the
    ECS, EC2, Auto Scaling and DynamoDB ones) through its own botocore loader, and every client it makes builds
    its class again (a method per API operation, some 600 for EC2). The calls share one loader and one class per
    service: the files are the same, and each call still gets sessions and clients of its own, as a fresh process
    would."""
    session_module = sys.modules.get("botocore.session")
    if session_module is None:  # not imported yet: this call reads the models as a process would
        yield
        return
    import botocore.client

    create = session_module.create_loader
    create_class = botocore.client.ClientCreator._create_client_class

    def shared(search_path_string: str | None = None) -> Any:
        if search_path_string not in _LOADERS:
            _LOADERS[search_path_string] = create(search_path_string)
        return _LOADERS[search_path_string]

    session_module.create_loader = shared
    botocore.client.ClientCreator._create_client_class = shared_client_class(create_class)  # type: ignore[method-assign]
    try:
        yield
    finally:
        session_module.create_loader = create
        botocore.client.ClientCreator._create_client_class = create_class  # type: ignore[method-assign]


_CLIENT_CLASSES: dict[tuple[str, str], Any] = {}


def shared_client_class(create_class: Callable[..., Any]) -> Callable[..., Any]:
    """botocore's ClientCreator._create_client_class, made once per service and API version: the class holds a
    method per operation of the (unchanging) service model; a client's own state is in its instance."""

    def create_once(creator: Any, service_name: str, service_model: Any) -> Any:
        key = (service_name, service_model.api_version)
        if key not in _CLIENT_CLASSES:
            _CLIENT_CLASSES[key] = create_class(creator, service_name, service_model)
        return _CLIENT_CLASSES[key]

    return create_once


def _reset_process_state() -> None:
    """Module-level state a process starts without: the global --store, boto3 clients built once per process
    (their retry quotas are per client), the DynamoDB request counts of the process."""
    modules = sys.modules
    if "ecsops.cli.options" in modules:
        modules["ecsops.cli.options"].STATE.store_path = None
    if "ecsops.aws.clients" in modules:
        modules["ecsops.aws.clients"]._SESSIONS.clear()
    if "ecsops.replace.gateways" in modules:
        modules["ecsops.replace.gateways"].make_gateways.cache_clear()
    if "store.dynamodb_requests" in modules:
        requests: Any = modules["store.dynamodb_requests"]
        with requests._CLIENTS_LOCK:
            requests._CLIENTS.clear()
        requests.PROCESS_USAGE.requests.clear()
