"""WitMotion binary framing: units, pairing, resynchronisation, chunking, encode round trip."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.witmotion import (
    ACC_LSB_MPS2,
    GYRO_LSB_RADS,
    PACKET_BYTES,
    WITMOTION_CHANNELS,
    WitMotionParser,
    encode_witmotion,
)

G = 9.80665


def packet(kind: int, words: Sequence[int]) -> bytes:
    """One packet built by hand from the protocol description, independent of the encoder."""
    body = bytes([0x55, kind]) + struct.pack("<4h", *words)
    return body + bytes([sum(body) & 0xFF])


def joined(batches: Sequence[SampleBatch]) -> np.ndarray:
    """Samples of ``batches`` as an array of shape (n, 6) in WITMOTION_CHANNELS order."""
    assert all(b.t is None and tuple(b.channels) == WITMOTION_CHANNELS for b in batches)
    if not batches:
        return np.empty((0, 6))
    return np.concatenate([np.column_stack(list(b.channels.values())) for b in batches])


def sample_stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, bytes]:
    rng = np.random.default_rng(seed)
    acc = rng.uniform(-15.0 * G, 15.0 * G, size=(n, 3))
    gyro = rng.uniform(-math.radians(1900.0), math.radians(1900.0), size=(n, 3))
    return acc, gyro, encode_witmotion(acc, gyro)


def test_known_packets_decode_to_si_units() -> None:
    data = (
        packet(0x51, (16384, -16384, 2048, 2500))
        + packet(0x52, (16384, -32768, 328, 0))
        + packet(0x53, (100, 200, 300, 0))
        + packet(0x54, (1, 2, 3, 0))
    )
    parser = WitMotionParser("imu")
    (batch,) = parser.feed(data)
    assert batch.device == "imu"
    assert batch.t is None
    expected = [
        8 * G,
        -8 * G,
        G,
        math.radians(1000),
        math.radians(-2000),
        math.radians(328 * 2000 / 32768),
    ]
    assert_allclose(joined([batch])[0], expected, rtol=1e-12)
    assert parser.stats.counts == {}


def test_channel_subset_in_requested_order() -> None:
    parser = WitMotionParser("imu", channels=("gz", "ax"))
    (batch,) = parser.feed(packet(0x51, (2048, 0, 0, 0)) + packet(0x52, (0, 0, -16384, 0)))
    assert list(batch.channels) == ["gz", "ax"]
    assert_allclose(batch.channels["gz"], [math.radians(-1000)], rtol=1e-12)
    assert_allclose(batch.channels["ax"], [G], rtol=1e-12)


@pytest.mark.parametrize("channels", [(), ("ax", "mx"), ("ax", "ax"), ("t",)])
def test_unknown_channels_are_refused(channels: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="WitMotion channels"):
        WitMotionParser("imu", channels=channels)


@pytest.mark.parametrize("n", [1, 7, 200])
def test_encode_decode_round_trip_within_quantisation(n: int) -> None:
    acc, gyro, data = sample_stream(n, seed=n)
    assert len(data) == 3 * PACKET_BYTES * n
    parser = WitMotionParser("imu")
    got = joined(parser.feed(data))
    # Rounding to the nearest count: at most half a count off.
    assert_allclose(got[:, :3], acc, rtol=0, atol=ACC_LSB_MPS2 / 2 * (1 + 1e-9))
    assert_allclose(got[:, 3:], gyro, rtol=0, atol=GYRO_LSB_RADS / 2 * (1 + 1e-9))
    assert parser.stats.counts == {}


def test_encoder_writes_valid_packets_in_protocol_order() -> None:
    acc = np.array([[0.0, 0.0, G], [0.0, G, 0.0], [-G, 0.0, 0.0]])
    data = encode_witmotion(acc, np.zeros((3, 3)), temperature_c=21.5)
    packets = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET_BYTES)
    assert_array_equal(packets[:, 0], 0x55)
    assert_array_equal(packets[:, 1], [0x51, 0x52, 0x53] * 3)
    assert_array_equal(packets[:, 10], packets[:, :10].sum(axis=1) % 256)
    words = packets[:, 2:10].copy().view("<i2")
    assert_array_equal(words[0:2, 3], [2150, 2150])
    # Angle packets: roll and pitch (×180°/32768) from the direction of gravity.
    angles = words[2::3, :3] * 180.0 / 32768
    assert_allclose(angles, [[0, 0, 0], [90, 0, 0], [0, 90, 0]], atol=180.0 / 32768)


def test_encoder_saturates_at_int16_range() -> None:
    acc = np.array([[20 * G, -20 * G, 16 * G]])
    gyro = np.array([[math.radians(3000), math.radians(-2500), 0.0]])
    got = joined(WitMotionParser("imu").feed(encode_witmotion(acc, gyro)))
    assert_allclose(got[0, :3], np.array([32767, -32768, 32767]) * ACC_LSB_MPS2, rtol=1e-12)
    assert_allclose(got[0, 3:5], np.array([32767, -32768]) * GYRO_LSB_RADS, rtol=1e-12)


@pytest.mark.parametrize(
    ("acc", "gyro"),
    [
        (np.zeros((2, 3)), np.zeros((3, 3))),
        (np.zeros(3), np.zeros(3)),
        ([[np.nan, 0, 0]], [[0, 0, 0]]),
    ],
)
def test_encoder_refuses_bad_input(acc: np.ndarray, gyro: np.ndarray) -> None:
    with pytest.raises(ValueError, match="acc_mps2"):
        encode_witmotion(acc, gyro)


@pytest.mark.parametrize("corrupt", [0, 1, 2, 5, 10])
def test_corrupted_packet_is_skipped_and_following_packets_kept(corrupt: int) -> None:
    _, _, data = sample_stream(6, seed=1)
    bad = bytearray(data)
    # Damage one byte of sample 2's acceleration packet (header, type, data or checksum).
    bad[2 * 33 + corrupt] ^= 0x5A
    parser = WitMotionParser("imu")
    got = joined(parser.feed(bytes(bad)))
    clean = joined(WitMotionParser("imu").feed(data))
    assert_array_equal(got, np.delete(clean, 2, axis=0))
    kind = "bad_checksum" if corrupt > 1 else "resync_bytes"
    assert kind in parser.stats.counts
    assert parser.stats.counts["unpaired"] == 1
    # Every byte is either in a valid packet or counted as skipped.
    assert parser.stats.counts["resync_bytes"] == len(data) - PACKET_BYTES * (3 * 6 - 1)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02",
        b"\x55\x00" * 15,
        b"\x55\x51\x01\x02\x03",  # a truncated packet
        b"\x55\x51" + bytes(8) + b"\x00",  # a whole packet with a wrong checksum
        bytes(range(256)),
    ],
    ids=["bytes", "headers", "truncated", "bad-sum", "all-bytes"],
)
def test_garbage_between_packets_loses_nothing(garbage: bytes) -> None:
    _, _, data = sample_stream(4, seed=2)
    cut = 2 * 33 + 11  # between the acceleration and angular-rate packets of sample 2
    parser = WitMotionParser("imu")
    got = joined(parser.feed(garbage + data[:cut] + garbage + data[cut:]))
    assert_array_equal(got, joined(WitMotionParser("imu").feed(data)))
    assert parser.stats.counts["resync_bytes"] == 2 * len(garbage)
    assert parser.stats.counts.get("unpaired", 0) == 0


def test_lost_packets_never_pair_two_cycles() -> None:
    acc = [packet(0x51, (2048 * k, 0, 0, 0)) for k in range(4)]
    gyro = [packet(0x52, (0, 0, 1000 * k, 0)) for k in range(4)]
    angle = packet(0x53, (0, 0, 0, 0))
    # Cycle 0 complete; cycle 1 lost its angular rate; cycle 2 lost its acceleration;
    # cycle 3 complete but without an angle packet.
    data = acc[0] + gyro[0] + angle + acc[1] + angle + gyro[2] + angle + acc[3] + gyro[3]
    parser = WitMotionParser("imu")
    got = joined(parser.feed(data))
    assert_allclose(got[:, 0], [0.0, 3 * G], rtol=1e-12)
    assert_allclose(got[:, 5], np.array([0, 3000]) * GYRO_LSB_RADS, rtol=1e-12)
    assert parser.stats.counts == {"unpaired": 2}


def test_back_to_back_acceleration_packets_keep_the_latest() -> None:
    data = packet(0x51, (1, 0, 0, 0)) + packet(0x51, (2, 0, 0, 0)) + packet(0x52, (0, 0, 0, 0))
    parser = WitMotionParser("imu")
    assert_allclose(joined(parser.feed(data))[:, 0], [2 * ACC_LSB_MPS2], rtol=1e-12)
    assert parser.stats.counts == {"unpaired": 1}


@pytest.mark.parametrize("chunk", [1, 2, 5, 10, 11, 12, 32, 33, 100, 10_000])
def test_chunk_boundaries_do_not_change_output(chunk: int) -> None:
    _, _, data = sample_stream(40, seed=3)
    noisy = bytearray(b"\x55\x52\x00" + data + b"\x55\x51")
    noisy[3 + 2 * 33 + 5] ^= 0xFF  # sample 2's acceleration packet
    noisy[3 + 15 * 33 + 13 : 3 + 15 * 33 + 16] = b"\x55\x55\x55"  # sample 15's angular rate
    whole = WitMotionParser("imu")
    expected = joined(whole.feed(bytes(noisy)))
    pieces = WitMotionParser("imu")
    got = joined(
        [b for i in range(0, len(noisy), chunk) for b in pieces.feed(bytes(noisy[i : i + chunk]))]
    )
    assert_array_equal(got, expected)
    assert pieces.stats == whole.stats
    assert len(expected) == 38
