#!/usr/bin/env bash
# Install (or remove) the harbridge daemon on Raspberry Pi OS 64-bit as a systemd service.
# Idempotent: running it again leaves the same state and succeeds; it is also how a newer
# harbridge is installed. See docs/DEPLOY.md.
set -euo pipefail

readonly PROG=${0##*/}
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly PREFIX=/opt/harbridge
readonly VENV=$PREFIX/venv
readonly CONFIG_DIR=/etc/harbridge
readonly STATE_DIR=/var/lib/harbridge
readonly UNIT=/etc/systemd/system/harbridge.service
readonly LINK=/usr/local/bin/harbridge
readonly SERVICE_USER=harbridge
# onnxruntime 1.21.0's aarch64 wheels die with "Illegal instruction" as soon as they are
# imported on the Pi 4's Cortex-A72, an ARMv8.0 core (microsoft/onnxruntime#23957 and
# #24112, fixed by #23978 in 1.22.0). 1.20.1 is the last release before the regression
# and is what this installer is known to run on a Pi 4; 1.22 or newer works as well.
readonly DEFAULT_ONNXRUNTIME=1.20.1
# python3-venv brings ensurepip (pip inside the venv); every Python dependency comes as a
# wheel, so no compiler is needed.
readonly APT_PACKAGES=(python3 python3-venv ca-certificates)

usage() {
    cat <<EOF
Usage: sudo $PROG [--onnxruntime VERSION] [--force] [SOURCE]
       sudo $PROG --uninstall [--purge]

Install harbridge on Raspberry Pi OS 64-bit (aarch64) as the systemd service
'harbridge': system packages, the '$SERVICE_USER' user (group dialout), a Python venv in
$VENV, the unit $UNIT, the config directory $CONFIG_DIR
(an example config.toml if none exists) and the state directory $STATE_DIR.
Running it again changes nothing and succeeds; after an upgrade of SOURCE it installs
the new harbridge and restarts the service if it was running.

SOURCE is the harbridge source directory or a wheel (.whl); default: the checkout that
holds this script ($(dirname -- "$SCRIPT_DIR")).

Options:
  --onnxruntime VERSION  onnxruntime to install (default $DEFAULT_ONNXRUNTIME; 1.21.0 dies
                         with "Illegal instruction" on a Pi 4, 1.22 and newer work too)
  --force                install on a machine that is not aarch64
  --uninstall            stop and remove the service, the venv and the command; keep
                         $CONFIG_DIR (config, bundle, env) and $STATE_DIR
  --purge                with --uninstall: remove those too, and the '$SERVICE_USER' user
  -h, --help             show this help
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
usage_error() {
    printf "%s: error: %s (see '%s --help')\n" "$PROG" "$*" "$PROG" >&2
    exit 2
}

have_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; }

check_arch() {
    local arch=${HARBRIDGE_ARCH:-$(uname -m)}
    [[ $arch == aarch64 ]] && return
    if [[ $FORCE == 1 ]]; then
        log "warning: this machine is $arch, not aarch64; installing anyway (--force)"
        return
    fi
    case $arch in
    armv6l | armv7l | armhf)
        die "this is a 32-bit ARM system ($arch): onnxruntime publishes no wheels for it;" \
            "install Raspberry Pi OS 64-bit, or pass --force to try anyway"
        ;;
    *)
        die "this installer is for Raspberry Pi OS 64-bit (aarch64), this machine is $arch;" \
            "pass --force to install here anyway"
        ;;
    esac
}

check_root() {
    [[ $EUID -eq 0 ]] || die "must run as root to create the user, the venv and the service;" \
        "run it as: sudo $0 ${ARGS[*]}"
}

resolve_source() {
    if [[ -z $SOURCE ]]; then
        SOURCE=$(dirname -- "$SCRIPT_DIR")
        [[ -f $SOURCE/pyproject.toml ]] || usage_error "$SOURCE is not a harbridge checkout;" \
            "pass the harbridge source directory or wheel as SOURCE"
        return
    fi
    if [[ -d $SOURCE ]]; then
        [[ -f $SOURCE/pyproject.toml ]] || usage_error "$SOURCE holds no pyproject.toml;" \
            "pass the harbridge source directory or a .whl file"
    elif [[ -f $SOURCE ]]; then
        [[ $SOURCE == *.whl ]] || usage_error "$SOURCE is not a wheel (.whl);" \
            "pass the harbridge source directory or a .whl file"
    else
        usage_error "no such file or directory: $SOURCE"
    fi
    SOURCE=$(realpath -- "$SOURCE")
}

install_apt_packages() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        log "system packages: already installed"
        return
    fi
    log "system packages: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

create_user() {
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        log "user: creating system user $SERVICE_USER"
        useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "harbridge daemon" "$SERVICE_USER"
    fi
    # The unit adds dialout itself; membership here lets `sudo -u harbridge` open ports too.
    if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx dialout; then
        usermod -a -G dialout "$SERVICE_USER"
    fi
}

create_directories() {
    install -d -m 0755 -o root -g root "$PREFIX" "$CONFIG_DIR"
    install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
    if [[ ! -e $CONFIG_DIR/config.toml ]]; then
        log "config: writing the example $CONFIG_DIR/config.toml; edit it"
        install -m 0644 -o root -g root "$SCRIPT_DIR/config.example.toml" "$CONFIG_DIR/config.toml"
    fi
    if [[ ! -e $CONFIG_DIR/env ]]; then
        # Read by systemd as root before the service drops privileges: no one else needs it.
        (umask 077 && printf '# HARBRIDGE_MQTT_PASSWORD=the-broker-password\n' >"$CONFIG_DIR/env")
    fi
}

