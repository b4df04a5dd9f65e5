"""``harbridge run`` over ``mqtts://`` against a real Mosquitto that requires a client
certificate and a password, with a CA made by the test; and ``harbridge listen`` there.

The daemon runs as a subprocess, as systemd runs it: the password comes from the
environment or from a file, never from the config. Without the CA the daemon says why it
cannot connect, keeps retrying at a bounded log rate, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harbridge.runtime.config import MqttSettings
from harbridge.runtime.mqtt_url import broker_options
from harbridge.runtime.payloads import encode
from tests.daemon_support import CHANNELS, bundle, class_stream, csv_lines, valid
from tests.mosquitto import Mosquitto, free_port, require_mosquitto
from tests.pki import make_test_pki

# Exported so that pytest (and ruff) see the imported fixture as used.
__all__ = ["bundle"]

GUARD_S = 30.0
PASSWORDS = {"harbridge": "daemon-Secret-1", "observer": "observer-Secret-2"}
PASSWORD_ENV = "HARBRIDGE_TEST_MQTT_PASSWORD"


@dataclass
class TlsBroker:
    """Mosquitto with a TLS listener that requires a client certificate and a password."""

    broker: Mosquitto
    port: int
    pki: dict[str, Path]

    def options(self, user: str, *, ca: bool = True, cert: bool = True) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1",
            port=self.port,
            tls=True,
            username=user,
            password=PASSWORDS[user],
            ca_file=self.pki["ca"] if ca else None,
            cert_file=self.pki[f"{user}.crt"] if cert else None,
            key_file=self.pki[f"{user}.key"] if cert else None,
        )


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    binary = require_mosquitto()
    mosquitto_passwd = os.path.join(os.path.dirname(binary), "..", "bin", "mosquitto_passwd")
    if not os.access(mosquitto_passwd, os.X_OK):
        mosquitto_passwd = "mosquitto_passwd"
    pki = make_test_pki(tmp_path / "pki", clients=tuple(PASSWORDS))
    passwd = tmp_path / "passwd"
    for number, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if number == 0 else []
        subprocess.run(
            [mosquitto_passwd, *create, "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    port = free_port()
    broker = Mosquitto(
        binary,
        tmp_path / "mosquitto",
        extra_config=(
            f"listener {port} 127.0.0.1\ncafile {pki['ca']}\ncertfile {pki['cert']}\n"
            f"keyfile {pki['key']}\nrequire_certificate true\n"
            f"password_file {passwd}\nallow_anonymous false\n"
        ),
    )
    broker.start()
    try:
        yield TlsBroker(broker, port, pki)
    finally:
        broker.stop()


def daemon_config(folder: Path, bundle: Path, mqtt: str) -> Path:
    recording = folder / "stream.csv"
    t, values, _ = class_stream(["wave"], 3.0)
    recording.write_bytes(
        ("t," + ",".join(CHANNELS) + "\n").encode() + b"".join(csv_lines(t, values))
    )
    path = folder / "harbridge.toml"
    path.write_text(
        f'device = "gateway"\nbundle = "{bundle}"\n'
        f'[[sources]]\nkind = "replay"\npath = "{recording}"\nspeed = 4\nloop = true\n'
        'device = "rec"\n'
        f'[mqtt]\ntopic_prefix = "hb"\n{mqtt}\n'
        "[postprocess]\nood_threshold = 1e9\n"
    )
    return path


def start_daemon(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harbridge", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """SIGTERM the daemon; its exit code and everything it logged."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return process.returncode, stderr.decode()


async def predictions(
    tls: TlsBroker, count: int, process: subprocess.Popen[bytes]
) -> list[dict[str, Any]]:
    """The first ``count`` predictions, read by another account over TLS."""
    received: list[dict[str, Any]] = []
    async with broker_options(tls.options("observer")).client(timeout=5) as client:
        await client.subscribe("hb/+/prediction", qos=1)
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            received.append(valid("prediction", message.payload))
            if len(received) >= count or process.poll() is not None:
                return received
    return received


