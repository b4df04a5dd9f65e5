"""Tests of deploy/: the systemd unit, the Pi installer, the example config, the udev rule,
and the Mosquitto gateway config and ACL run for real with TLS and passwords.

Nothing here installs anything: the installer only ever runs as an unprivileged user, and
the unit is checked by ``systemd-analyze`` on a copy.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from harbridge.errors import InputError
from harbridge.runtime.config import (
    Config,
    MqttSettings,
    MqttSource,
    SerialSource,
    load_config,
    resolve_password,
)
from harbridge.runtime.mqtt_url import BrokerOptions, broker_options
from harbridge.runtime.payloads import prediction_topic
from tests.mosquitto import Mosquitto, free_port, require_mosquitto
from tests.pki import make_test_pki

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "harbridge.service"
INSTALLER = DEPLOY / "install-pi.sh"
EXAMPLE_CONFIG = DEPLOY / "config.example.toml"
UDEV_RULES = DEPLOY / "99-harbridge-imu.rules"
GATEWAY_CONF = DEPLOY / "mosquitto" / "harbridge-gateway.conf"
ACL = DEPLOY / "mosquitto" / "acl"

VENV_COMMAND = "/opt/harbridge/venv/bin/harbridge"
GUARD_S = 15.0


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing its output as text."""
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# --- systemd unit ---------------------------------------------------------------------


def unit_entries(text: str) -> dict[str, list[tuple[str, str]]]:
    """``section -> [(key, value), ...]`` of a unit file, repeated keys kept in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    entries: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            entries = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        entries.append((key.strip(), value.strip()))
    return sections


def seconds(span: str) -> float:
    """A systemd time span such as ``10s`` or ``10min`` in seconds."""
    match = re.fullmatch(r"(\d+)\s*(s|min|h)?", span)
    assert match is not None, f"unexpected time span {span!r}"
    return int(match[1]) * {"s": 1, None: 1, "min": 60, "h": 3600}[match[2]]


UNIT_ENTRIES = unit_entries(UNIT.read_text())


def unit_values(section: str, key: str) -> list[str]:
    return [value for name, value in UNIT_ENTRIES.get(section, []) if name == key]


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("Service", "ExecStart", f"{VENV_COMMAND} run --config /etc/harbridge/config.toml"),
        (
            "Service",
            "ExecStartPre",
            f"{VENV_COMMAND} run --check --config /etc/harbridge/config.toml",
        ),
        ("Service", "User", "harbridge"),
        ("Service", "SupplementaryGroups", "dialout"),
        ("Service", "Restart", "on-failure"),
        ("Service", "RestartPreventExitStatus", "2"),
        ("Service", "KillSignal", "SIGTERM"),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "ProtectSystem", "strict"),
        ("Service", "ProtectHome", "yes"),
        ("Service", "PrivateTmp", "yes"),
        ("Service", "StateDirectory", "harbridge"),
        ("Service", "ReadOnlyPaths", "/etc/harbridge"),
        ("Service", "EnvironmentFile", "-/etc/harbridge/env"),
        ("Install", "WantedBy", "multi-user.target"),
    ],
)
def test_unit_has_what_the_issue_asks_for(section: str, key: str, value: str) -> None:
    assert unit_values(section, key) == [value]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("ReadWritePaths", "only the state directory may be writable"),
        ("DynamicUser", "the service runs as the dedicated harbridge user"),
        ("PrivateDevices", "it would hide the serial ports"),
        ("ProtectClock", "on systemd 252 its device allow-list blocks serial ports"),
        ("ProcSubset", "onnxruntime reads /proc/cpuinfo"),
        ("RestartSteps", "systemd 252 (Raspberry Pi OS bookworm) does not know it"),
        ("RestartMaxDelaySec", "systemd 252 (Raspberry Pi OS bookworm) does not know it"),
    ],
)
def test_unit_leaves_out_settings_that_break_the_daemon_or_bookworm(key: str, why: str) -> None:
    assert unit_values("Service", key) == [], why


def test_a_crash_loop_reaches_the_start_limit() -> None:
    # Otherwise a daemon that dies at once would be restarted forever, every RestartSec.
    (burst,) = unit_values("Unit", "StartLimitBurst")
    (interval,) = unit_values("Unit", "StartLimitIntervalSec")
    (delay,) = unit_values("Service", "RestartSec")
    assert int(burst) * seconds(delay) < seconds(interval)
    assert seconds(delay) >= 5


def require_systemd_analyze() -> str:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.skip("systemd-analyze is not installed (apt install systemd)")
    return binary


def runnable_unit_copy(folder: Path, text: str) -> Path:
    """The unit with the venv's command replaced by /bin/true: verify wants an executable."""
    true = shutil.which("true")
    assert true is not None
    assert text.count(VENV_COMMAND) == 2
    path = folder / "harbridge.service"
    path.write_text(text.replace(VENV_COMMAND, true))
    return path


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_systemd_analyze()
    unit = runnable_unit_copy(tmp_path, UNIT.read_text())
    result = run(analyze, "verify", str(unit))
    # verify exits 0 even for unknown keys and bad values; it only warns: no output is clean.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        (("Restart=on-failure", "Restart=sometimes"), "restart specifier"),
        (("ProtectHome=yes", "ProtectHome=yes\nProtectHomeDirs=yes"), "Unknown key"),
    ],
)
def test_systemd_analyze_verify_would_catch_a_broken_unit(
    tmp_path: Path, change: tuple[str, str], warning: str
) -> None:
    analyze = require_systemd_analyze()
    unit = runnable_unit_copy(tmp_path, UNIT.read_text().replace(*change))
    result = run(analyze, "verify", str(unit))
    assert warning in result.stderr


