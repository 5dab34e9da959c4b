"""Executors put grid stages on machines: Ray (a cluster, or a local Ray on this box) or local processes.

The driver knows only the `Executor` interface: `submit(task) -> handle`, `wait(timeout)` (start
events and finished outcomes since the last call), `cluster()` (nodes and resources, for the
view and MLflow tags) and `shutdown(cancel=)`. A SLURM backend (submitit) is one more class here.

Retries belong to the executor: Ray re-runs a task whose worker process or node died (and one
whose command was killed by a signal, `WorkerDied`) up to max_retries times; the local executor
does the same for a crashed process pool. A stage whose command fails (`StageFailed`) is never
retried: it comes back as an outcome with its error.
"""

from __future__ import annotations

import os
import socket
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from erbench.errors import UserInputError
from erbench.grid.worker import RunResult, StageFailed, StageTask, WorkerDied, run_stage
from erbench.runtime import usable_cpus


@dataclass
class Outcome:
    """A finished stage: its result, or its error (and the end of its command's output)."""

    name: str
    result: RunResult | None = None
    error: str | None = None
    log: str = ""
    attempts: int = 1


@dataclass
class Started:
    name: str
    node: dict


class Executor(ABC):
    kind = "?"

    @abstractmethod
    def submit(self, task: StageTask):
        """Queue one stage; returns the executor's handle for it."""

    @abstractmethod
    def wait(self, timeout: float) -> tuple[list[Started], list[Outcome]]:
        """Block up to TIMEOUT seconds; return what started and what finished since the last call."""

    @abstractmethod
    def cluster(self) -> dict:
        """{'nodes': [{'host', 'ip', 'node_id', 'CPU', 'GPU'}], 'resources': {'CPU': n, 'GPU': n}}."""

    @abstractmethod
    def shutdown(self, cancel: bool = False) -> None:
        """Release the executor; with CANCEL, stop the stages still running."""

    note = ""  # one line about scheduling decisions (e.g. "no GPUs in the cluster: runs on CPU")


def _error_outcome(name: str, exc: BaseException, attempts: int) -> Outcome:
    if isinstance(exc, StageFailed):
        return Outcome(name, error=exc.message, log=exc.log, attempts=attempts)
    if isinstance(exc, WorkerDied):
        return Outcome(name, error=f"{exc} (no retries left)", attempts=attempts)
    first = (str(exc).strip().splitlines() or [""])[0]
    return Outcome(name, error=f"{name}: {type(exc).__name__}: {first}", attempts=attempts)


# --- Ray -----------------------------------------------------------------------------------------

def _ray_node() -> dict:
    import ray

    return {"host": socket.gethostname(), "ip": ray.util.get_node_ip_address(),
            "node_id": ray.get_runtime_context().get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()]}


def _ray_task(fn: Callable, task: StageTask, events) -> RunResult:
    return fn(task, _ray_node(), lambda event: events.started.remote(event))


class _Events:
    """A zero-CPU actor on the driver's node that collects 'started' events from workers."""

    def __init__(self):
        self.events: list[dict] = []

    def started(self, event: dict) -> None:
        self.events.append(event)

    def drain(self) -> list[dict]:
        events, self.events = self.events, []
        return events


class RayExecutor(Executor):
    """One Ray task per stage: `num_cpus`/`num_gpus` from the flags, spread over the nodes."""

    kind = "ray"

    def __init__(self, *, address: str | None, cpus_per_run: float = 1, gpus_per_run: float | None = None,
                 max_retries: int = 3, local_cpus: int | None = None, fn: Callable = run_stage):
        if address is None:
            # A local Ray for this machine only: every service on the loopback interface. Ray reads this
            # variable at import; without it Ray advertises (and connects through) the machine's address.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._ray = ray
        if address is None:
            ray.init(num_cpus=local_cpus or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, _node_ip_address="127.0.0.1")
        else:
            ray.init(address=address, log_to_driver=False)
        self.address = address or "local"
        gpus = self.cluster()["resources"].get("GPU", 0)
        if gpus_per_run is None:
            gpus_per_run = 1 if gpus else 0
        elif gpus_per_run and not gpus:
            self.note = f"the cluster has no GPUs: --gpus-per-run {gpus_per_run} ignored, runs use CPUs"
            gpus_per_run = 0
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, gpus_per_run
        here = ray.get_runtime_context().get_node_id()
        self._events = ray.remote(num_cpus=0)(_Events).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
        self._remote = ray.remote(_ray_task).options(
            num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries, retry_exceptions=[WorkerDied],
            scheduling_strategy="SPREAD")
        self._fn = fn
        self._pending: dict = {}
        self._attempts: Counter = Counter()

    def submit(self, task: StageTask):
        ref = self._remote.remote(self._fn, task, self._events)
        self._pending[ref] = task.name
        return ref

    def _drain(self) -> list[Started]:
        events = self._ray.get(self._events.drain.remote())
        for event in events:
            self._attempts[event["stage"]] += 1
        return [Started(e["stage"], e["node"]) for e in events]

    def wait(self, timeout: float) -> tuple[list[Started], list[Outcome]]:
        ray = self._ray
        refs = list(self._pending)
        ready = ray.wait(refs, num_returns=len(refs), timeout=timeout)[0] if refs else []
        started = self._drain()
        outcomes = []
        for ref in ready:
            name = self._pending.pop(ref)
            attempts = max(1, self._attempts[name])
            try:
                outcomes.append(Outcome(name, result=ray.get(ref), attempts=attempts))
            except ray.exceptions.RayTaskError as exc:
                outcomes.append(_error_outcome(name, getattr(exc, "cause", None) or exc, attempts))
            except ray.exceptions.RayError as exc:
                outcomes.append(_error_outcome(name, exc, attempts))
        return started, outcomes

    def cluster(self) -> dict:
        nodes = [{"host": n.get("NodeManagerHostname", ""), "ip": n.get("NodeManagerAddress", ""),
                  "node_id": n["NodeID"], "CPU": n["Resources"].get("CPU", 0), "GPU": n["Resources"].get("GPU", 0)}
                 for n in self._ray.nodes() if n.get("Alive")]
        resources = {k: v for k, v in self._ray.cluster_resources().items() if k in ("CPU", "GPU")}
        return {"nodes": nodes, "resources": resources, "address": self.address}

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for ref in list(self._pending):
                self._ray.cancel(ref, force=True)
        self._ray.shutdown()


