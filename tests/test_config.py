"""Tests of harbridge.runtime.config: the TOML config, its defaults and every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbridge.errors import InputError
from harbridge.runtime.config import (
    Config,
    MqttSettings,
    MqttSource,
    ReplaySource,
    SerialSource,
    load_config,
    resolve_password,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config folder holding a bundle directory and a recording to replay."""
    (tmp_path / "bundle").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "stream.csv").write_text("t,ax\n0,1\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "harbridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
device = "pi-1"
bundle = "bundle"
[[sources]]
kind = "serial"
port = "/dev/ttyUSB0"
"""


def load_error(folder: Path, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_config(write(folder, text))
    return info.value


def test_minimal_config_fills_in_every_default(folder: Path) -> None:
    cfg = load_config(write(folder, MINIMAL))
    assert isinstance(cfg, Config)
    assert cfg.device == "pi-1"
    assert cfg.bundle == (folder / "bundle").resolve()
    assert cfg.sources == (SerialSource(port="/dev/ttyUSB0", device="pi-1"),)
    assert cfg.sources[0].baudrate == 115200
    assert cfg.sources[0].format == "csv"
    assert cfg.mqtt.url == "mqtt://localhost:1883"
    assert (cfg.mqtt.topic_prefix, cfg.mqtt.qos, cfg.mqtt.tls) == ("harbridge", 1, False)
    assert cfg.mqtt.username is None and cfg.mqtt.password is None
    assert cfg.windowing.max_gap_s == 0.5 and cfg.windowing.clock_reset_s == 5.0
    assert (cfg.inference.max_batch, cfg.inference.max_wait_ms, cfg.inference.threads) == (
        64,
        0.0,
        1,
    )
    assert cfg.postprocess.smoothing == 1 and cfg.postprocess.ood_threshold is None
    assert cfg.metrics.interval_s == 10.0
    assert (cfg.queues.samples, cfg.queues.windows, cfg.queues.publish) == (256, 1024, 1024)


def test_full_config_reads_every_key(folder: Path) -> None:
    cfg = load_config(
        write(
            folder,
            """
device = "pi-kitchen"
bundle = "bundle"

[[sources]]
kind = "serial"
port = "/dev/ttyACM0"
baudrate = 921600
format = "witmotion"
device = "wrist-01"

[[sources]]
kind = "mqtt"
topic = "imu/+/raw"
qos = 0

[[sources]]
kind = "replay"
path = "data/stream.csv"
speed = 4
loop = true
device = "replay-1"

[mqtt]
url = "mqtts://broker.example:8884"
username = "harbridge"
password_env = "HB_PASSWORD"
topic_prefix = "site-3/harbridge"
qos = 2
client_id = "hb-kitchen"
ca_file = "ca.pem"

[windowing]
max_gap_s = 0.25
clock_reset_s = 30
max_devices = 16

[inference]
max_batch = 8
max_wait_ms = 5
threads = 2

[postprocess]
smoothing = 0.3
confidence_floor = 0.4
ood_threshold = 6.5

[metrics]
interval_s = 2.5

[queues]
samples = 10
windows = 20
publish = 30
""",
        )
    )
    serial, mqtt, replay = cfg.sources
    assert serial == SerialSource("/dev/ttyACM0", "wrist-01", 921600, "witmotion")
    assert mqtt == MqttSource(topic="imu/+/raw", device=None, qos=0)
    assert replay == ReplaySource((folder / "data" / "stream.csv").resolve(), "replay-1", 4.0, True)
    assert isinstance(replay.speed, float)
    assert cfg.mqtt.url == "mqtts://broker.example:8884"
    assert cfg.mqtt.username == "harbridge" and cfg.mqtt.password_env == "HB_PASSWORD"
    assert cfg.mqtt.ca_file == (folder / "ca.pem").resolve()
    assert (cfg.mqtt.topic_prefix, cfg.mqtt.qos, cfg.mqtt.client_id) == (
        "site-3/harbridge",
        2,
        "hb-kitchen",
    )
    assert (cfg.windowing.max_gap_s, cfg.windowing.clock_reset_s) == (0.25, 30.0)
    assert cfg.windowing.max_devices == 16
    assert (cfg.inference.max_batch, cfg.inference.max_wait_ms, cfg.inference.threads) == (
        8,
        5.0,
        2,
    )
    assert cfg.postprocess.smoothing == 0.3 and isinstance(cfg.postprocess.smoothing, float)
    assert (cfg.postprocess.confidence_floor, cfg.postprocess.ood_threshold) == (0.4, 6.5)
    assert cfg.metrics.interval_s == 2.5
    assert (cfg.queues.samples, cfg.queues.windows, cfg.queues.publish) == (10, 20, 30)


def test_relative_paths_resolve_against_the_config_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(
        write(
            folder,
            MINIMAL.replace('bundle = "bundle"', 'bundle = "./data/../bundle"')
            + '\n[[sources]]\nkind = "replay"\npath = "data/stream.csv"\ndevice = "r"\n',
        )
    )
    assert cfg.bundle == (folder / "bundle").resolve()
    assert cfg.sources[1].path == (folder / "data" / "stream.csv").resolve()  # type: ignore[union-attr]
    assert cfg.path == (folder / "harbridge.toml").resolve()


def test_mqtt_url_credentials_and_default_ports(folder: Path) -> None:
    cfg = load_config(
        write(folder, MINIMAL + '[mqtt]\nurl = "mqtts://hb%40site:p%3Ass@broker.local"\n')
    )
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("broker.local", 8883, True)
    assert (cfg.mqtt.username, cfg.mqtt.password) == ("hb@site", "p:ss")
    assert "p:ss" not in repr(cfg.mqtt)
    assert resolve_password(cfg.mqtt) == "p:ss"


def test_device_defaults_to_the_host_name(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "raspberrypi")
    cfg = load_config(write(folder, MINIMAL.replace('device = "pi-1"\n', "")))
    assert cfg.device == "raspberrypi"
    assert cfg.sources[0].device == "raspberrypi"


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (
            MINIMAL + "baudrat = 9600\n",
            "sources[1].baudrat",
            "unknown key 'baudrat' in [[sources]] #1; did you mean 'baudrate'?",
        ),
        (
            MINIMAL.replace('bundle = "bundle"', 'bundel = "bundle"'),
            "bundel",
            "unknown key 'bundel' at the top level; did you mean 'bundle'?",
        ),
        (
            MINIMAL + '[mqtt]\ntopic_prefx = "x"\n',
            "mqtt.topic_prefx",
            "unknown key 'topic_prefx' in [mqtt]; did you mean 'topic_prefix'?",
        ),
        (
            MINIMAL + "[windowng]\nmax_gap_s = 1\n",
            "windowng",
            "unknown key 'windowng' at the top level; did you mean 'windowing'?",
        ),
        (
            MINIMAL + 'topic = "imu/raw"\n',
            "sources[1].topic",
            "unknown key 'topic' in [[sources]] #1; 'topic' belongs to kind = 'mqtt' sources",
        ),
    ],
)
def test_unknown_keys_are_refused_with_a_suggestion(
    folder: Path, text: str, field: str, problem: str
) -> None:
    error = load_error(folder, text)
    assert (error.field, error.problem) == (field, problem)
    assert error.source == str(folder / "harbridge.toml")


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (
            MINIMAL + 'baudrate = "fast"\n',
            "sources[1].baudrate",
            "expected an integer, got a string",
        ),
        (
            MINIMAL + "baudrate = true\n",
            "sources[1].baudrate",
            "expected an integer, got a boolean",
        ),
        (MINIMAL + "baudrate = 96.5\n", "sources[1].baudrate", "expected an integer, got a float"),
        (MINIMAL.replace('"pi-1"', "7"), "device", "expected a string, got an integer"),
        (MINIMAL + "[windowing]\nmax_gap_s = [1]\n", "windowing.max_gap_s", "got an array"),
        ('mqtt = "localhost"\n' + MINIMAL, "mqtt", "expected a table [mqtt]"),
        (MINIMAL + "[metrics]\ninterval_s = nan\n", "metrics.interval_s", "finite"),
        (MINIMAL + "[metrics]\ninterval_s = 0\n", "metrics.interval_s", "must be > 0.0, got 0"),
        (MINIMAL + "[mqtt]\nqos = 3\n", "mqtt.qos", "must be ≥ 0 and ≤ 2, got 3"),
        (MINIMAL + "[inference]\nthreads = 0\n", "inference.threads", "≥ 1"),
        (MINIMAL + "[postprocess]\nsmoothing = 0\n", "postprocess.smoothing", "at least 1"),
        (MINIMAL + "[postprocess]\nsmoothing = 3.0\n", "postprocess.smoothing", "integer N"),
        (
            MINIMAL + "[postprocess]\nconfidence_floor = 1.5\n",
            "postprocess.confidence_floor",
            "≤ 1",
        ),
        (MINIMAL + 'format = "json"\n', "sources[1].format", "did you mean 'jsonl'?"),
        (MINIMAL + 'device = "a/b"\n', "sources[1].device", "'/'"),
        (MINIMAL + "[windowing]\nclock_reset_s = 0.2\n", "windowing.clock_reset_s", "> 0.5"),
    ],
)
def test_wrong_types_and_values_are_refused(
    folder: Path, text: str, field: str, words: str
) -> None:
    error = load_error(folder, text)
    assert error.field == field
    assert words in error.problem


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://broker:1883", "must start with mqtt:// or mqtts:// (got 'http://')"),
        ("broker.local:1883", "it has no scheme"),
        ("mqtt://:1883", "names no broker host"),
        ("mqtt://broker:99999", "port must be a number from 1 to 65535"),
        ("mqtt://broker:1883/path", "nothing after"),
    ],
)
def test_bad_broker_urls_are_refused(folder: Path, url: str, words: str) -> None:
    error = load_error(folder, MINIMAL + f'[mqtt]\nurl = "{url}"\n')
    assert error.field == "mqtt.url"
    assert words in error.problem


@pytest.mark.parametrize(
    ("mqtt", "field", "words"),
    [
        ('url = "mqtt://u:p@h"\npassword_env = "X"', "mqtt.password_env", "also given by mqtt.url"),
        ('password_env = "X"', "mqtt.password_env", "needs a username"),
        ('url = "mqtt://u@h"\nusername = "v"', "mqtt.username", "keep only one"),
        ('ca_file = "ca.pem"', "mqtt.ca_file", "need an mqtts:// url"),
        ("tls_insecure = true", "mqtt.tls_insecure", "need an mqtts:// url"),
        ('url = "mqtts://h"\nca_file = "missing.pem"', "mqtt.ca_file", "no such file"),
        ('topic_prefix = "a/+"', "mqtt.topic_prefix", "'+'"),
        ('topic_prefix = "harbridge/"', "mqtt.topic_prefix", "empty level"),
    ],
)
def test_inconsistent_mqtt_settings_are_refused(
    folder: Path, mqtt: str, field: str, words: str
) -> None:
    error = load_error(folder, MINIMAL + f"[mqtt]\n{mqtt}\n")
    assert error.field == field
    assert words in error.problem


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("imu/+/+/raw", "holds 2 '+'"),
        ("imu/#", "'#'"),
        ("imu/wrist+/raw", "whole level"),
    ],
)
def test_bad_source_topics_are_refused(folder: Path, topic: str, words: str) -> None:
    text = f'bundle = "bundle"\n[[sources]]\nkind = "mqtt"\ntopic = "{topic}"\n'
    error = load_error(folder, text)
    assert error.field == "sources[1].topic"
    assert words in error.problem


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('device = "d"\nbundle = "bundle"\n', "sources", "no [[sources]] table"),
        (
            'device = "d"\nbundle = "bundle"\nsources = 3\n',
            "sources",
            "expected [[sources]] tables",
        ),
        ('device = "d"\n[[sources]]\nkind = "serial"\nport = "p"\n', "bundle", "missing"),
        ('bundle = "nope"\n[[sources]]\nkind = "serial"\nport = "p"\n', "bundle", "no such folder"),
        ('bundle = "bundle"\n[[sources]]\nport = "p"\n', "sources[1].kind", "missing"),
        ('bundle = "bundle"\n[[sources]]\nkind = "usb"\n', "sources[1].kind", "not one of"),
        ('bundle = "bundle"\n[[sources]]\nkind = "serial"\n', "sources[1].port", "missing"),
        ('bundle = "bundle"\n[[sources]]\nkind = "mqtt"\n', "sources[1].topic", "missing"),
        ('bundle = "bundle"\n[[sources]]\nkind = "replay"\n', "sources[1].path", "missing"),
        (
            'bundle = "bundle"\n[[sources]]\nkind = "replay"\npath = "data/x.csv"\n',
            "sources[1].path",
            "no such file",
        ),
        (
            'bundle = "bundle"\n[[sources]]\nkind = "replay"\npath = "ca.pem"\n',
            "sources[1].path",
            ".csv or .npz",
        ),
        (
            MINIMAL + '[[sources]]\nkind = "serial"\nport = "/dev/ttyUSB1"\n',
            "sources[2].device",
            "already read by sources[1]",
        ),
        (
            'bundle = "bundle"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+"\ndevice = "x"\n',
            "sources[1].device",
            "names the device",
        ),
    ],
)
def test_missing_and_inconsistent_sources_are_refused(
    folder: Path, text: str, field: str, words: str
) -> None:
    error = load_error(folder, text)
    assert error.field == field
    assert words in error.problem


def test_unreadable_and_malformed_files(folder: Path) -> None:
    with pytest.raises(InputError, match="no such file") as info:
        load_config(folder / "missing.toml")
    assert info.value.field == "config"
    error = load_error(folder, 'bundle = "bundle"\n[[sources]\n')
    assert error.field == "toml"
    assert "line 2" in error.problem


def test_mqtt_source_names_devices_by_its_wildcard_level() -> None:
    wildcard = MqttSource(topic="imu/+/raw", device=None)
    assert wildcard.wildcard_level == 1
    assert wildcard.device_for("imu/wrist-07/raw") == "wrist-07"
    assert wildcard.device_for("imu//raw") is None
    fixed = MqttSource(topic="imu/raw", device="pi-1")
    assert fixed.wildcard_level is None
    assert fixed.device_for("imu/raw") == "pi-1"


def test_password_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    from_env = MqttSettings(username="u", password_env="HB_PW", source=config)
    assert resolve_password(from_env, {"HB_PW": "s3cret"}) == "s3cret"
    with pytest.raises(InputError, match="HB_PW is not set") as info:
        resolve_password(from_env, {})
    assert (info.value.source, info.value.field) == (str(config), "mqtt.password_env")
    with pytest.raises(InputError, match="HB_PW is empty"):
        resolve_password(from_env, {"HB_PW": ""})

    secret = tmp_path / "pw"
    from_file = MqttSettings(username="u", password_file=secret, source=config)
    with pytest.raises(InputError, match="no such file") as info:
        resolve_password(from_file)
    assert info.value.field == "mqtt.password_file"
    secret.write_text("")
    with pytest.raises(InputError, match="is empty"):
        resolve_password(from_file)
    secret.write_text("pa ss\r\n")
    assert resolve_password(from_file) == "pa ss"
    assert resolve_password(MqttSettings()) is None


def test_password_file_is_resolved_but_not_required_at_load(folder: Path) -> None:
    cfg = load_config(
        write(folder, MINIMAL + '[mqtt]\nusername = "u"\npassword_file = "secrets/pw"\n')
    )
    assert cfg.mqtt.password_file == (folder / "secrets" / "pw").resolve()
    with pytest.raises(InputError, match="no such file"):
        resolve_password(cfg.mqtt)


def test_serial_csv_default_header_and_replay_speed_zero(folder: Path) -> None:
    cfg = load_config(
        write(
            folder,
            MINIMAL
            + 'default_header = ["t", " ax", "ay", "az", "temp"]\n'
            + '[[sources]]\nkind = "replay"\npath = "data/stream.csv"\nspeed = 0\n'
            + 'device = "rec"\n',
        )
    )
    serial, replay = cfg.sources
    assert isinstance(serial, SerialSource) and isinstance(replay, ReplaySource)
    assert serial.default_header == ("t", "ax", "ay", "az", "temp")
    assert replay.speed == 0.0
    minimal = load_config(write(folder, MINIMAL)).sources[0]
    assert isinstance(minimal, SerialSource) and minimal.default_header is None


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (
            'format = "jsonl"\ndefault_header = ["ax"]',
            "applies to format = 'csv' only, not 'jsonl'",
        ),
        ('default_header = "t,ax"', "expected a non-empty array of column names"),
        ("default_header = []", "expected a non-empty array of column names"),
        ("default_header = [1, 2]", "expected a non-empty array of column names"),
        ('default_header = ["t", "a-x"]', "'a-x' is not a column name"),
        ('default_header = ["t", "nan"]', "'nan' is not a column name"),
        ('default_header = ["ax", "t", "ax"]', "names ax more than once"),
    ],
)
def test_bad_default_headers_are_refused(folder: Path, line: str, words: str) -> None:
    error = load_error(folder, MINIMAL + line + "\n")
    assert error.field == "sources[1].default_header"
    assert words in error.problem


def test_config_and_listen_share_one_url_parser(folder: Path) -> None:
    from harbridge.runtime.config import parse_mqtt_url

    error = load_error(folder, MINIMAL + '[mqtt]\nurl = "mqtt://:secret@broker"\nusername = "u"\n')
    assert (error.field, error.problem) == (
        "mqtt.url",
        "a password needs a username: mqtt://user:password@host",
    )
    with pytest.raises(InputError) as info:
        parse_mqtt_url("mqtt://:secret@broker", "listen", "--broker")
    assert (info.value.source, info.value.field) == ("listen", "--broker")
    assert info.value.problem == error.problem
    settings = parse_mqtt_url("mqtts://u:p@broker")
    cfg = load_config(write(folder, MINIMAL + '[mqtt]\nurl = "mqtts://u:p@broker"\n'))
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls, cfg.mqtt.username, cfg.mqtt.password) == (
        settings.host,
        settings.port,
        settings.tls,
        settings.username,
        settings.password,
    )