def test_unit_sandbox_exposure_is_rated_ok_or_better(tmp_path: Path) -> None:
    analyze = require_systemd_analyze()
    unit = runnable_unit_copy(tmp_path, UNIT.read_text())
    result = run(analyze, "security", "--offline=yes", str(unit))
    if "--offline" in result.stderr:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    match = re.search(
        r"Overall exposure level for harbridge\.service: ([\d.]+) (\w+)", result.stdout
    )
    assert match is not None, result.stdout + result.stderr
    assert match[2] in ("PERFECT", "SAFE", "OK"), match[0]


# --- installer ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkout() -> Iterator[Path]:
    """A stand-in checkout for the installer: a copy of deploy/ and a pyproject.toml.

    Run as root, the tests run the installer as user nobody, who may not be able to read
    the real checkout (under /root, say): the copy is readable by everyone.
    """
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        shutil.copytree(DEPLOY, root / "deploy")
        (root / "pyproject.toml").write_text('[project]\nname = "harbridge"\n')
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() or path.suffix == ".sh" else 0o644)
        yield root


def run_installer(
    checkout: Path, *args: str, arch: str = "aarch64"
) -> subprocess.CompletedProcess[str]:
    """Run the installer as an unprivileged user, so that it can never install anything here.

    ``HARBRIDGE_ARCH`` stands in for ``uname -m``; ``{checkout}`` in ``args`` is replaced.
    """
    as_root = os.geteuid() == 0
    nobody = pwd.getpwnam("nobody").pw_uid if as_root else None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HARBRIDGE_ARCH": arch, "LC_ALL": "C"}
    return subprocess.run(
        ["bash", str(checkout / "deploy" / INSTALLER.name)]
        + [arg.format(checkout=checkout) for arg in args],
        env=env,
        cwd="/",
        user=nobody,
        group=nobody,
        extra_groups=[] if as_root else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installer_is_valid_bash() -> None:
    result = run("bash", "-n", str(INSTALLER))
    assert (result.returncode, result.stderr) == (0, "")


def test_installer_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt install shellcheck)")
    result = run(shellcheck, str(INSTALLER))
    assert (result.returncode, result.stdout) == (0, "")


