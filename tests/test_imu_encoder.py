"""The built-in IMU feature encoder: ONNX graph equals numpy twin, and the features mean what
their names say at any rate, window and channel set."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from harbridge.models.imu_bands import band_fractions, hann_window, periodogram_scale
from harbridge.models.imu_encoder import INPUT_NAME, OUTPUT_NAME, build_imu_encoder
from harbridge.models.imu_features import encode_imu
from harbridge.models.imu_spec import (
    DEFAULT_BANDS_HZ,
    FEATURE_GROUPS,
    ImuEncoderSpec,
    Triad,
    active_bands,
    feature_names,
    find_triads,
)

SIX = ("ax", "ay", "az", "gx", "gy", "gz")
NINE = (*SIX, "mx", "my", "mz")

# ONNX (float32) against the float64 twin, on data of IMU scale.
TWIN_RTOL = 1e-5
TWIN_ATOL = 1e-5


def imu_like(
    rng: np.random.Generator, n: int, rate: float, window: int, channels: tuple[str, ...]
) -> npt.NDArray[np.float32]:
    """Windows that look like body-worn IMU data: an offset (gravity), a few motion tones
    between 0.3 and 8 Hz, and sensor noise."""
    t = np.arange(window) / rate
    x = np.empty((n, window, len(channels)))
    for c in range(len(channels)):
        offset = rng.normal(0.0, 5.0, size=(n, 1))
        freqs = rng.uniform(0.3, min(8.0, 0.45 * rate), size=(n, 1, 3))
        amps = rng.uniform(0.2, 2.0, size=(n, 1, 3))
        phases = rng.uniform(0.0, 2 * np.pi, size=(n, 1, 3))
        tones = np.sum(amps * np.sin(2 * np.pi * freqs * t[None, :, None] + phases), axis=2)
        x[:, :, c] = offset + tones + rng.normal(0.0, 0.05, size=(n, window))
    return x.astype(np.float32)


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run_onnx(spec: ImuEncoderSpec, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = session(build_imu_encoder(spec)).run(
        [OUTPUT_NAME], {INPUT_NAME: windows}
    )[0]
    return out


def assert_every_node_is_used(model: onnx.ModelProto) -> None:
    """No node computes something that nothing reads, no constant is left unread
    (switched-off groups cost nothing)."""
    read = {name for node in model.graph.node for name in node.input}
    read |= {out.name for out in model.graph.output}
    for node in model.graph.node:
        assert set(node.output) <= read, node.name
    for constant in model.graph.initializer:
        assert constant.name in read, constant.name


def random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize(
    ("rate", "window", "channels"),
    [
        (50.0, 128, SIX),
        (10.0, 100, ("gx", "gy", "gz")),
        (200.0, 16, ("x",)),
        (100.0, 256, NINE),
        (25.0, 75, ("acc_x", "acc_y", "acc_z", "pressure")),
    ],
)
def test_onnx_equals_numpy_twin(rate: float, window: int, channels: tuple[str, ...]) -> None:
    spec = ImuEncoderSpec(rate, window, channels)
    windows = imu_like(np.random.default_rng(0), 32, rate, window, channels)
    expected = encode_imu(windows, spec)
    actual = run_onnx(spec, windows)
    assert actual.shape == (32, len(feature_names(spec)))
    assert_allclose(actual, expected, rtol=TWIN_RTOL, atol=TWIN_ATOL)


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_each_group_can_be_switched_off(group: str) -> None:
    full = ImuEncoderSpec(50.0, 128, SIX)
    switch: dict[str, Any] = {group: False}
    spec = dataclasses.replace(full, **switch)
    windows = imu_like(np.random.default_rng(1), 8, 50.0, 128, SIX)
    names = feature_names(spec)
    assert_every_node_is_used(build_imu_encoder(spec))
    actual = run_onnx(spec, windows)
    assert actual.shape == (8, len(names))
    assert_allclose(actual, encode_imu(windows, spec), rtol=TWIN_RTOL, atol=TWIN_ATOL)
    # The remaining features are exactly the full encoder's features of the same name.
    full_names = feature_names(full)
    assert set(names) < set(full_names)
    columns = [full_names.index(name) for name in names]
    assert_allclose(actual, encode_imu(windows, full)[:, columns], rtol=TWIN_RTOL, atol=TWIN_ATOL)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ({"axes": False}, ["acc_mag.mean", "gyro_mag.band_12-20Hz", "corr.gy_gz"]),
        ({"axes": False, "correlation": False}, ["acc_mag.mean", "gyro_mag.max"]),
        ({"time_stats": False, "band_energy": False}, ["corr.ax_ay", "corr.gy_gz"]),
        ({"axes": False, "magnitude": False}, ["corr.ax_ay", "corr.ax_az"]),
    ],
)
def test_group_combinations(groups: dict[str, Any], expected: list[str]) -> None:
    spec = ImuEncoderSpec(50.0, 128, SIX, **groups)
    names = feature_names(spec)
    assert all(name in names for name in expected)
    assert_every_node_is_used(build_imu_encoder(spec))
    windows = imu_like(np.random.default_rng(2), 8, 50.0, 128, SIX)
    assert_allclose(
        run_onnx(spec, windows), encode_imu(windows, spec), rtol=TWIN_RTOL, atol=TWIN_ATOL
    )


@settings(max_examples=15, deadline=None)
@given(
    rate=st.sampled_from([5.0, 10.0, 20.0, 33.3, 50.0, 100.0, 400.0]),
    window=st.integers(16, 300),
    channels=st.lists(st.sampled_from(NINE), min_size=1, max_size=9, unique=True),
    seed=st.integers(0, 2**16),
)
def test_any_rate_window_and_channels(
    rate: float, window: int, channels: list[str], seed: int
) -> None:
    spec = ImuEncoderSpec(rate, window, tuple(channels))
    windows = imu_like(np.random.default_rng(seed), 4, rate, window, spec.channels)
    actual = run_onnx(spec, windows)
    assert actual.shape == (4, len(feature_names(spec)))
    assert_allclose(actual, encode_imu(windows, spec), rtol=TWIN_RTOL, atol=TWIN_ATOL)


def test_same_spec_builds_identical_bytes() -> None:
    first = build_imu_encoder(ImuEncoderSpec(50.0, 128, SIX)).SerializeToString()
    assert build_imu_encoder(ImuEncoderSpec(50.0, 128, SIX)).SerializeToString() == first
    # The same settings read from a dataset file (numpy scalars and strings) are the same spec.
    from_file = ImuEncoderSpec(np.float32(50.0), np.int64(128), tuple(np.array(SIX)))  # type: ignore[arg-type]
    assert from_file == ImuEncoderSpec(50.0, 128, SIX)
    assert build_imu_encoder(from_file).SerializeToString() == first
    other = build_imu_encoder(ImuEncoderSpec(50.0, 129, SIX)).SerializeToString()
    assert other != first


def test_graph_interface() -> None:
    spec = ImuEncoderSpec(50.0, 128, SIX)
    model = build_imu_encoder(spec)
    onnx.checker.check_model(model, full_check=True)
    (inp,) = model.graph.input
    (out,) = model.graph.output
    assert inp.name == "imu"
    assert out.name == "imu_features"
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["N", 128, 6]
    assert out_dims == ["N", 110]
    # One window a call costs about half a microsecond per node: keep the graph small.
    assert len(model.graph.node) <= 23
    assert_every_node_is_used(model)
    props = {p.key: p.value for p in model.metadata_props}
    assert '"ax.mean"' in props["harbridge.imu_encoder.feature_names"]


def test_batch_rows_are_independent() -> None:
    spec = ImuEncoderSpec(50.0, 128, SIX)
    windows = imu_like(np.random.default_rng(3), 7, 50.0, 128, SIX)
    encoder = session(build_imu_encoder(spec))
    together = encoder.run(None, {INPUT_NAME: windows})[0]
    one_by_one = np.concatenate([encoder.run(None, {INPUT_NAME: w[None]})[0] for w in windows])
    assert_allclose(together, one_by_one, rtol=1e-6, atol=1e-6)
    empty = encoder.run(None, {INPUT_NAME: windows[:0]})[0]
    assert empty.shape == (0, len(feature_names(spec)))


@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_bands_mean_the_same_in_hz_at_10_and_200_hz(encode: str) -> None:
    # 10 s of a 2.5 Hz tone of amplitude 1.5, seen at 10 Hz and at 200 Hz.
    features = {}
    for rate in (10.0, 200.0):
        window = int(10 * rate)
        spec = ImuEncoderSpec(rate, window, ("x",))
        t = np.arange(window) / rate
        x = (1.5 * np.sin(2 * np.pi * 2.5 * t + 0.3))[None, :, None].astype(np.float32)
        out = encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x)
        features[rate] = dict(zip(feature_names(spec), out[0], strict=True))
    bands = [f"x.band_{lo:g}-{hi:g}Hz" for lo, hi in DEFAULT_BANDS_HZ]
    for rate, named in features.items():
        energies = {band: named[band] for band in bands if band in named}
        assert max(energies, key=energies.__getitem__) == "x.band_2-3Hz", rate
        # The band holds the tone's mean square A²/2.
        assert_allclose(named["x.band_2-3Hz"], np.log(1.5**2 / 2), atol=1e-3)
    # The bands both rates have (up to 5 Hz) agree; 10 Hz has no band above its Nyquist.
    assert "x.band_5-8Hz" not in features[10.0]
    for band in bands[:5]:
        assert_allclose(features[10.0][band], features[200.0][band], atol=1e-3)


@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_stats_of_a_tone(encode: str) -> None:
    # 3 whole periods of a 1.5 Hz tone of amplitude 2 around 3, at 200 Hz.
    rate, window, amplitude, freq = 200.0, 400, 2.0, 1.5
    t = np.arange(window) / rate
    x = (3.0 + amplitude * np.sin(2 * np.pi * freq * t))[None, :, None].astype(np.float32)
    spec = ImuEncoderSpec(rate, window, ("x",))
    out = encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x)
    named = dict(zip(feature_names(spec), out[0], strict=True))
    assert_allclose(named["x.mean"], 3.0, atol=1e-5)
    assert_allclose([named["x.min"], named["x.max"]], [1.0, 5.0], atol=1e-3)
    # Mean square A²/2. The taper spreads the tone's power over f and f ± Δf (Δf = 0.5 Hz)
    # as 4/6, 1/6, 1/6, so the derivative's mean square is (2πA)²/2 (f² + Δf²/3); the first
    # difference's gain is within 1e-4 of 2πf at these frequencies.
    assert_allclose(named["x.energy"], np.log(amplitude**2 / 2), atol=1e-4)
    spread = freq**2 + (rate / window) ** 2 / 3
    assert_allclose(
        named["x.jerk_energy"], np.log((2 * np.pi * amplitude) ** 2 / 2 * spread), atol=1e-3
    )
    # 1-2 Hz holds the centre bin and half the cells of the bins at 1 and 2 Hz: 5/6.
    assert_allclose(named["x.band_1-2Hz"], named["x.energy"] + np.log(5 / 6), atol=1e-4)


@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_energy_counts_overlapping_bands_once(encode: str) -> None:
    x = imu_like(np.random.default_rng(6), 4, 50.0, 128, ("x",))
    overlapping = ImuEncoderSpec(50.0, 128, ("x",), bands_hz=((0.0, 2.0), (1.0, 3.0)))
    merged = ImuEncoderSpec(50.0, 128, ("x",), bands_hz=((0.0, 3.0),))

    def energy(spec: ImuEncoderSpec) -> npt.NDArray[np.float32]:
        out = encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x)
        return out[:, feature_names(spec).index("x.energy")]

    assert_allclose(energy(overlapping), energy(merged), rtol=1e-5)


@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_correlation_of_related_axes(encode: str) -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(size=(5, 64))
    x = np.stack([base, -2.0 * base + 9.81, rng.normal(size=(5, 64))], axis=2)
    spec = ImuEncoderSpec(50.0, 64, ("ax", "ay", "az"))
    out = encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x.astype(np.float32))
    named = dict(zip(feature_names(spec), out.T, strict=True))
    assert_allclose(named["corr.ax_ay"], -1.0, atol=1e-5)
    # Two tones of one frequency correlate as the cosine of their phase difference; tones
    # three bins or more apart do not correlate (the Hann taper spreads a tone over ±1 bin).
    t = np.arange(128) / 50.0
    phase = np.array([0.0, 1.0, 2.0])[:, None]
    tones = np.stack(
        [
            np.sin(2 * np.pi * 1.5625 * t + 0 * phase),
            np.sin(2 * np.pi * 1.5625 * t + phase),
            np.sin(2 * np.pi * 3.90625 * t + 0 * phase),
        ],
        axis=2,
    )
    spec = ImuEncoderSpec(50.0, 128, ("ax", "ay", "az"))
    out = encode_imu(tones, spec) if encode == "numpy" else run_onnx(spec, tones.astype(np.float32))
    named = dict(zip(feature_names(spec), out.T, strict=True))
    assert_allclose(named["corr.ax_ay"], np.cos(phase[:, 0]), atol=1e-5)
    assert_allclose(named["corr.ax_az"], 0.0, atol=1e-5)


@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_magnitude_features_do_not_change_with_sensor_rotation(encode: str) -> None:
    rng = np.random.default_rng(5)
    spec = ImuEncoderSpec(50.0, 128, SIX)
    windows = imu_like(rng, 16, 50.0, 128, SIX)
    rotation = random_rotation(rng)
    rotated = windows.astype(np.float64)
    rotated[:, :, 0:3] = rotated[:, :, 0:3] @ rotation.T
    rotated[:, :, 3:6] = rotated[:, :, 3:6] @ rotation.T
    rotated_f32 = rotated.astype(np.float32)

    def features(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x)

    names = feature_names(spec)
    magnitude = [i for i, name in enumerate(names) if "_mag." in name]
    assert len(magnitude) == 2 * 13
    before, after = features(windows), features(rotated_f32)
    # Rounding the rotated input to float32 moves magnitudes by ~1e-7 relative.
    assert_allclose(after[:, magnitude], before[:, magnitude], rtol=1e-4, atol=1e-4)
    per_axis = [names.index("ax.mean"), names.index("ax.band_1-2Hz")]
    assert not np.allclose(after[:, per_axis], before[:, per_axis], rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("value", [0.0, 9.81, -1234.5])
@pytest.mark.parametrize("encode", ["numpy", "onnx"])
def test_constant_input_gives_finite_features(value: float, encode: str) -> None:
    spec = ImuEncoderSpec(50.0, 128, SIX)
    x = np.full((3, 128, 6), value, dtype=np.float32)
    out = encode_imu(x, spec) if encode == "numpy" else run_onnx(spec, x)
    assert np.all(np.isfinite(out))
    named = dict(zip(feature_names(spec), out.T, strict=True))
    assert_allclose(named["ax.mean"], value, rtol=1e-6)
    assert_allclose(named["ax.energy"], np.log(spec.energy_floor), atol=1e-4)
    # float32 rounding of the window mean leaves a constant the spectral basis cannot see.
    assert_allclose(named["corr.ax_ay"], 0.0, atol=1e-5)
    assert_allclose(named["acc_mag.mean"], np.sqrt(3) * abs(value), rtol=1e-6)
    assert_allclose(named["ax.band_1-2Hz"], np.log(spec.energy_floor), atol=1e-4)


def test_twin_rejects_windows_of_the_wrong_shape() -> None:
    spec = ImuEncoderSpec(50.0, 128, SIX)
    with pytest.raises(ValueError, match=r"expects \(n, 128, 6\)"):
        encode_imu(np.zeros((2, 128, 5), np.float32), spec)
    with pytest.raises(ValueError, match="expects"):
        encode_imu(np.zeros((128, 6), np.float32), spec)


def test_feature_names() -> None:
    names = feature_names(ImuEncoderSpec(50.0, 128, SIX))
    assert names[:6] == [
        "ax.mean",
        "ax.min",
        "ax.max",
        "ax.energy",
        "ax.jerk_energy",
        "ax.band_0-0.5Hz",
    ]
    assert {"ax.band_1-2Hz", "acc_mag.energy", "gyro_mag.band_12-20Hz", "corr.ax_ay"} <= set(names)
    assert names[-6:] == [
        "corr.ax_ay",
        "corr.ax_az",
        "corr.ay_az",
        "corr.gx_gy",
        "corr.gx_gz",
        "corr.gy_gz",
    ]
    # 8 signals x (3 time stats + 2 mean squares + 8 bands) + 6 correlations.
    assert len(names) == 8 * 13 + 6
    # Gyro only at 10 Hz: no accelerometer triad, bands stop at the 5 Hz Nyquist frequency.
    gyro = feature_names(ImuEncoderSpec(10.0, 100, ("gx", "gy", "gz")))
    assert len(gyro) == 4 * (3 + 2 + 5) + 3
    assert not any(name.startswith("acc_mag") for name in gyro)
    assert "gyro_mag.band_3-5Hz" in gyro


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (SIX, (Triad("acc_mag", (0, 1, 2)), Triad("gyro_mag", (3, 4, 5)))),
        (("gz", "gy", "gx"), (Triad("gyro_mag", (2, 1, 0)),)),
        (("acc_x", "acc_y", "acc_z"), (Triad("acc_mag", (0, 1, 2)),)),
        (("x", "y", "z"), (Triad("xyz_mag", (0, 1, 2)),)),
        (("AX", "AY", "AZ"), (Triad("A_mag", (0, 1, 2)),)),
        (("ax", "ay", "gz"), ()),
        (("mx", "my", "mz", "ax"), (Triad("magn_mag", (0, 1, 2)),)),
    ],
)
def test_find_triads(channels: tuple[str, ...], expected: tuple[Triad, ...]) -> None:
    assert find_triads(channels) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 15}, "at least 16"),
        ({"window": 64.0}, "integer"),
        ({"window": True}, "integer"),
        ({"sample_rate_hz": 0.0}, "sample_rate_hz must be finite and > 0"),
        ({"sample_rate_hz": float("nan")}, "sample_rate_hz must be finite"),
        ({"sample_rate_hz": "50"}, "sample_rate_hz must be a number"),
        ({"channels": ()}, "channels is empty"),
        ({"channels": ("ax", "ax")}, "repeat"),
        ({"channels": ("ax", "")}, "non-empty"),
        ({"channels": "axayaz"}, "sequence of names"),
        ({"bands_hz": ((2.0, 1.0),)}, "0 <= lo < hi"),
        ({"bands_hz": ((-1.0, 1.0),)}, "0 <= lo < hi"),
        ({"bands_hz": ((1.0, float("inf")),)}, "finite"),
        ({"bands_hz": ((1.0,),)}, "pair"),
        ({"bands_hz": ((30.0, 40.0),)}, "Nyquist frequency 25 Hz"),
        ({"energy_floor": 0.0}, "energy_floor"),
        ({"magnitude": 1}, "True or False"),
        ({"axes": False, "magnitude": False, "correlation": False}, "no feature"),
        ({"channels": ("ax", "ay", "az", "acc_mag")}, "duplicate feature names"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], message: str) -> None:
    settings_ = {"sample_rate_hz": 50.0, "window": 128, "channels": SIX, **kwargs}
    with pytest.raises(ValueError, match=message):
        ImuEncoderSpec(**settings_)  # type: ignore[arg-type]


def test_axes_off_without_triads_has_no_feature() -> None:
    with pytest.raises(ValueError, match="no feature"):
        ImuEncoderSpec(50.0, 128, ("ax", "ay"), axes=False)


def test_bands_are_clipped_or_dropped_at_nyquist() -> None:
    spec = ImuEncoderSpec(10.0, 100, ("x",), bands_hz=((1.0, 2.0), (4.0, 6.0), (5.0, 8.0)))
    assert active_bands(spec) == ((1.0, 2.0), (4.0, 6.0))
    fractions = band_fractions(10.0, 100, active_bands(spec))
    # 4-6 Hz keeps 4-5 Hz: 10 bins of 0.1 Hz, the Nyquist bin's half cell counted whole.
    assert_allclose(fractions[:, 1].sum(), 9.5 + 1.0)
    assert_allclose(fractions[:, 0].sum(), 10.0)


@pytest.mark.parametrize(("rate", "window"), [(10.0, 16), (50.0, 128), (200.0, 33)])
def test_band_fractions_share_out_every_bin(rate: float, window: int) -> None:
    edges = np.linspace(0.0, rate / 2, 8)
    tiling = tuple((float(lo), float(hi)) for lo, hi in itertools.pairwise(edges))
    assert_allclose(band_fractions(rate, window, tiling).sum(axis=1), 1.0, rtol=1e-12)


def test_band_without_a_bin_is_still_defined() -> None:
    # At 10 Hz with 16 samples bins are 0.625 Hz apart; 1.0-1.2 Hz holds no bin frequency.
    fractions = band_fractions(10.0, 16, ((1.0, 1.2),))
    assert_allclose(fractions[:, 0].sum(), 0.2 / 0.625)
    assert np.count_nonzero(fractions) == 1
    spec = ImuEncoderSpec(10.0, 16, ("x",), bands_hz=((1.0, 1.2),))
    t = np.arange(16) / 10.0
    x = np.sin(2 * np.pi * 1.1 * t)[None, :, None]
    energy = encode_imu(x, spec)[0, -1]
    assert np.log(spec.energy_floor) + 1.0 < energy < np.log(0.5)


@pytest.mark.parametrize("window", [16, 17, 128, 255])
def test_periodogram_sums_to_tapered_mean_square(window: int) -> None:
    x = np.random.default_rng(window).normal(size=window)
    taper = hann_window(window)
    power = np.abs(np.fft.rfft(taper * x)) ** 2 * periodogram_scale(window)
    assert_allclose(power.sum(), np.sum((taper * x) ** 2) / np.sum(taper**2), rtol=1e-12)