# --- local processes -----------------------------------------------------------------------------

_local_events = None


def _local_init(queue) -> None:
    global _local_events
    _local_events = queue


def _local_task(fn: Callable, task: StageTask) -> RunResult:
    node = {"host": socket.gethostname(), "ip": "127.0.0.1", "node_id": "local", "gpus": []}
    return fn(task, node, _local_events.put)


class LocalExecutor(Executor):
    """Stages as processes on this machine (concurrent.futures), WORKERS at a time: a better `dvc queue`."""

    kind = "local"

    def __init__(self, *, workers: int | None = None, cpus_per_run: int = 1, max_retries: int = 3,
                 fn: Callable = run_stage):
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")  # the driver has threads: never fork it
        self.workers = workers or max(1, usable_cpus() // max(1, int(cpus_per_run)))
        self.cpus_per_run, self.max_retries, self._fn = cpus_per_run, max_retries, fn
        self._queue = self._ctx.Queue()
        self._pool = self._new_pool()
        self._pending: dict = {}  # future -> task
        self._attempts: Counter = Counter()

    def _new_pool(self):
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_local_init,
                                   initargs=(self._queue,))

    def submit(self, task: StageTask):
        future = self._pool.submit(_local_task, self._fn, task)
        self._pending[future] = task
        self._attempts[task.name] += 1
        return future

    def _drain(self) -> list[Started]:
        import queue

        started = []
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return started
            started.append(Started(event["stage"], event["node"]))

    def wait(self, timeout: float) -> tuple[list[Started], list[Outcome]]:
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures
        from concurrent.futures.process import BrokenProcessPool

        done = wait_futures(list(self._pending), timeout=timeout, return_when=FIRST_COMPLETED)[0]
        started = self._drain()
        outcomes, retry = [], []
        for future in done:
            task = self._pending.pop(future)
            attempts = self._attempts[task.name]
            try:
                outcomes.append(Outcome(task.name, result=future.result(), attempts=attempts))
            except (WorkerDied, BrokenProcessPool) as exc:
                if attempts <= self.max_retries:
                    retry.append(task)
                else:
                    outcomes.append(_error_outcome(task.name, WorkerDied(f"{task.name}: {exc}"), attempts))
            except Exception as exc:  # noqa: BLE001 - every other failure is the stage's, reported
                outcomes.append(_error_outcome(task.name, exc, attempts))
        if retry:
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done if f.done()):
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            for task in retry:
                self.submit(task)
        return started, outcomes

    def cluster(self) -> dict:
        cpus = os.cpu_count() or 1
        node = {"host": socket.gethostname(), "ip": "127.0.0.1", "node_id": "local", "CPU": cpus, "GPU": 0}
        return {"nodes": [node], "resources": {"CPU": cpus}, "address": "local processes"}

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()  # their commands die with them (PR_SET_PDEATHSIG)
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def make_executor(engine: str, *, address: str | None, cpus_per_run: float, gpus_per_run: float | None,
                  max_retries: int, workers: int | None, fn: Callable = run_stage) -> Executor:
    if engine == "local":
        if address:
            raise UserInputError("--address: only with --engine ray")
        threads, cpus = max(1, int(cpus_per_run)), usable_cpus()
        if workers and workers * threads > cpus:  # oversubscribed threads wait for each other's cores
            raise UserInputError(f"--workers {workers} x --cpus-per-run {threads} = {workers * threads} threads, "
                                 f"more than the {cpus} CPUs this process may use: lower --workers to "
                                 f"{max(1, cpus // threads)}")
        executor = LocalExecutor(workers=workers, cpus_per_run=int(cpus_per_run), max_retries=max_retries, fn=fn)
        if gpus_per_run:
            executor.note = "--engine local does not schedule GPUs (--gpus-per-run ignored): use --engine ray"
        return executor
    if engine == "ray":
        return RayExecutor(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                           max_retries=max_retries, local_cpus=workers and int(workers * cpus_per_run), fn=fn)
    raise UserInputError(f"--engine: unknown engine '{engine}' (valid: ray, local)")
