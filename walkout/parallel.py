"""Engines that run one function over many tasks: in this process, in local worker processes, on Ray.

An engine knows nothing about recordings. It calls ``work(state, task, progress)`` for each task,
where ``state`` is made once per worker by ``WorkerSetup.make_state`` (the pipeline loads its models
into it on first use, so each worker loads them once), and yields an :class:`Outcome` per task as
tasks finish, in completion order. ``progress(*payload)`` (local engines only) forwards a worker's
progress notes to the ``on_progress`` callback of the caller.

- :class:`SerialEngine`: in this process, one task after the other.
- :class:`LocalPool`: ``workers`` spawned processes. A worker serves at most
  ``max_tasks_per_worker`` tasks and is then replaced (bounds memory growth); the task each worker
  runs is known, so a worker that dies (killed, out of memory, a crash in a decoder) fails exactly
  that task, which is retried ``retries`` times in a fresh worker; the other workers go on.
  Workers die with the process that drives them (Linux ``PR_SET_PDEATHSIG``, else a watchdog).
- :class:`RayEngine`: the same on a Ray cluster (``ray`` is an optional extra, imported lazily):
  one actor per worker, each holding its state, replaced after ``max_tasks_per_worker`` tasks or
  when it dies.

Closing the iterator early (``--fail-fast``) stops the running tasks and the workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vision.runtime import THREADS_VARIABLE, available_cores

log = logging.getLogger(__name__)

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
Work = Callable[[Any, Any, Callable[..., None] | None], Any]
OnProgress = Callable[[int, tuple], None]


class EngineError(RuntimeError):
    """An engine cannot run at all (e.g. Ray is not installed or the cluster is unreachable)."""


@dataclass(frozen=True)
class WorkerSetup:
    """What each worker does once before its first task.

    make_state: ``make_state(state_arg)`` -> the worker's state object (module-level, picklable).
    threads: torch / OpenCV / BLAS threads per worker (None: leave the libraries' defaults).
    log_level: logging level of the worker's own log lines (they go to stderr).
    """

    make_state: Callable[[Any], Any]
    state_arg: Any = None
    threads: int | None = None
    log_level: int = logging.INFO


@dataclass(frozen=True)
class Outcome:
    """One finished task. ``index`` is its position in the task list; ``result`` is what ``work``
    returned (None on error); ``error`` the traceback or the reason the worker died; ``crashed``
    says the worker process died; ``attempts`` counts tries (> 1 after a retried crash)."""

    index: int
    result: Any = None
    error: str = ""
    crashed: bool = False
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return not self.error


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """max(1, cores // workers): the workers share the cores instead of oversubscribing them."""
    return max(1, (cores or available_cores()) // max(1, workers))


def configure_worker(setup: WorkerSetup) -> None:
    """Logging and thread limits of a worker process."""
    logging.basicConfig(level=setup.log_level, format=LOG_FORMAT, force=True)
    for noisy in ("matplotlib", "PIL", "ultralytics", "numba"):
        logging.getLogger(noisy).setLevel(max(setup.log_level, logging.WARNING))
    if setup.threads is not None:
        limit_threads(setup.threads)


def limit_threads(threads: int) -> None:
    """torch / OpenCV / BLAS / ONNX Runtime (``WALKOUT_THREADS``, vision.runtime.onnx_threads) threads of
    this process. The environment variables cover libraries and sessions made later; torch is limited
    now only if it is already imported (importing it costs seconds). ultralytics resets torch's threads
    when it first predicts, so the pipeline calls this again then."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", THREADS_VARIABLE):
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(threads)


def torch_threads() -> int | None:
    """torch's intra-op threads in this process (None if torch is not imported)."""
    return sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None


def _call(work: Work, state: Any, task: Any, progress: Callable[..., None] | None) -> tuple[str, Any]:
    """Run one task; an exception becomes ("error", traceback) so the worker lives on."""
    try:
        return "result", work(state, task, progress)
    except Exception:  # noqa: BLE001 - a failing task is reported, the engine goes on
        return "error", traceback.format_exc()


class SerialEngine:
    """Every task in this process, in order. The state is made once, on the first task."""

    def __init__(self, setup: WorkerSetup):
        self.setup = setup

    def run(self, tasks: Sequence[Any], work: Work, on_progress: OnProgress | None = None) -> Iterator[Outcome]:
        state = None
        for index, task in enumerate(tasks):
            if state is None:
                state = self.setup.make_state(self.setup.state_arg)
            progress = (lambda *payload, i=index: on_progress(i, payload)) if on_progress else None
            kind, value = _call(work, state, task, progress)
            yield Outcome(index, value, "") if kind == "result" else Outcome(index, None, value)


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker exit when the process that spawned it dies (even by SIGKILL), so no orphan
    keeps writing into an output folder that a new run is cleaning."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _worker_main(conn, setup: WorkerSetup, work: Work, max_tasks: int, parent_pid: int) -> None:
    """A pool worker: serve up to ``max_tasks`` tasks from ``conn``, then exit."""
    _die_with_parent(parent_pid)
    configure_worker(setup)
    state = setup.make_state(setup.state_arg)
    for _ in range(max_tasks):
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, task = message

        def progress(*payload, index=index) -> None:
            conn.send(("progress", index, payload))

        kind, value = _call(work, state, task, progress)
        try:
            conn.send((kind, index, value))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Worker:
    """The driver's view of one pool worker (mutable bookkeeping, not a record)."""

    process: Any
    conn: Any
    current: int | None = None
    sent: int = 0


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
        return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class LocalPool:
    """``workers`` spawned processes on this machine (see the module docstring)."""

    def __init__(self, setup: WorkerSetup, workers: int, max_tasks_per_worker: int = 8, retries: int = 1):
        if workers < 1 or max_tasks_per_worker < 1 or retries < 0:
            raise ValueError("workers and max_tasks_per_worker must be >= 1, retries >= 0")
        self.setup = setup
        self.workers = workers
        self.max_tasks = max_tasks_per_worker
        self.retries = retries

    def _spawn(self, context, work: Work) -> _Worker:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_worker_main, args=(theirs, self.setup, work, self.max_tasks, os.getpid()),
            name="walkout-worker", daemon=True,
        )
        process.start()
        theirs.close()
        log.debug("started worker pid %d", process.pid)
        return _Worker(process, ours)

    def run(self, tasks: Sequence[Any], work: Work, on_progress: OnProgress | None = None) -> Iterator[Outcome]:
        import multiprocessing
        from multiprocessing.connection import wait

        context = multiprocessing.get_context("spawn")
        queue = deque(range(len(tasks)))
        attempts = [0] * len(tasks)
        pool: list[_Worker] = []

        def assign(worker: _Worker) -> None:
            index = queue.popleft()
            attempts[index] += 1
            worker.current, worker.sent = index, worker.sent + 1
            worker.conn.send((index, tasks[index]))

        try:
            while queue or any(w.current is not None for w in pool):
                for worker in pool:
                    if queue and worker.current is None and worker.sent < self.max_tasks:
                        assign(worker)
                while queue and len(pool) < self.workers:
                    worker = self._spawn(context, work)
                    pool.append(worker)
                    assign(worker)
                wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout=1.0)
                for worker in list(pool):
                    yield from self._drain(worker, attempts, on_progress)
                    if worker.process.is_alive():
                        continue
                    worker.process.join()
                    worker.conn.close()
                    pool.remove(worker)
                    if worker.current is None:
                        continue  # served its share of tasks and left; replaced above if needed
                    index, how = worker.current, _death(worker.process.exitcode)
                    if attempts[index] <= self.retries:
                        log.warning("worker pid %d %s while running task %d; retrying it in a new worker",
                                    worker.process.pid, how, index)
                        queue.appendleft(index)
                    else:
                        yield Outcome(index, None, f"worker process (pid {worker.process.pid}) {how}",
                                      crashed=True, attempts=attempts[index])
        finally:
            self._shutdown(pool)

    @staticmethod
    def _drain(worker: _Worker, attempts: list[int], on_progress: OnProgress | None) -> Iterator[Outcome]:
        """Read every message a worker has sent (also after it died: the pipe keeps them)."""
        while True:
            try:
                if not worker.conn.poll():
                    return
                kind, index, value = worker.conn.recv()
            except (EOFError, OSError):
                return
            if kind == "progress":
                if on_progress is not None:
                    on_progress(index, value)
                continue
            worker.current = None
            if kind == "result":
                yield Outcome(index, value, attempts=attempts[index])
            else:
                yield Outcome(index, None, value, attempts=attempts[index])

    @staticmethod
    def _shutdown(pool: list[_Worker]) -> None:
        for worker in pool:
            if worker.current is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            else:
                worker.process.terminate()
        deadline = time.monotonic() + 10.0
        for worker in pool:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()


def import_ray():
    """The ``ray`` module, or EngineError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EngineError(
            "the Ray engine needs the 'ray' package, an optional extra: pip install 'walkout[ray]'"
        ) from None
    return ray


class RayWorker:
    """A Ray actor holding one worker's state (see :class:`RayEngine`)."""

    def __init__(self, setup: WorkerSetup):
        configure_worker(setup)
        self.state = setup.make_state(setup.state_arg)

    def pid(self) -> int:
        return os.getpid()

    def run(self, work: Work, task: Any) -> tuple[str, Any]:
        return _call(work, self.state, task, None)


class RayEngine:
    """Tasks on a Ray cluster: ``address`` None starts a local Ray instance (stopped at the end),
    ``"auto"`` or ``host:port`` joins a running one. ``workers`` None: one worker per cluster CPU.
    The outputs are written by the workers, so the output folder must be the same path on every node."""

    def __init__(
        self, setup: WorkerSetup, workers: int | None = None, address: str | None = None,
        max_tasks_per_worker: int = 8, retries: int = 1,
    ):
        self.setup = setup
        self.workers = workers
        self.address = address
        self.max_tasks = max_tasks_per_worker
        self.retries = retries

    def _connect(self, ray) -> bool:
        """Join or start Ray unless this process already did; True if we did (and so shut it down)."""
        if ray.is_initialized():
            return False
        try:
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(f"cannot reach the Ray cluster at {self.address or 'a new local instance'}: {exc}") from None
        return True

    def run(self, tasks: Sequence[Any], work: Work, on_progress: OnProgress | None = None) -> Iterator[Outcome]:
        ray = import_ray()
        started = self._connect(ray)
        actor_class = ray.remote(num_cpus=1, max_restarts=0)(RayWorker)
        size = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = max(1, min(size, len(tasks)))
        log.info("Ray: %d worker(s) on %s", size, ray.get_runtime_context().gcs_address)
        queue = deque(range(len(tasks)))
        attempts = [0] * len(tasks)
        idle: list[list] = []  # [actor, tasks served]
        running: dict[Any, tuple[list, int]] = {}
        try:
            while queue or running:
                while queue and len(running) < size:
                    slot = idle.pop() if idle else [actor_class.remote(self.setup), 0]
                    index = queue.popleft()
                    attempts[index] += 1
                    running[slot[0].run.remote(work, tasks[index])] = (slot, index)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                slot, index = running.pop(ref)
                try:
                    kind, value = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    if attempts[index] <= self.retries:
                        log.warning("Ray worker died running task %d; retrying it in a new worker", index)
                        queue.appendleft(index)
                    else:
                        yield Outcome(index, None, f"Ray worker died: {exc}", crashed=True, attempts=attempts[index])
                    continue
                except ray.exceptions.RayError as exc:
                    kind, value = "error", f"{type(exc).__name__}: {exc}"
                slot[1] += 1
                if slot[1] >= self.max_tasks:
                    ray.kill(slot[0])
                else:
                    idle.append(slot)
                if kind == "result":
                    yield Outcome(index, value, attempts=attempts[index])
                else:
                    yield Outcome(index, None, value, attempts=attempts[index])
        finally:
            for slot, _ in running.values():
                ray.kill(slot[0])
            for slot in idle:
                ray.kill(slot[0])
            if started:
                ray.shutdown()


def auto_workers(n_tasks: int, worker_memory_gb: float, cores: int | None = None) -> int:
    """Local workers when none are asked for: min(cores, tasks, physical memory / worker_memory_gb)."""
    limit = cores or available_cores()
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        limit = min(limit, int(memory_gb // worker_memory_gb))
    except (ValueError, OSError, AttributeError):
        pass
    return max(1, min(limit, n_tasks))
