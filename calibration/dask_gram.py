"""Calibration on a Dask cluster: partial moments per partition, summed by Dask (DESIGN §6).

Every partition of the pairs — a shard, or a block of rows — becomes one task that streams
it into partial moments where it runs, so the data are read by the workers, not shipped
through this process. A tree of merge tasks then sums the partials with the exact pairwise
(Chan) update; only D × D matrices and a bounded sample travel. The cluster is a running
scheduler (``--scheduler tcp://host:8786``) or a ``LocalCluster`` started for the call.

Dask is optional (``pip install 'harbridge[dask]'``) and imported only here. Workers need
harbridge installed, and for shard files the same paths visible (a shared filesystem).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harbridge.calibration.gram import MomentSpec, PairMoments
from harbridge.calibration.shards import PairSource, Progress, accumulate_partition
from harbridge.calibration.split import PairSplit
from harbridge.errors import InputError

__all__ = ["SCHEDULER_TIMEOUT", "dask_accumulate", "merged"]

#: how long to try reaching a scheduler given by address
SCHEDULER_TIMEOUT = "10s"


def merged(first: PairMoments, second: PairMoments) -> PairMoments:
    """New moments holding both partials (neither is modified: Dask may reuse its inputs)."""
    total = first.spec.empty()
    total.merge(first)
    total.merge(second)
    return total


def dask_accumulate(
    source: PairSource,
    split: PairSplit,
    spec: MomentSpec,
    progress: Progress | None = None,
    *,
    scheduler: str | None = None,
) -> PairMoments:
    """Read every pair once on a Dask cluster into the moments of the solve.

    A drop-in for :func:`harbridge.calibration.shards.accumulate_pairs`.

    Parameters
    ----------
    source : PairSource
        Its partitions are pickled to the workers (shard paths, generator functions, or
        blocks of in-memory arrays).
    split : PairSplit
    spec : MomentSpec
    progress : callable, optional
        Called with (pairs read, pairs in all) as partitions finish.
    scheduler : str, optional
        Address of a running scheduler; None starts a ``LocalCluster`` of one
        single-threaded worker process per CPU core for this call.

    Raises
    ------
    InputError
        Dask is not installed, or the scheduler cannot be reached.
    """
    try:
        distributed = _distributed()
    except ImportError as exc:
        raise InputError(
            "--engine",
            "dask",
            "needs Dask's distributed scheduler; install it with "
            "pip install 'harbridge[dask]' (or pip install 'dask[distributed]').",
        ) from exc
    partitions = list(source.partitions())
    with _client(distributed, scheduler) as client:
        futures = [
            client.submit(accumulate_partition, partition, split, spec, pure=False)
            for partition in partitions
        ]
        total = _tree_sum(client, futures)
        sizes = {
            future.key: partition.size
            for future, partition in zip(futures, partitions, strict=True)
        }
        done = 0
        for future in distributed.as_completed(futures):
            done += sizes[future.key]
            if progress is not None:
                progress(done, source.n_pairs)
        result: PairMoments = total.result()
        return result


def _distributed() -> Any:
    # Imported by name: the optional dependency may be absent (and is only partly typed).
    return importlib.import_module("distributed")


def _tree_sum(client: Any, futures: list[Any]) -> Any:
    """One future of all partials merged pairwise, in partition order (log depth)."""
    level = futures
    while len(level) > 1:
        level = [
            client.submit(merged, level[i], level[i + 1], pure=False)
            if i + 1 < len(level)
            else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


@contextmanager
def _client(distributed: Any, scheduler: str | None) -> Iterator[Any]:
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except OSError as exc:
            raise InputError(
                "--scheduler",
                scheduler,
                f"cannot reach the Dask scheduler ({exc}); check the address (tcp://host:8786) "
                "and that the scheduler runs.",
            ) from exc
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            # any free port: another cluster on this machine may hold the default 8787
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