install_venv() {
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "harbridge needs Python 3.11 or newer, $(python3 -V) found"
    if [[ ! -x $VENV/bin/python ]]; then
        log "venv: creating $VENV"
        python3 -m venv "$VENV"
    fi
    log "venv: installing harbridge from $SOURCE with onnxruntime==$ONNXRUNTIME"
    local target=$SOURCE
    if [[ -d $SOURCE ]]; then
        # pip builds a source tree in place (build/, *.egg-info): build a copy, so that
        # running as root leaves no root-owned files in the checkout.
        BUILD_DIR=$(mktemp -d)
        trap 'rm -rf -- "$BUILD_DIR"' EXIT
        tar -C "$SOURCE" --exclude-vcs --exclude-vcs-ignores --exclude=.venv -cf - . |
            tar -C "$BUILD_DIR" -xf -
        target=$BUILD_DIR
    fi
    "$VENV/bin/pip" install --quiet --no-input --disable-pip-version-check \
        "onnxruntime==$ONNXRUNTIME" "$target"
    local status=0
    "$VENV/bin/python" -c 'import numpy, onnxruntime' || status=$?
    if ((status == 128 + 4)); then
        die "onnxruntime $ONNXRUNTIME dies with 'Illegal instruction' on this CPU;" \
            "re-run with --onnxruntime $DEFAULT_ONNXRUNTIME (or 1.22 and newer)"
    fi
    ((status == 0)) || die "the venv cannot import numpy and onnxruntime (exit status $status)"
    ln -sfn "$VENV/bin/harbridge" "$LINK"
    log "venv: $("$LINK" --version)"
}

install_unit() {
    local changed=0
    if ! cmp -s -- "$SCRIPT_DIR/harbridge.service" "$UNIT"; then
        log "unit: installing $UNIT"
        install -m 0644 -o root -g root -- "$SCRIPT_DIR/harbridge.service" "$UNIT"
        changed=1
    fi
    if ! have_systemd; then
        log "unit: systemd is not running on this machine, so the service is not enabled"
        return
    fi
    ((changed == 0)) || systemctl daemon-reload
    systemctl enable --quiet harbridge.service
    if systemctl is-active --quiet harbridge.service; then
        log "service: restarting it on the newly installed harbridge"
        systemctl restart harbridge.service
    fi
}

do_install() {
    check_arch
    local file
    for file in harbridge.service config.example.toml; do
        [[ -f $SCRIPT_DIR/$file ]] || die "$SCRIPT_DIR/$file is missing; run the script from" \
            "a harbridge checkout's deploy/ folder"
    done
    resolve_source
    check_root
    install_apt_packages
    create_user
    create_directories
    install_venv
    install_unit
    cat <<EOF
$PROG: done. Next:
  1. edit $CONFIG_DIR/config.toml (and the broker password in $CONFIG_DIR/env)
  2. copy a calibration bundle to $CONFIG_DIR/bundle
  3. sudo -u $SERVICE_USER $LINK run --check --config $CONFIG_DIR/config.toml
  4. sudo systemctl restart harbridge && journalctl -u harbridge -f
EOF
}

do_uninstall() {
    check_root
    if have_systemd && [[ -f $UNIT ]]; then
        log "service: stopping and disabling harbridge"
        systemctl disable --now --quiet harbridge.service || true
    fi
    if [[ -f $UNIT ]]; then
        rm -f -- "$UNIT"
        if have_systemd; then
            systemctl daemon-reload
        fi
    fi
    if [[ -L $LINK && $(readlink -- "$LINK") == "$VENV/bin/harbridge" ]]; then
        rm -f -- "$LINK"
    fi
    rm -rf -- "$PREFIX"
    if [[ $PURGE == 1 ]]; then
        log "purge: removing $CONFIG_DIR, $STATE_DIR and the user $SERVICE_USER"
        rm -rf -- "$CONFIG_DIR" "$STATE_DIR"
        if getent passwd "$SERVICE_USER" >/dev/null; then
            userdel "$SERVICE_USER"
        fi
    else
        log "kept $CONFIG_DIR (config, bundle, env), $STATE_DIR and the user $SERVICE_USER;" \
            "'$PROG --uninstall --purge' removes them"
    fi
    log "uninstalled"
}

ARGS=("$@")
BUILD_DIR=
UNINSTALL=0
PURGE=0
FORCE=0
ONNXRUNTIME=$DEFAULT_ONNXRUNTIME
SOURCE=
while (($# > 0)); do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --force) FORCE=1 ;;
    --onnxruntime)
        (($# > 1)) || usage_error "--onnxruntime needs a version, e.g. $DEFAULT_ONNXRUNTIME"
        ONNXRUNTIME=$2
        shift
        ;;
    --onnxruntime=*) ONNXRUNTIME=${1#*=} ;;
    -*) usage_error "unknown option $1" ;;
    *)
        [[ -z $SOURCE ]] || usage_error "more than one SOURCE: $SOURCE and $1"
        SOURCE=$1
        ;;
    esac
    shift
done
[[ $ONNXRUNTIME =~ ^[0-9]+(\.[0-9]+)*$ ]] ||
    usage_error "--onnxruntime wants a version number such as $DEFAULT_ONNXRUNTIME, got '$ONNXRUNTIME'"
if [[ $ONNXRUNTIME == 1.21.0 ]]; then
    usage_error "onnxruntime 1.21.0 dies with 'Illegal instruction' on a Pi 4;" \
        "use $DEFAULT_ONNXRUNTIME or 1.22 and newer"
fi
((PURGE == 0 || UNINSTALL == 1)) || usage_error "--purge only goes with --uninstall"
if ((UNINSTALL == 1)); then
    [[ -z $SOURCE ]] || usage_error "--uninstall takes no SOURCE"
    do_uninstall
else
    do_install
fi
