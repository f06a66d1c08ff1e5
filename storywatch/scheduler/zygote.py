"""Crawl children forked from a process that has imported the crawl already.

Each crawl runs in a process of its own (Scrapy's reactor runs once per process; a crawl
that crashes or hangs must cost one run). Started as `python -m storywatch crawl`, every
child first imports Scrapy, trafilatura, SQLAlchemy and the project: about 2 s of CPU per
source run, which on a cluster worker running one crawl per source was a third of the
CPU a crawl cost (benchmarks/cluster_scaling.py). The zygote imports all that once, then
forks one child per crawl; the child runs the same CLI entry point with the same
arguments, environment and working directory, with its standard output and error
connected to the caller's pipes, in a session (process group) of its own.

Why by hand: multiprocessing's forkserver does the forking but hands back no standard
streams, no process group and no exit code of a process that is not its caller's child;
here the caller keeps exactly what `subprocess.Popen` gave it (scheduler/children.py).

The zygote never installs Twisted's reactor, opens a database or starts a thread, so a
fork of it is as clean as a new interpreter. It dies with the process that started it
(PR_SET_PDEATHSIG, Linux); where fork or that is unavailable, callers start plain
children (`start_zygote` returns None).

Protocol, on a SOCK_SEQPACKET socket pair: the caller sends one JSON request (args, env,
cwd) with three descriptors (stdout and stderr write ends, and one end of a per-child
socket pair); the zygote forks and writes `{"pid": N}` on the per-child socket, and
`{"exit": CODE}` there once it has reaped the child (CODE as Popen.returncode).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import logging
import os
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import traceback
from typing import Any

import setproctitle

from storywatch import lifeline
from storywatch.spiders.malloc import keep_large_blocks_returnable

log = logging.getLogger("storywatch.scheduler.zygote")

# What a crawl child imports before it does anything (its CPU is what the zygote saves).
PRELOAD = (
    "storywatch.cli",
    "storywatch.spiders.run",
    "storywatch.spiders.writer",
    "storywatch.extraction.article",
    "storywatch.cluster.child",
    "storywatch.classify.seeds",
)
_REQUEST_MAX = 1 << 20
READY = b'{"ready": true}'


class ZygoteUnavailable(Exception):
    """The zygote cannot fork a child (it died, or never started)."""


class Zygote:
    """The caller's handle on one zygote process; `fork` may be called from any thread."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = mine
        self._lock = threading.Lock()
        with theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "storywatch.scheduler.zygote", str(theirs.fileno()),
                 str(os.getpid())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        # The zygote says it is ready once its imports are done (or why it cannot run).
        ready = self._socket.recv(_REQUEST_MAX)
        if ready != READY:
            self.close()
            raise ZygoteUnavailable(ready.decode("utf-8", "replace") or "the zygote exited")

    def fork(self, command: list[str], env: dict[str, str] | None,
             stdout: int, stderr: int) -> tuple[int, socket.socket]:
        """Start `command` (a `python -m storywatch ...` command line) as a child of the
        zygote; returns its pid and the socket its exit code will arrive on."""
        if command[1:3] != ["-m", "storywatch"]:
            raise ValueError(f"the zygote runs storywatch commands only, not {command!r}")
        report, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = json.dumps({"args": command[3:], "env": dict(os.environ if env is None
                                                                else env),
                              "cwd": os.getcwd()}).encode("utf-8")
        try:
            with self._lock, theirs:
                if self.proc.poll() is not None:
                    raise ZygoteUnavailable(f"the zygote exited with code {self.proc.returncode}")
                try:
                    socket.send_fds(self._socket, [request], [stdout, stderr, theirs.fileno()])
                except OSError as exc:
                    raise ZygoteUnavailable(f"cannot reach the zygote: {exc}") from exc
            pid = _read_message(report).get("pid")
        except BaseException:
            report.close()
            raise
        if not isinstance(pid, int):
            report.close()
            raise ZygoteUnavailable("the zygote did not start the child")
        return pid, report

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the zygote (its running children go on, each in its own session)."""
        self._socket.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_zygote() -> Zygote | None:
    """A zygote for this process's crawl children, or None where forking one is not
    possible (not Linux, or it failed to start: the reason is logged). Call it from a
    thread that lives as long as the zygote should: the zygote dies with that thread."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return Zygote()
    except (OSError, ZygoteUnavailable) as exc:
        log.warning("crawl children will start as new interpreters: no zygote (%s)", exc)
        return None