@pytest.mark.mosquitto
@pytest.mark.parametrize("secret", ["env", "file"])
def test_the_daemon_publishes_over_mutual_tls_with_a_password_kept_out_of_the_config(
    tmp_path: Path, bundle: Path, tls_broker: TlsBroker, secret: str
) -> None:
    pki = tls_broker.pki
    env: dict[str, str] = {}
    if secret == "env":
        password = f'password_env = "{PASSWORD_ENV}"'
        env[PASSWORD_ENV] = PASSWORDS["harbridge"]
    else:
        (tmp_path / "password").write_text(PASSWORDS["harbridge"] + "\n")
        password = 'password_file = "password"'
    mqtt = (
        f'url = "mqtts://127.0.0.1:{tls_broker.port}"\nusername = "harbridge"\n{password}\n'
        f'ca_file = "{pki["ca"]}"\ncert_file = "{pki["harbridge.crt"]}"\n'
        f'key_file = "{pki["harbridge.key"]}"\n'
    )
    config = daemon_config(tmp_path, bundle, mqtt)
    assert PASSWORDS["harbridge"] not in config.read_text()
    process = start_daemon(config, env)

    async def main() -> list[dict[str, Any]]:
        async with asyncio.timeout(GUARD_S):
            return await predictions(tls_broker, 3, process)

    try:
        received = asyncio.run(main())
    finally:
        code, log = stop(process)
    assert code == 0, log
    assert len(received) == 3 and {p["device"] for p in received} == {"rec"}
    assert f"publishing to mqtts://127.0.0.1:{tls_broker.port} as gateway" in log
    assert "NOT VERIFIED" not in log


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("ca_file", "CERTIFICATE_VERIFY_FAILED"),
        ("cert_file", "certificate required"),
    ],
    ids=["no-ca", "no-client-cert"],
)
def test_a_tls_failure_is_reported_and_retried_without_crashing(
    tmp_path: Path, bundle: Path, tls_broker: TlsBroker, missing: str, reason: str
) -> None:
    pki = tls_broker.pki
    files = {
        "ca_file": pki["ca"],
        "cert_file": pki["harbridge.crt"],
        "key_file": pki["harbridge.key"],
    }
    if missing == "cert_file":
        del files["key_file"]
    del files[missing]
    mqtt = (
        f'url = "mqtts://127.0.0.1:{tls_broker.port}"\nusername = "harbridge"\n'
        f'password_env = "{PASSWORD_ENV}"\n'
        + "".join(f'{key} = "{path}"\n' for key, path in files.items())
    )
    config = daemon_config(tmp_path, bundle, mqtt)
    process = start_daemon(config, {PASSWORD_ENV: PASSWORDS["harbridge"]})
    time.sleep(4.0)  # backoff from 0.5 s: several attempts
    alive = process.poll() is None
    code, log = stop(process)
    assert alive, log
    assert code == 0, log
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if reason in line]
    assert lines, log
    if missing == "ca_file":
        # Retried, but logged once per rate-limit interval, with what to do.
        attempts = tls_broker.broker.log().count(f"on port {tls_broker.port}")
        assert attempts >= 3, tls_broker.broker.log()
        (line,) = lines
        assert f"broker mqtts://127.0.0.1:{tls_broker.port} unavailable" in line
        assert "give the CA that signed it (ca_file" in line


def listen(tls: TlsBroker, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harbridge", "listen", "--broker",
         f"mqtts://observer:{PASSWORDS['observer']}@127.0.0.1:{tls.port}", "--timeout", "10",
         *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.mosquitto
def test_listen_reads_a_broker_on_a_private_ca_with_a_client_certificate(
    tls_broker: TlsBroker,
) -> None:
    pki = tls_broker.pki
    process = listen(
        tls_broker, "--count", "1", "--ca-file", str(pki["ca"]),
        "--cert-file", str(pki["observer.crt"]), "--key-file", str(pki["observer.key"]),
    )  # fmt: skip
    payload = encode(
        {"schema": "harbridge.prediction/1", "device": "w", "seq": 0, "t_start": 0.0,
         "t_end": 1.28, "label": "wave", "confidence": 0.9, "probs": {"wave": 0.9},
         "unknown": False, "latency_ms": 1.0, "model": "bundle@0123456789ab"}
    )  # fmt: skip

    async def feed() -> None:
        settings = tls_broker.options("harbridge")
        async with asyncio.timeout(GUARD_S), broker_options(settings).client() as client:
            while process.poll() is None:
                await client.publish("harbridge/w/prediction", payload, qos=1)
                await asyncio.sleep(0.1)

    try:
        asyncio.run(feed())
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.communicate()
    assert process.returncode == 0, err.decode()
    assert "w" in out.decode() and "wave" in out.decode() and "90.0%" in out.decode()


@pytest.mark.mosquitto
def test_listen_without_the_ca_is_a_one_line_error(tls_broker: TlsBroker) -> None:
    _, err = listen(tls_broker).communicate(timeout=GUARD_S)
    (line,) = err.decode().splitlines()
    assert line.startswith("harbridge: error: listen: --broker: cannot connect")
    assert "CERTIFICATE_VERIFY_FAILED" in line and "listen --ca-file" in line


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--ca-file", "{ca}"], "listen: --ca-file: TLS files need an mqtts:// --broker URL"),
        (["--ca-file", "/no/such/ca.crt"], "listen: --ca-file: no such file: /no/such/ca.crt"),
        (["--key-file", "{ca}"], "listen: --key-file: a client key needs its certificate"),
        (["--cert-file", "{ca}"], "listen: --cert-file: cannot load the client certificate"),
    ],
)
def test_listen_tls_options_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    from harbridge.cli import main

    ca = tmp_path / "ca.crt"
    ca.write_text("not a certificate")
    scheme = "mqtt" if "mqtts://" in words else "mqtts"
    argv = [option.format(ca=ca) for option in options]
    assert main(["listen", "--broker", f"{scheme}://127.0.0.1:1", *argv]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"harbridge: error: {words}"), err


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "give the CA that signed"),
        ("[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert", "requires a client certificate"),
        ("[code:135] Not authorized", "refused this user name and password"),
        ("[Errno 111] Connection refused", ""),
    ],
)
def test_connection_errors_come_with_what_to_do(error: str, advice: str) -> None:
    from harbridge.runtime.mqtt_url import connect_hint

    hint = connect_hint(RuntimeError(error))
    assert hint.startswith("; ") and advice in hint if advice else hint == ""