def test_installer_help_names_every_option_and_the_onnxruntime_pin(checkout: Path) -> None:
    result = run_installer(checkout, "--help", arch="x86_64")
    assert (result.returncode, result.stderr) == (0, "")
    for text in ("--uninstall", "--purge", "--force", "--onnxruntime", "SOURCE", "1.20.1"):
        assert text in result.stdout
    assert "Illegal instruction" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["--purge"], "--purge only goes with --uninstall"),
        (["--uninstall", "somewhere"], "--uninstall takes no SOURCE"),
        (["--onnxruntime"], "--onnxruntime needs a version"),
        (["--onnxruntime", "latest"], "wants a version number"),
        (["--onnxruntime", "1.21.0"], "1.21.0 dies with 'Illegal instruction'"),
        (["a", "b"], "more than one SOURCE"),
        (["/nonexistent/harbridge"], "no such file or directory: /nonexistent/harbridge"),
        (["{checkout}/deploy"], "holds no pyproject.toml"),
        (["{checkout}/deploy/install-pi.sh"], "is not a wheel (.whl)"),
    ],
)
def test_installer_refuses_bad_arguments_with_one_line(
    checkout: Path, args: list[str], message: str
) -> None:
    result = run_installer(checkout, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("install-pi.sh: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("x86_64", "this machine is x86_64; pass --force"),
        ("armv7l", "32-bit ARM system (armv7l): onnxruntime publishes no wheels"),
    ],
)
def test_installer_refuses_other_architectures_without_force(
    checkout: Path, arch: str, message: str
) -> None:
    result = run_installer(checkout, arch=arch)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "arch", "before"),
    [
        ([], "aarch64", ""),
        (["--force"], "x86_64", "warning: this machine is x86_64, not aarch64"),
        (["{checkout}"], "aarch64", ""),
        (["--uninstall"], "x86_64", ""),
        (["--uninstall", "--purge"], "aarch64", ""),
    ],
)
def test_installer_refuses_to_run_without_root(
    checkout: Path, args: list[str], arch: str, before: str
) -> None:
    result = run_installer(checkout, *args, arch=arch)
    assert result.returncode == 1
    assert result.stderr.startswith("install-pi.sh: error: must run as root")
    assert "sudo " in result.stderr
    assert before in result.stdout


def readonly_value(name: str) -> str:
    """The value of ``readonly NAME=...`` in the installer, with $PREFIX expanded."""
    text = INSTALLER.read_text()
    match = re.search(rf"^readonly {name}=(\S+)$", text, re.MULTILINE)
    assert match is not None, name
    prefix = re.search(r"^readonly PREFIX=(\S+)$", text, re.MULTILINE)
    assert prefix is not None
    return match[1].replace("$PREFIX", prefix[1])


def test_installer_puts_things_where_the_unit_looks() -> None:
    assert readonly_value("VENV") + "/bin/harbridge" == VENV_COMMAND
    assert readonly_value("CONFIG_DIR") + "/env" == unit_values("Service", "EnvironmentFile")[0][1:]
    assert readonly_value("STATE_DIR") == "/var/lib/" + unit_values("Service", "StateDirectory")[0]
    assert readonly_value("SERVICE_USER") == unit_values("Service", "User")[0]


# --- example config and udev rule ---------------------------------------------------


def replaced(text: str, replacements: dict[str, tuple[str, int]]) -> str:
    """``text`` with each ``old`` replaced by ``new``, after checking it occurs ``count`` times.

    A deploy file that changes so that a replacement no longer fits fails the test instead
    of leaving it to test something else.
    """
    for old, (new, count) in replacements.items():
        assert text.count(old) == count, f"{old!r} should occur {count} time(s)"
        text = text.replace(old, new)
    return text