def _read_message(sock: socket.socket) -> dict[str, Any]:
    """One newline-terminated JSON message; {} at end of file."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            return {}
        data += chunk
    return json.loads(data)


def read_exit(sock: socket.socket) -> int:
    """The exit code reported on a child's socket, once the child has ended; a zygote
    that died first reports nothing, read as killed (it died by SIGKILL). One reader per
    socket."""
    code = _read_message(sock).get("exit")
    return code if isinstance(code, int) else -signal.SIGKILL


# ---- the zygote process -------------------------------------------------------------


def _serve(control: socket.socket) -> None:
    children: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    while True:
        for key, _ in selector.select():
            if key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                continue
            try:
                message, fds, _flags, _addr = socket.recv_fds(control, _REQUEST_MAX, 3)
            except OSError:
                message, fds = b"", []
            if not message:  # the caller closed its end: no more children
                for fd in fds:
                    os.close(fd)
                return
            _start_child(json.loads(message), fds, control, children, (wake_r, wake_w))
        _reap(children)


def _start_child(request: dict[str, Any], fds: list[int], control: socket.socket,
                 children: dict[int, socket.socket], wake: tuple[int, int]) -> None:
    stdout, stderr, report_fd = fds
    report = socket.socket(fileno=report_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the crawl child
        try:
            control.close()
            report.close()
            for other in children.values():
                other.close()
            for fd in wake:
                os.close(fd)
            _run_child(request, stdout, stderr)
        finally:
            os._exit(1)  # _run_child exits itself; this only if it raised before
    os.close(stdout)
    os.close(stderr)
    # If the caller went away, the child is reaped all the same.
    with contextlib.suppress(OSError):
        report.sendall(json.dumps({"pid": pid}).encode("utf-8") + b"\n")
    children[pid] = report


def _run_child(request: dict[str, Any], stdout: int, stderr: int) -> None:
    # What `ps` shows: the command a new interpreter would have had (operators and
    # process-tree tools find crawl children by it). First: setproctitle finds the
    # process's argument memory from sys.argv and the environment as they were at start.
    setproctitle.setproctitle(shlex.join([sys.executable, "-m", "storywatch",
                                          *request["args"]]))
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()  # its own process group, stopped as a whole (children.Child.stop)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in (devnull, stdout, stderr):
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["storywatch", *request["args"]]
    code = 0
    try:
        from storywatch.cli import main

        main()
    except SystemExit as exc:  # as the interpreter treats it at exit
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        # What an interpreter's exit does (log handlers, process pools), then leave without
        # unwinding the zygote's own frames.
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
    os._exit(code)


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        report = children.pop(pid, None)
        if report is None:
            continue
        with contextlib.suppress(OSError):
            message = {"exit": os.waitstatus_to_exitcode(status)}
            report.sendall(json.dumps(message).encode("utf-8") + b"\n")
        report.close()


def _warm_up() -> None:
    """Load, once, what every crawl child loads on first use (py-spy on a cluster worker:
    17 % of a crawl child's samples): py3langid's language model (normalise/language.py;
    unpacking it costs more CPU than a small crawl's extraction), and the classes Scrapy
    imports by name when a crawler starts (middlewares, extensions, download handlers,
    scheduler queues: every dotted path among the project's settings)."""
    import warnings

    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    from storywatch.normalise.language import load_model
    from storywatch.spiders import settings as project

    load_model()
    settings = Settings()
    settings.setmodule(project, priority="project")
    paths: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated settings say so when read
        for value in settings.copy_to_dict().values():
            found = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
            paths.update(p for p in found if isinstance(p, str)
                         and p.startswith(("scrapy.", "storywatch.")))
        for path in sorted(paths):
            with contextlib.suppress(Exception):  # a setting that names no class
                load_object(path)


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[0]))
    lifeline.die_with_parent(int(argv[1]))
    # Its children are crawls, which want glibc's thresholds fixed; set here, before the
    # imports and the forks, since a child that set them itself would copy the pages it
    # shares with the zygote (spiders/malloc.py). A child's own call is then a no-op.
    keep_large_blocks_returnable()
    try:
        for name in PRELOAD:
            importlib.import_module(name)
        _warm_up()
        if "twisted.internet.reactor" in sys.modules or threading.active_count() != 1:
            raise RuntimeError("importing the crawl installed a reactor or started a thread")
    except Exception as exc:
        control.send(f"cannot preload the crawl: {exc!r}".encode())
        return
    control.send(READY)
    _serve(control)


if __name__ == "__main__":
    main(sys.argv[1:])
