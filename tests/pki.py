"""A throw-away public key infrastructure for TLS tests, made with the ``openssl`` command.

:func:`make_test_pki` writes a private CA, a server certificate for ``127.0.0.1`` and
``localhost``, and client certificates signed by the same CA, all valid for two days.
Tests that take it skip when ``openssl`` is not installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["make_test_pki"]

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str | Path) -> None:
    try:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    except FileNotFoundError:
        pytest.skip("the openssl command is not installed")


def _signed(folder: Path, name: str, subject: str, extensions: str, ca: Path, ca_key: Path) -> None:
    """Write ``<name>.crt`` and ``<name>.key``, a certificate for ``subject`` signed by the CA."""
    (folder / f"{name}.ext").write_text(extensions)
    _openssl("req", *_EC, "-keyout", folder / f"{name}.key", "-out", folder / f"{name}.csr",
             "-subj", subject)  # fmt: skip
    _openssl("x509", "-req", "-in", folder / f"{name}.csr", "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", folder / f"{name}.crt", "-days", "2",
             "-extfile", folder / f"{name}.ext")  # fmt: skip


def make_test_pki(folder: Path, clients: tuple[str, ...] = ("harbridge",)) -> dict[str, Path]:
    """A private CA, a server certificate for 127.0.0.1 and one client certificate per name.

    Parameters
    ----------
    folder : path
        Created; everything is written into it.
    clients : tuple of str
        Common names of the client certificates (``extendedKeyUsage=clientAuth``).

    Returns
    -------
    dict of str to Path
        ``ca`` (the CA certificate), ``cert`` and ``key`` (the server's), and for each
        client name ``<name>.crt`` and ``<name>.key``.
    """
    folder.mkdir()
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    _openssl("req", "-x509", *_EC, "-keyout", ca_key, "-out", ca, "-days", "2",
             "-subj", "/CN=harbridge test CA")  # fmt: skip
    _signed(folder, "server", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n", ca, ca_key)  # fmt: skip
    paths = {"ca": ca, "cert": folder / "server.crt", "key": folder / "server.key"}
    for client in clients:
        _signed(folder, client, f"/CN={client}", "extendedKeyUsage=clientAuth\n", ca, ca_key)
        paths[f"{client}.crt"] = folder / f"{client}.crt"
        paths[f"{client}.key"] = folder / f"{client}.key"
    return paths