def example_config(folder: Path, *, url: str | None = None, ca: Path | None = None) -> Config:
    """The example config loaded from ``folder``, beside a bundle folder and a CA file.

    ``url`` replaces the gateway's URL (an ``mqtt://`` one drops ``ca_file``, as the
    example's comment says); ``ca`` is copied to the CA file.
    """
    text = EXAMPLE_CONFIG.read_text()
    if url is not None:
        text = replaced(text, {'url = "mqtts://gateway.local:8883"': (f'url = "{url}"', 1)})
    if url is not None and url.startswith("mqtt://"):
        text = replaced(text, {'ca_file = "ca.crt"': ("", 1)})
    (folder / "bundle").mkdir()
    if ca is None:
        (folder / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    else:
        shutil.copyfile(ca, folder / "ca.crt")
    path = folder / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_example_config_loads(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    assert config.device == "pi-kitchen"
    assert config.bundle == tmp_path / "bundle"
    assert config.sources == (
        SerialSource(port="/dev/imu0", device="wrist-01", baudrate=115200, format="csv"),
        MqttSource(topic="imu/+/raw", device=None),
    )
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("gateway.local", 8883, True)
    assert (config.mqtt.username, config.mqtt.password) == ("harbridge", None)
    assert config.mqtt.ca_file == tmp_path / "ca.crt"
    assert config.mqtt.topic_prefix == "harbridge"
    assert config.postprocess.smoothing == 3


def test_example_config_takes_the_password_from_the_unit_environment(tmp_path: Path) -> None:
    settings = example_config(tmp_path).mqtt
    assert resolve_password(settings, {"HARBRIDGE_MQTT_PASSWORD": "s3cret"}) == "s3cret"
    with pytest.raises(InputError, match="HARBRIDGE_MQTT_PASSWORD is not set"):
        resolve_password(settings, {})
    # The installer's env file template names the same variable.
    assert "HARBRIDGE_MQTT_PASSWORD=" in INSTALLER.read_text()


UDEV_KEY = re.compile(r'^(?P<key>[A-Z]+(?:\{[^}]+\})?)(?P<op>==|!=|\+=|:=|=)"(?P<value>[^"]*)"$')
UDEV_MATCH_KEYS = ("SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "KERNELS", "ATTRS{", "ENV{", "ACTION")
UDEV_ASSIGN_KEYS = ("SYMLINK", "GROUP", "MODE", "OWNER", "TAG")


def udev_rules(text: str) -> list[dict[str, tuple[str, str]]]:
    """Each rule of a rules file as ``key -> (operator, value)``."""
    rules: list[dict[str, tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule: dict[str, tuple[str, str]] = {}
        for token in line.split(", "):
            match = UDEV_KEY.match(token.strip())
            assert match is not None, f'not a KEY op "value" pair: {token!r} in {line!r}'
            rule[match["key"]] = (match["op"], match["value"])
        rules.append(rule)
    return rules


def test_udev_rules_give_serial_adapters_a_stable_name_for_the_dialout_group(
    tmp_path: Path,
) -> None:
    rules = udev_rules(UDEV_RULES.read_text())
    assert len(rules) >= 1
    for rule in rules:
        for key, (op, _) in rule.items():
            if key.startswith(UDEV_MATCH_KEYS):
                assert op == "==", key
            else:
                assert key.startswith(UDEV_ASSIGN_KEYS) and op in ("=", "+="), key
        assert rule["SUBSYSTEM"] == ("==", "tty")
        assert rule["SYMLINK"][0] == "+=" and re.fullmatch(r"imu\d+", rule["SYMLINK"][1])
        assert rule["GROUP"] == ("=", "dialout")
        assert rule["MODE"] == ("=", "0660")
    # The example config reads the first adapter by the name the rules give it.
    serial = [s for s in example_config(tmp_path).sources if isinstance(s, SerialSource)]
    assert [s.port for s in serial] == ["/dev/" + rules[0]["SYMLINK"][1]]


# --- Mosquitto gateway ----------------------------------------------------------------

OBSERVER = "test-observer"
PASSWORDS = {
    "harbridge": "daemon-password",
    "wrist-07": "wrist-07-password",
    "wrist-08": "wrist-08-password",
    "dashboard": "dashboard-password",
    OBSERVER: "observer-password",
}


def require_tool(name: str) -> str:
    """A command the gateway tests need; skipped or failed like a missing mosquitto."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("HARBRIDGE_REQUIRE_MOSQUITTO") == "1":
            pytest.fail(f"{name} is not installed but HARBRIDGE_REQUIRE_MOSQUITTO=1")
        pytest.skip(f"{name} is not installed (apt install mosquitto)")
    return found


@dataclass(frozen=True)
class Gateway:
    """The deploy/ gateway config running in a real broker on loopback ports."""

    broker: Mosquitto
    tls_port: int
    loopback_port: int
    ca: Path

    def options(
        self, user: str | None, *, password: str | None = None, tls: bool = True
    ) -> BrokerOptions:
        """How ``user`` connects (with its password unless ``password`` is given)."""
        settings = MqttSettings(
            host=self.broker.host,
            port=self.tls_port if tls else self.loopback_port,
            tls=tls,
            username=user,
            password=password or (PASSWORDS[user] if user else None),
            ca_file=self.ca if tls else None,
        )
        return broker_options(settings)

    def client(self, user: str | None, *, tls: bool = True) -> aiomqtt.Client:
        return self.options(user, tls=tls).client(timeout=5)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Debian's layout: a main config with persistence and include_dir, the gateway in conf.d."""
    binary = require_mosquitto()
    mosquitto_passwd = require_tool("mosquitto_passwd")
    folder = tmp_path_factory.mktemp("gateway")
    pki = make_test_pki(folder / "pki")
    passwd = folder / "harbridge.passwd"
    for number, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if number == 0 else []
        subprocess.run(
            [mosquitto_passwd, *create, "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    acl = folder / "harbridge.acl"
    # The ACL under test, plus one test-only account that may read everything.
    acl.write_text(f"{ACL.read_text()}\nuser {OBSERVER}\ntopic read #\n")
    tls_port, loopback_port = free_port(), free_port()
    conf_d = folder / "conf.d"
    conf_d.mkdir()
    (conf_d / GATEWAY_CONF.name).write_text(
        replaced(
            GATEWAY_CONF.read_text(),
            {
                "/etc/mosquitto/certs/ca.crt": (str(pki["ca"]), 1),
                "/etc/mosquitto/certs/server.crt": (str(pki["cert"]), 1),
                "/etc/mosquitto/certs/server.key": (str(pki["key"]), 1),
                "/etc/mosquitto/harbridge.passwd": (str(passwd), 1),
                "/etc/mosquitto/harbridge.acl": (str(acl), 1),
                # The tests keep the TLS listener off the network.
                "listener 8883\n": (f"listener {tls_port} 127.0.0.1\n", 1),
                "listener 1883 127.0.0.1\n": (f"listener {loopback_port} 127.0.0.1\n", 1),
            },
        )
    )
    broker = Mosquitto(
        binary, folder / "broker", extra_config=f"include_dir {conf_d}\n", persistence=True
    )
    broker.start()
    try:
        yield Gateway(broker, tls_port, loopback_port, pki["ca"])
    finally:
        broker.stop()


Message = tuple[str, bytes]


async def publish_all(gateway: Gateway, user: str, messages: Sequence[Message]) -> None:
    async with gateway.client(user) as publisher:
        for topic, payload in messages:
            await publisher.publish(topic, payload, qos=1)


async def receive(client: aiomqtt.Client, count: int) -> list[Message]:
    """The next ``count`` messages ``client`` receives."""
    received: list[Message] = []
    if count == 0:
        return received
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        received.append((str(message.topic), message.payload))
        if len(received) == count:
            break
    return received


def connect_error(options: BrokerOptions) -> aiomqtt.MqttError | None:
    """The error connecting with ``options`` raises, or None if it connects."""

    async def connect() -> None:
        async with options.client(timeout=5):
            pass

    try:
        asyncio.run(connect())
    except aiomqtt.MqttError as exc:
        return exc
    return None


@pytest.mark.mosquitto
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "loopback"])
def test_every_listener_refuses_anonymous_clients_and_wrong_passwords(
    gateway: Gateway, tls: bool
) -> None:
    anonymous = connect_error(gateway.options(None, tls=tls))
    wrong = connect_error(gateway.options("wrist-07", password="guess", tls=tls))
    right = connect_error(gateway.options("wrist-07", tls=tls))
    assert isinstance(anonymous, aiomqtt.MqttCodeError)
    assert isinstance(wrong, aiomqtt.MqttCodeError)
    assert "Not authorized" in str(anonymous) and "Not authorized" in str(wrong)
    assert right is None


@pytest.mark.mosquitto
def test_tls_needs_the_gateway_ca(gateway: Gateway) -> None:
    settings = MqttSettings(
        host=gateway.broker.host,
        port=gateway.tls_port,
        tls=True,
        username="dashboard",
        password=PASSWORDS["dashboard"],
    )
    # Without ca_file the client trusts only the system's CAs, which never signed the gateway.
    error = connect_error(broker_options(settings))
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert connect_error(gateway.options("dashboard")) is None


PUBLISHES = [
    # (user, [(topic, delivered?)]) in publishing order; the last publish is delivered, so
    # a forbidden one that got through would arrive before it.
    (
        "wrist-07",
        [
            ("imu/wrist-07/raw", True),
            ("imu/wrist-08/raw", False),
            ("imu/wrist-07/raw/more", False),
            ("harbridge/wrist-07/prediction", False),
            ("imu/wrist-07/raw", True),
        ],
    ),
    (
        "harbridge",
        [
            ("harbridge/pi-1/prediction", True),
            ("imu/wrist-07/raw", False),
            ("harbridge/pi-1/status", True),
            ("harbridge/pi-1/command", False),
            ("homeassistant/sensor/pi-1/config", False),
            ("harbridge/pi-1/metrics", True),
        ],
    ),
    (
        "dashboard",
        [
            ("harbridge/pi-1/prediction", False),
            ("imu/wrist-07/raw", False),
            # The pattern line lets every user write imu/<its own name>/raw.
            ("imu/dashboard/raw", True),
        ],
    ),
]


@pytest.mark.mosquitto
@pytest.mark.parametrize(("user", "sends"), PUBLISHES, ids=[user for user, _ in PUBLISHES])
def test_each_user_publishes_only_its_own_topics(
    gateway: Gateway, user: str, sends: list[tuple[str, bool]]
) -> None:
    messages = [(topic, f"message {number}".encode()) for number, (topic, _) in enumerate(sends)]
    delivered = [message for message, (_, ok) in zip(messages, sends, strict=True) if ok]

    async def scenario() -> list[Message]:
        async with asyncio.timeout(GUARD_S), gateway.client(OBSERVER) as observer:
            await observer.subscribe("#", qos=1)
            await publish_all(gateway, user, messages)
            return await receive(observer, len(delivered))

    assert asyncio.run(scenario()) == delivered


READS = [
    # (subscriber, filter, [(publisher, topic)], indices of the messages it receives)
    ("harbridge", "imu/+/raw", [("wrist-07", "imu/wrist-07/raw"), ("wrist-08", "imu/wrist-08/raw")], [0, 1]),
    ("dashboard", "harbridge/#", [("harbridge", "harbridge/pi-1/prediction"), ("wrist-07", "imu/wrist-07/raw")], [0]),
    ("wrist-07", "#", [("wrist-08", "imu/wrist-08/raw"), ("harbridge", "harbridge/pi-1/prediction")], []),
    ("dashboard", "imu/+/raw", [("wrist-07", "imu/wrist-07/raw")], []),
]  # fmt: skip


@pytest.mark.mosquitto
@pytest.mark.parametrize(("user", "topic_filter", "sends", "expected"), READS)
def test_each_user_reads_only_what_it_may(
    gateway: Gateway,
    user: str,
    topic_filter: str,
    sends: list[tuple[str, str]],
    expected: list[int],
) -> None:
    messages = [(topic, f"from {publisher}".encode()) for publisher, topic in sends]

    async def scenario() -> list[Message]:
        async with (
            asyncio.timeout(GUARD_S),
            gateway.client(user) as subscriber,
            gateway.client(OBSERVER) as observer,
        ):
            await subscriber.subscribe(topic_filter, qos=1)
            await observer.subscribe("#", qos=1)
            for (publisher, _), message in zip(sends, messages, strict=True):
                await publish_all(gateway, publisher, [message])
            await receive(observer, len(messages))
            # The broker has now sent the subscriber whatever it may read, so the
            # acknowledgement of one more publish comes after all of it on the connection.
            # No one may write test/sync: the broker drops it but acknowledges it (MQTT 3.1.1).
            await subscriber.publish("test/sync", b"", qos=1)
            return await receive(subscriber, len(subscriber.messages))

    assert asyncio.run(scenario()) == [messages[i] for i in expected]


@pytest.mark.mosquitto
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "loopback"])
def test_the_example_config_connects_the_daemon_to_the_gateway(
    gateway: Gateway, tmp_path: Path, tls: bool
) -> None:
    port = gateway.tls_port if tls else gateway.loopback_port
    url = f"{'mqtts' if tls else 'mqtt'}://{gateway.broker.host}:{port}"
    config = example_config(tmp_path, url=url, ca=gateway.ca)
    daemon = broker_options(
        config.mqtt, environ={"HARBRIDGE_MQTT_PASSWORD": PASSWORDS["harbridge"]}
    )
    (imu_source,) = [s for s in config.sources if isinstance(s, MqttSource)]
    sample = ("imu/wrist-07/raw", b'{"ax": [0.1]}')
    prediction = (prediction_topic(config.mqtt.topic_prefix, "wrist-07"), b'{"label": "wave"}')

    async def scenario() -> tuple[list[Message], list[Message]]:
        async with (
            asyncio.timeout(GUARD_S),
            daemon.client() as client,
            gateway.client("dashboard") as dashboard,
        ):
            await client.subscribe(imu_source.topic, qos=1)
            await dashboard.subscribe("harbridge/#", qos=1)
            await publish_all(gateway, "wrist-07", [sample])
            samples = await receive(client, 1)
            await client.publish(*prediction, qos=1)
            return samples, await receive(dashboard, 1)

    assert asyncio.run(scenario()) == ([sample], [prediction])
