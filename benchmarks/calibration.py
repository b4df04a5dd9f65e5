"""Calibration at scale: time and peak memory against n and d, beside the numpy floor.

Prints markdown tables:

(a) n sweep at d = 256 + 256: ``harbridge calibrate`` (from a saved file; the largest sets
    streamed through the Python API, generated shard by shard with no disk), the numpy
    floor (load + ``X.T @ X`` + ``eigh``; for streamed sets the same shards in float32
    chunks), and scikit-learn CCA where it finishes within a budget;
(b) d sweep at fixed n;
(c) the 2× check: ``harbridge calibrate`` as a whole process against the floor process at
    n = 200,000 pairs of 256 + 256 float32 features, interleaved, median of several runs;
(d) the subset check: the streamed solve against the in-memory one on the same pairs.

Every point runs in its own process. Time is wall-clock around the process; memory is its
peak resident set (``getrusage`` through ``wait4``), which counts memory-mapped file pages
it touched, and starts from this driver's own (about 60 MB: it never holds the data).
Both sides run under the same environment (BLAS threads and OpenBLAS variables as set when
this script starts).

Data: a latent mixture of 8 classes in k = 32 dimensions seen through two random linear
maps, each feature with noise (noise-to-signal 0.5), float32; sessions of 5,000 pairs
cycle over 100 subjects, so whole subjects are held out from 15,000 pairs on.

Run: ``python benchmarks/calibration.py [--quick] [--only n|d|check|subset] [--repeats 5]
[--check-auto]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["main"]

#: latent dimension, classes and subjects of the generated pairs
LATENT, CLASSES, SUBJECTS = 32, 8, 100
#: noise-to-signal ratio of every feature
NOISE = 0.5
#: rows per generated shard
SHARD_ROWS = 100_000
#: consecutive pairs of one subject (a recording session)
SESSION_ROWS = 5_000
#: labelled video rows for the Gaussian head
LABELED_ROWS = 2000
#: the sweeps give the rank: ``--rank auto`` adds a search whose cost does not grow with n
#: (it runs on the bounded sample of pairs), shown apart in table (c)
GIVEN_RANK = ("--rank", str(LATENT))

FULL = {
    "files": (10_000, 100_000, 1_000_000),
    "streamed": (3_000_000, 10_000_000),
    "dims": (64, 256, 1024, 2048),
    "d_sweep_n": 50_000,
    "check_n": 200_000,
    "subset_n": 1_000_000,
}
QUICK = {
    "files": (2_000, 20_000),
    "streamed": (200_000,),
    "dims": (64, 256),
    "d_sweep_n": 5_000,
    "check_n": 20_000,
    "subset_n": 50_000,
}

Float32Array = npt.NDArray[np.float32]


def _model(dim: int) -> tuple[Float32Array, Float32Array, Float32Array]:
    rng = np.random.default_rng([7, dim])
    means = (rng.normal(size=(CLASSES, LATENT)) * 3).astype(np.float32)
    maps = [rng.normal(size=(LATENT, dim)).astype(np.float32) / np.sqrt(LATENT) for _ in "vi"]
    return means, maps[0], maps[1]


def make_shard(
    index: int, dim: int, rows: int = SHARD_ROWS, seed: int = 0
) -> tuple[list[Float32Array], npt.NDArray[np.int64]]:
    """Shard ``index``: video and IMU features (rows, dim) and subjects, the same every call."""
    means, map_video, map_imu = _model(dim)
    rng = np.random.default_rng([seed, index])
    z = means[rng.integers(0, CLASSES, rows)] + rng.standard_normal((rows, LATENT), np.float32)
    views: list[Float32Array] = []
    for mapping, offset in ((map_video, 1.0), (map_imu, -1.0)):
        signal = np.asarray(z @ mapping, dtype=np.float32)
        signal += rng.standard_normal(signal.shape, np.float32) * np.float32(3 * NOISE)
        signal += np.float32(offset)
        views.append(signal)
    first = index * SHARD_ROWS
    return views, _subjects(np.arange(first, first + rows))


def _subjects(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Subject of each global row: sessions of ``SESSION_ROWS`` pairs, cycling over subjects."""
    return np.asarray((rows // SESSION_ROWS) % SUBJECTS, dtype=np.int64)


def _labeled(dim: int) -> tuple[Float32Array, npt.NDArray[np.int64]]:
    means, map_video, _ = _model(dim)
    rng = np.random.default_rng([1, dim])
    label = rng.integers(0, CLASSES, LABELED_ROWS)
    z = means[label] + rng.standard_normal((LABELED_ROWS, LATENT), np.float32)
    video = z @ map_video + rng.standard_normal((LABELED_ROWS, dim), np.float32) * 3 * NOISE
    return (video + 1).astype(np.float32), label


def _shard_sizes(n: int) -> list[int]:
    return [min(SHARD_ROWS, n - lo) for lo in range(0, n, SHARD_ROWS)]


def write_dataset(folder: Path, n: int, dim: int) -> tuple[Path, Path]:
    """PAIRS and LABELED files of ``n`` generated pairs (uncompressed npz)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [make_shard(i, dim, size) for i, size in enumerate(_shard_sizes(n))]
    pairs, labeled = folder / "pairs.npz", folder / "labeled.npz"
    np.savez(
        pairs,
        video=np.concatenate([p[0][0] for p in parts]),
        imu_features=np.concatenate([p[0][1] for p in parts]),
        subject=np.concatenate([p[1] for p in parts]),
    )
    video, label = _labeled(dim)
    names = np.array([f"class{c}" for c in range(CLASSES)])
    np.savez(labeled, video=video, label=label, class_names=names)
    return pairs, labeled


def _write(folder: Path, n: int, dim: int) -> tuple[Path, Path]:
    """:func:`write_dataset` in a process of its own.

    A child's peak resident set starts at its parent's (fork and exec carry it over), so
    this process never holds the data: it would show in every measurement.
    """
    measure(_worker("write", folder, n, dim))
    return folder / "pairs.npz", folder / "labeled.npz"


@dataclass(frozen=True)
class Run:
    """One measured process."""

    seconds: float
    peak_mb: float
    ok: bool
    output: str = ""


def measure(command: Sequence[str], timeout: float | None = None) -> Run:
    """Run ``command``; its wall time, peak resident set, and whether it finished in time."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                return Run(time.perf_counter() - started, usage.ru_maxrss / 1024, False)
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{err.read()}")
        return Run(seconds, usage.ru_maxrss / 1024, True, out.read())


def _worker(*args: object) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *map(str, args)]


def harbridge_cli(pairs: Path, labeled: Path, out: Path, *options: str) -> list[str]:
    """``harbridge calibrate`` on saved files, as a user runs it."""
    shutil.rmtree(out, ignore_errors=True)
    return [
        sys.executable,
        "-m",
        "harbridge",
        "calibrate",
        "--pairs",
        str(pairs),
        "--labeled",
        str(labeled),
        "--out",
        str(out),
        *options,
    ]


def _bundle_summary(bundle: Path) -> str:
    alignment = json.loads((bundle / "manifest.json").read_text())["alignment"]
    return f"{alignment['rank']} ({alignment['rank_choice']['method']})"


def _seconds(run: Run | None) -> str:
    if run is None:
        return "—"
    return f"{run.seconds:.2f}" if run.ok else f"> {run.seconds:.0f} (stopped)"


def _mb(run: Run | None) -> str:
    return f"{run.peak_mb:,.0f}" if run is not None and run.ok else "—"


def _ratio(ours: Run, floor: Run | None) -> str:
    return f"{ours.seconds / floor.seconds:.2f}" if floor is not None and floor.ok else "—"


def sweep_n(sizes: dict[str, Any], folder: Path, cca_budget: float) -> None:
    """Table (a): time and peak memory against n at d = 256 + 256."""
    print("### (a) Pairs n, at d = 256 + 256 (float32)\n")
    print(
        "|          n | source    | rank found | harbridge s | harbridge peak MB "
        "| numpy floor s | floor peak MB | harbridge / floor | sklearn CCA s | CCA peak MB |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    cca_alive = True
    for n in sizes["files"]:
        pairs, labeled = _write(folder / f"n{n}", n, 256)
        ours = measure(harbridge_cli(pairs, labeled, folder / "bundle", *GIVEN_RANK))
        rank = _bundle_summary(folder / "bundle")
        floor = measure(_worker("floor", pairs))
        cca = measure(_worker("cca", pairs), timeout=cca_budget) if cca_alive else None
        cca_alive = cca is not None and cca.ok
        print(
            f"| {n:>10,} | file      | {rank} | {_seconds(ours)} | {_mb(ours)} | "
            f"{_seconds(floor)} | {_mb(floor)} | {_ratio(ours, floor)} | {_seconds(cca)} | "
            f"{_mb(cca)} |",
            flush=True,
        )
        shutil.rmtree(folder / f"n{n}")
    for n in sizes["streamed"]:
        ours = measure(_worker("stream", n, 256, folder / "bundle"))
        floor = measure(_worker("floor-stream", n, 256))
        print(
            f"| {n:>10,} | generated | {ours.output.strip()} | {_seconds(ours)} | {_mb(ours)} | "
            f"{_seconds(floor)} | {_mb(floor)} | {_ratio(ours, floor)} | — | — |",
            flush=True,
        )
    print(
        "\n*file*: `harbridge calibrate` on a saved uncompressed npz against a process that "
        "loads it, stacks both modalities, and computes `X.T @ X` (float32) and `eigh`. "
        "*generated*: the Python API streams shards of 100,000 pairs generated on the fly "
        "(no disk) through `calibrate()`, then writes the bundle with its report; its floor "
        "generates the same shards and sums their float32 `X.T @ X`. Generation is in both "
        "times. CCA: `sklearn.cross_decomposition.CCA(n_components=32)`, stopped at the "
        "budget, and not run at larger n once stopped. The rank is given (`--rank 32`); "
        "`--rank auto` is timed in (c).\n"
    )


def sweep_d(sizes: dict[str, Any], folder: Path, cca_budget: float) -> None:
    """Table (b): time and peak memory against d at fixed n."""
    n = sizes["d_sweep_n"]
    print(f"### (b) Feature dimension d (each modality), at n = {n:,}\n")
    print(
        "| d_video + d_imu | rank found | harbridge s | harbridge peak MB | numpy floor s "
        "| floor peak MB | harbridge / floor | sklearn CCA s |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    cca_alive = True
    for dim in sizes["dims"]:
        pairs, labeled = _write(folder / f"d{dim}", n, dim)
        ours = measure(harbridge_cli(pairs, labeled, folder / "bundle", *GIVEN_RANK))
        rank = _bundle_summary(folder / "bundle")
        floor = measure(_worker("floor", pairs))
        cca = measure(_worker("cca", pairs), timeout=cca_budget) if cca_alive else None
        cca_alive = cca is not None and cca.ok
        print(
            f"| {dim} + {dim} | {rank} | {_seconds(ours)} | {_mb(ours)} | {_seconds(floor)} | "
            f"{_mb(floor)} | {_ratio(ours, floor)} | {_seconds(cca)} |",
            flush=True,
        )
        shutil.rmtree(folder / f"d{dim}")
    print()


def floor_check(
    sizes: dict[str, Any], folder: Path, repeats: int, auto_budget: float, with_auto: bool
) -> None:
    """Table (c): the whole ``harbridge calibrate`` process against the floor process."""
    n = sizes["check_n"]
    pairs, labeled = _write(folder / "check", n, 256)
    print(f"### (c) The 2× check: n = {n:,} pairs of 256 + 256 float32 features\n")
    floor_name = "numpy floor: load, X.T @ X, eigh"
    sides: dict[str, list[Run]] = {floor_name: []}
    commands = {floor_name: _worker("floor", pairs)}
    ranks = [GIVEN_RANK, ("--rank", "auto")] if with_auto else [GIVEN_RANK]
    for rank in ranks:
        name = f"harbridge calibrate {' '.join(rank)}"
        sides[name] = []
        commands[name] = harbridge_cli(pairs, labeled, folder / "bundle", *rank)
    chosen: dict[str, set[str]] = {name: set() for name in sides}
    measure(commands[floor_name])  # the first read of the file warms the page cache
    loads = []
    for _ in range(repeats):
        for name, command in commands.items():
            shutil.rmtree(folder / "bundle", ignore_errors=True)
            loads.append(os.getloadavg()[0])
            sides[name].append(measure(command))
            if name != floor_name:
                chosen[name].add(_bundle_summary(folder / "bundle"))
    print("| process | rank | runs (s) | median s | × floor | peak MB |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    floor = statistics.median(r.seconds for r in sides[floor_name])
    for name, runs in sides.items():
        times = ", ".join(f"{r.seconds:.2f}" for r in runs)
        middle = statistics.median(r.seconds for r in runs)
        peak = max(r.peak_mb for r in runs)
        found = ", ".join(sorted(chosen[name])) or "—"
        print(f"| {name} | {found} | {times} | {middle:.2f} | {middle / floor:.2f} | {peak:,.0f} |")
    data_mb = n * 512 * 4 / 2**20
    print(
        f"\nThe pairs are {data_mb:,.0f} MB. Runs interleaved (one of each process in turn), "
        "after one unmeasured floor run; 1-minute load average before each run "
        f"{min(loads):.1f} to {max(loads):.1f} (median {statistics.median(loads):.1f}). "
        "Where the time of one run goes, in-process, with the rank given and with "
        "`--rank auto` (a phase's time includes the phases it calls; \\* the first call "
        "only — the head and the rank search solve alignments of their own):\n"
    )
    phases = [("--rank 32", _phases(pairs, labeled, folder, GIVEN_RANK, None))]
    if auto_budget > 0:
        phases.append(("--rank auto", _phases(pairs, labeled, folder, (), auto_budget)))
    print("| phase | " + " | ".join(f"{name} s" for name, _ in phases) + " |")
    print("| --- |" + " ---: |" * len(phases))
    labels = dict.fromkeys(label for _, spent in phases for label in spent)
    for label in labels:
        cells = " | ".join(_cell(spent.get(label)) for _, spent in phases)
        print(f"| {label} | {cells} |")
    print()
    shutil.rmtree(folder / "check")


def _cell(value: float | str | None) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else f"{value:.2f}"


def _phases(
    pairs: Path, labeled: Path, folder: Path, options: Sequence[str], budget: float | None
) -> dict[str, Any]:
    run = measure(_worker("phases", pairs, labeled, folder / "bundle", *options), budget)
    if not run.ok:
        return {"whole process": f"> {budget:.0f} (stopped)"}
    spent: dict[str, Any] = json.loads(run.output)
    spent["whole process"] = run.seconds
    return spent


#: what the phase breakdown times: (module, attribute, label); nested phases are in their
#: parents' times too
PHASES = (
    ("harbridge.calibration.calibrate", "accumulate_pairs", "one pass over the pairs"),
    ("harbridge.calibration.alignment", "PerfectAlignment._solve", "solve from the moments*"),
    ("harbridge.calibration.calibrate", "_transfer_rank", "transfer rank search (sample)"),
    ("harbridge.calibration.calibrate", "_gaussian_head", "Gaussian head (sample, labelled)"),
    (
        "harbridge.calibration.report_process",
        "ReportProcess.render",
        "report.html (waiting for the helper)",
    ),
    ("harbridge.calibration.bundle", "write_bundle", "write the bundle"),
)


def _run_phases(pairs: str, labeled: str, out: str, *options: str) -> None:
    import importlib

    from harbridge.cli import main as cli

    spent: dict[str, float] = {}
    for module_name, attribute, label in PHASES:
        module: Any = importlib.import_module(module_name)
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        setattr(owner, name, _timed(getattr(owner, name), label, spent))
    begun = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        sys.stdout = quiet
        cli(["calibrate", "--pairs", pairs, "--labeled", labeled, "--out", out, *options])
        sys.stdout = sys.__stdout__
    spent["whole command (after imports)"] = time.perf_counter() - begun
    print(json.dumps(spent))


def _timed(function: Any, label: str, spent: dict[str, float]) -> Any:
    """``function``, adding its time to ``spent[label]`` (the first call only for ``…*``)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if not (label.endswith("*") and label in spent):
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - begun

    return timed


def subset_check(sizes: dict[str, Any]) -> None:
    """Table (d): streamed against in-memory solve on the same pairs."""
    n = sizes["subset_n"]
    run = measure(_worker("subset", n, 256))
    result = json.loads(run.output)
    print(f"### (d) Streamed against in-memory solve, n = {n:,} pairs of 256 + 256\n")
    print("| quantity | streamed against in memory |")
    print("| --- | ---: |")
    for key, value in result.items():
        print(f"| {key} | {value if isinstance(value, str) else f'{value:.1e}'} |")
    print(
        "\nRelative differences: largest absolute difference over the largest magnitude. "
        "Streamed: shards of 100,000 pairs generated on the fly; in memory: the same pairs "
        "as two arrays.\n"
    )


def _run_write(folder: str, n: int, dim: int) -> None:
    write_dataset(Path(folder), n, dim)


def _run_floor(pairs: str) -> None:
    data = np.load(pairs)
    X = np.hstack([data["video"], data["imu_features"]])
    np.linalg.eigh(X.T @ X)


def _run_floor_stream(n: int, dim: int) -> None:
    gram = np.zeros((2 * dim, 2 * dim), dtype=np.float32)
    for i, size in enumerate(_shard_sizes(n)):
        (video, imu), _ = make_shard(i, dim, size)
        X = np.hstack([video, imu])
        gram += X.T @ X
    np.linalg.eigh(gram)


def _run_cca(pairs: str) -> None:
    from sklearn.cross_decomposition import CCA

    data = np.load(pairs)
    CCA(n_components=LATENT).fit(data["video"], data["imu_features"])


def _stream_source(n: int, dim: int) -> Any:
    from harbridge.calibration.shards import GeneratedPairs

    sizes = _shard_sizes(n)

    return GeneratedPairs(
        partial(_generated_shard, dim=dim, sizes=tuple(sizes)),
        tuple(sizes),
        (dim, dim),
        subjects=np.unique(_subjects(np.arange(0, n, SESSION_ROWS))),
    )


def _generated_shard(
    index: int, dim: int, sizes: tuple[int, ...]
) -> tuple[list[Float32Array], npt.NDArray[np.int64]]:
    return make_shard(index, dim, sizes[index])


def _run_stream(n: int, dim: int, out: str) -> None:
    from harbridge.calibration.bundle import write_bundle
    from harbridge.calibration.calibrate import REPORT_DATA, CalibrationOptions, calibrate
    from harbridge.calibration.dataset import LabeledVideo
    from harbridge.calibration.imu_features import ImuFeatureSource
    from harbridge.calibration.report import build_report

    video, label = _labeled(dim)
    names = tuple(f"class{c}" for c in range(CLASSES))
    labeled = LabeledVideo(Path("labeled"), video, label, names)
    encoder = ImuFeatureSource(None, entry={"input": "imu_features", "feature_dim": dim})
    options = CalibrationOptions(rank=LATENT)
    files, manifest = calibrate(_stream_source(n, dim), labeled, None, encoder, options)
    files["report.html"] = build_report(manifest, json.loads(files[REPORT_DATA]), None)
    shutil.rmtree(out, ignore_errors=True)
    write_bundle(out, files, manifest)
    alignment = manifest["alignment"]
    print(f"{alignment['rank']} ({alignment['rank_choice']['method']})")


def _run_subset(n: int, dim: int) -> None:
    from harbridge.calibration.alignment import PerfectAlignment

    source = _stream_source(n, dim)
    parts = [make_shard(i, dim, size) for i, size in enumerate(_shard_sizes(n))]
    views = [np.concatenate([p[0][m] for p in parts]) for m in range(2)]
    subject = np.concatenate([p[1] for p in parts])
    streamed = PerfectAlignment().fit_source(source)
    in_memory = PerfectAlignment().fit(views, subject=subject)
    k = min(streamed.rank_, in_memory.rank_)

    def worst(a: Any, b: Any) -> float:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

    print(
        json.dumps(
            {
                "rank (rank choice)": f"{streamed.rank_} ({streamed.rank_choice_.method}) / "
                f"{in_memory.rank_} ({in_memory.rank_choice_.method})",
                "singular values": worst(streamed.singular_values_, in_memory.singular_values_),
                "components U_k": worst(streamed.components_[:, :k], in_memory.components_[:, :k]),
                "IMU encoder weights": worst(streamed.affine(1)[0], in_memory.affine(1)[0]),
                "rel_CMAE held-out": worst(
                    streamed.metrics_.rel_cmae_holdout, in_memory.metrics_.rel_cmae_holdout
                ),
            }
        )
    )


def _environment() -> str:
    blas = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL"))}
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start; Python {platform.python_version()}, numpy "
        f"{np.__version__}; BLAS environment {blas or 'unset'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--cca-budget", type=float, default=90.0, help="seconds per CCA fit")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each side in (c)")
    parser.add_argument(
        "--auto-budget",
        type=float,
        default=120.0,
        help="seconds for the one --rank auto run in (c); 0 skips it",
    )
    parser.add_argument(
        "--check-auto",
        action="store_true",
        help="(c) also times `harbridge calibrate --rank auto`, interleaved with the others",
    )
    parser.add_argument(
        "--only", choices=("n", "d", "check", "subset"), help="one table instead of all"
    )
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        workers = {
            "floor": lambda: _run_floor(rest[0]),
            "floor-stream": lambda: _run_floor_stream(int(rest[0]), int(rest[1])),
            "cca": lambda: _run_cca(rest[0]),
            "stream": lambda: _run_stream(int(rest[0]), int(rest[1]), rest[2]),
            "subset": lambda: _run_subset(int(rest[0]), int(rest[1])),
            "phases": lambda: _run_phases(*rest),
            "write": lambda: _run_write(rest[0], int(rest[1]), int(rest[2])),
        }
        workers[kind]()
        return 0
    sizes = QUICK if args.quick else FULL
    print(f"Calibration at scale — {_environment()}\n", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="harbridge-bench-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "check"):
            floor_check(sizes, folder, args.repeats, args.auto_budget, args.check_auto)
        if args.only in (None, "n"):
            sweep_n(sizes, folder, args.cca_budget)
        if args.only in (None, "d"):
            sweep_d(sizes, folder, args.cca_budget)
        if args.only in (None, "subset"):
            subset_check(sizes)
    print(f"Total {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
