"""WitMotion standard protocol framing (WT901, HWT905, JY901 and kin), both directions.

Every packet is 11 bytes, ``0x55 TYPE d0 … d7 SUM``: the data are four int16
little-endian, SUM is the low byte of the sum of the first 10 bytes. Types used here:

- ``0x51`` acceleration: ax, ay, az (×16 g/32768), temperature (×1/100 °C);
- ``0x52`` angular rate: gx, gy, gz (×2000 °/s/32768), voltage or temperature;
- ``0x53`` angle: roll, pitch, yaw (×180°/32768), version — emitted by the encoder for a
  realistic stream, ignored by the parser like every other type in ``0x50``–``0x5F``.

Pairing rule: the device sends its packets in type order each cycle (0x51, 0x52, 0x53,
…), so a sample is an acceleration packet whose next valid packet is an angular-rate
packet. An acceleration packet followed by anything else, or an angular-rate packet with
no acceleration packet just before it, is dropped and counted as ``unpaired``: a lost
packet never pairs two different cycles. The protocol has no timestamps (``t=None``).

Resynchronisation: bytes are scanned for ``0x55``; a candidate with a type outside
``0x50``–``0x5F`` or a wrong checksum (``bad_checksum``) is skipped one byte at a time,
so a valid packet right after garbage, even inside a false candidate, is still found.
Every byte not part of a valid packet is counted in ``resync_bytes``. The protocol's one
blind spot remains: a false header whose checksum happens to match over the first bytes
of a real packet (about 1 in 256 per false header with a plausible type) costs that packet.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from harbridge.drivers.parse_stats import ParseStats
from harbridge.drivers.samples import SampleBatch

__all__ = [
    "ACC_LSB_MPS2",
    "ANGLE_LSB_DEG",
    "GRAVITY_MPS2",
    "GYRO_LSB_RADS",
    "PACKET_BYTES",
    "WITMOTION_CHANNELS",
    "WITMOTION_UNITS",
    "WitMotionParser",
    "encode_witmotion",
]

GRAVITY_MPS2: Final = 9.80665
#: One count of an acceleration word, in m/s² (±16 g full scale).
ACC_LSB_MPS2: Final = 16.0 * GRAVITY_MPS2 / 32768.0
#: One count of an angular-rate word, in rad/s (±2000 °/s full scale).
GYRO_LSB_RADS: Final = math.radians(2000.0) / 32768.0
#: One count of an angle word, in degrees.
ANGLE_LSB_DEG: Final = 180.0 / 32768.0
PACKET_BYTES: Final = 11
#: Channels a WitMotion stream provides, in the order of its packets.
WITMOTION_CHANNELS: Final = ("ax", "ay", "az", "gx", "gy", "gz")
#: Units of those channels as :class:`WitMotionParser` decodes them.
WITMOTION_UNITS: Final = {
    **dict.fromkeys(("ax", "ay", "az"), "m/s2"),
    **dict.fromkeys(("gx", "gy", "gz"), "rad/s"),
}

_HEADER: Final = 0x55
_ACCEL: Final = 0x51
_GYRO: Final = 0x52
_ANGLE: Final = 0x53
_FIRST_TYPE: Final = 0x50
_LAST_TYPE: Final = 0x5F
_read_xyz = struct.Struct("<3h").unpack_from
_SCALES: Final = np.array([ACC_LSB_MPS2] * 3 + [GYRO_LSB_RADS] * 3)


class WitMotionParser:
    """Incremental parser of a WitMotion byte stream into sample batches.

    Parameters
    ----------
    device : str
        Device id put on every batch.
    channels : sequence of str, optional
        Which of :data:`WITMOTION_CHANNELS` to emit (all by default), in this order.

    Attributes
    ----------
    stats : ParseStats
        Counts of dropped input by kind.

    Raises
    ------
    ValueError
        If a channel is not one of :data:`WITMOTION_CHANNELS` or repeats.
    """

    def __init__(self, device: str, channels: Sequence[str] = WITMOTION_CHANNELS) -> None:
        unknown = [name for name in channels if name not in WITMOTION_CHANNELS]
        if unknown or not channels or len(set(channels)) != len(channels):
            raise ValueError(
                f"WitMotion channels must be distinct names among {WITMOTION_CHANNELS}, "
                f"got {list(channels)}"
            )
        self.device = device
        self.channels = tuple(channels)
        self.stats = ParseStats()
        self._rows = np.array([WITMOTION_CHANNELS.index(name) for name in self.channels])
        self._buffer = bytearray()
        self._accel: tuple[int, ...] | None = None

    def feed(self, data: bytes) -> list[SampleBatch]:
        """Parse the next bytes of the stream.

        Returns
        -------
        list of SampleBatch
            At most one batch, with the samples completed by ``data``.
        """
        buf = self._buffer
        buf += data
        end = len(buf)
        pos = skipped = bad_checksums = unpaired = 0
        accel = self._accel
        samples: list[tuple[int, ...]] = []
        while True:
            start = buf.find(_HEADER, pos)
            if start < 0:
                skipped += end - pos
                pos = end
                break
            skipped += start - pos
            pos = start
            if end - start < PACKET_BYTES:
                break
            kind = buf[start + 1]
            if not _FIRST_TYPE <= kind <= _LAST_TYPE:
                skipped += 1
                pos += 1
                continue
            if sum(buf[start : start + 10]) & 0xFF != buf[start + 10]:
                bad_checksums += 1
                skipped += 1
                pos += 1
                continue
            pos = start + PACKET_BYTES
            if kind == _ACCEL:
                unpaired += accel is not None
                accel = _read_xyz(buf, start + 2)
            elif kind == _GYRO and accel is not None:
                samples.append(accel + _read_xyz(buf, start + 2))
                accel = None
            elif kind == _GYRO or accel is not None:
                unpaired += 1
                accel = None
        del buf[:pos]
        self._accel = accel
        self._count(skipped, bad_checksums, unpaired)
        if not samples:
            return []
        values = np.array(samples, dtype=np.float64).T[self._rows] * _SCALES[self._rows, None]
        return [SampleBatch(self.device, None, dict(zip(self.channels, values, strict=True)))]

    def _count(self, skipped: int, bad_checksums: int, unpaired: int) -> None:
        for kind, n in (
            ("resync_bytes", skipped),
            ("bad_checksum", bad_checksums),
            ("unpaired", unpaired),
        ):
            if n:
                self.stats.add(kind, n)


def encode_witmotion(
    acc_mps2: npt.ArrayLike, gyro_rads: npt.ArrayLike, temperature_c: float = 25.0
) -> bytes:
    """Encode samples as a WitMotion device sends them: acceleration, angular rate, angle.

    Values beyond full scale saturate at the int16 range, as the sensor's do. The angle
    packet carries roll and pitch from the direction of gravity in the acceleration
    (yaw 0), which is what a resting sensor reports.

    Parameters
    ----------
    acc_mps2 : array-like of shape (n, 3)
        Acceleration ax, ay, az in m/s².
    gyro_rads : array-like of shape (n, 3)
        Angular rate gx, gy, gz in rad/s.
    temperature_c : float, optional
        Temperature written in the fourth word of the first two packets.

    Returns
    -------
    bytes
        ``33 * n`` bytes: three packets per sample.

    Raises
    ------
    ValueError
        If the shapes differ from (n, 3) or a value is not finite.
    """
    acc = np.asarray(acc_mps2, dtype=np.float64)
    gyro = np.asarray(gyro_rads, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3 or gyro.shape != acc.shape:
        raise ValueError(
            f"acc_mps2 and gyro_rads must both have shape (n, 3), got {acc.shape} and {gyro.shape}"
        )
    if not (np.isfinite(acc).all() and np.isfinite(gyro).all() and math.isfinite(temperature_c)):
        raise ValueError("acc_mps2, gyro_rads and temperature_c must be finite")
    n = len(acc)
    roll = np.degrees(np.arctan2(acc[:, 1], acc[:, 2]))
    pitch = np.degrees(np.arctan2(-acc[:, 0], np.hypot(acc[:, 1], acc[:, 2])))
    words = np.zeros((n, 3, 4))
    words[:, 0, :3] = acc / ACC_LSB_MPS2
    words[:, 1, :3] = gyro / GYRO_LSB_RADS
    words[:, :2, 3] = temperature_c * 100.0
    words[:, 2, 0] = roll / ANGLE_LSB_DEG
    words[:, 2, 1] = pitch / ANGLE_LSB_DEG
    raw = np.clip(np.rint(words), -32768, 32767).astype("<i2")
    packets = np.empty((n, 3, PACKET_BYTES), dtype=np.uint8)
    packets[:, :, 0] = _HEADER
    packets[:, :, 1] = (_ACCEL, _GYRO, _ANGLE)
    packets[:, :, 2:10] = raw.view(np.uint8).reshape(n, 3, 8)
    packets[:, :, 10] = packets[:, :, :10].sum(axis=2, dtype=np.uint32) & 0xFF
    return packets.tobytes()
