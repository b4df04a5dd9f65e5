"""The bundle directory: written all-or-nothing, read only after every sha256 matches.

Only standard-library code here, so the device reads bundles without the calibration
extras. A bundle holds ONNX graphs, JSON and a static report; nothing in it is executed
or unpickled, and nothing may point outside the bundle: file names are plain names (no
folders, no ``..``, not absolute), the ``graphs`` of the manifest name listed files, a
file that is a symbolic link must resolve inside the bundle directory, and an ONNX graph
keeps all its weights inline (:mod:`harbridge.calibration.onnx_external`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harbridge.calibration.atomic_dir import replacing_directory
from harbridge.calibration.onnx_external import external_tensor
from harbridge.errors import InputError

__all__ = ["MANIFEST", "SCHEMA", "load_manifest", "write_bundle"]

MANIFEST = "manifest.json"
SCHEMA = "harbridge.bundle/1"
#: what a bundle may contain
ALLOWED_SUFFIXES = (".onnx", ".json", ".html")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(out: str | Path, files: dict[str, bytes], manifest: dict[str, Any]) -> Path:
    """Write ``files`` and the manifest into the directory ``out``, atomically.

    Everything goes into a temporary sibling directory first, which is renamed onto
    ``out`` at the end: a failure leaves no half-written bundle. An existing bundle at
    ``out`` is replaced; any other existing path is refused.

    Parameters
    ----------
    out : path
        The bundle directory to create.
    files : dict of str to bytes
        File name (no directories) → content.
    manifest : dict
        The manifest without ``files``; the sha256 and size of every file are added.
    """
    out = Path(out)
    if out.exists() and not (out / MANIFEST).is_file():
        raise InputError(
            out, "--out", "exists and is not a harbridge bundle; choose a new directory."
        )
    for name in files:
        _check_name(out, name)
    with replacing_directory(out) as staging:
        for name, content in files.items():
            (staging / name).write_bytes(content)
        complete = dict(
            manifest,
            files={
                name: {"sha256": _sha256(content), "bytes": len(content)}
                for name, content in sorted(files.items())
            },
        )
        (staging / MANIFEST).write_text(json.dumps(complete, indent=2, sort_keys=False) + "\n")
    return out


def _check_name(bundle: Path, name: str) -> None:
    if Path(name).name != name or name in ("", ".", "..") or not name.endswith(ALLOWED_SUFFIXES):
        raise InputError(
            bundle / MANIFEST,
            f"files.{name}",
            "bundle files must be plain .onnx, .json or .html names inside the bundle directory.",
        )


def load_manifest(bundle: str | Path) -> dict[str, Any]:
    """Read and verify a bundle's manifest: schema, file names, sizes and sha256.

    Raises
    ------
    InputError
        Not a bundle, unknown schema, a path escaping the bundle, a missing or modified file.
    """
    bundle = Path(bundle)
    manifest_path = bundle / MANIFEST
    if not manifest_path.is_file():
        raise InputError(
            bundle, MANIFEST, "missing; this is not a harbridge bundle (run 'harbridge calibrate')."
        )
    _check_inside(bundle, manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            manifest_path, "json", f"is not valid JSON ({exc}); re-export the bundle."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        found = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputError(
            manifest_path,
            "schema",
            f"expected {SCHEMA!r}, found {found!r}; re-export the bundle with this version.",
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(manifest_path, "files", "missing or empty; re-export the bundle.")
    for name, entry in files.items():
        _check_name(bundle, name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise InputError(manifest_path, f"files.{name}", "has no sha256; re-export the bundle.")
        path = bundle / name
        if not path.is_file():
            raise InputError(
                path, "file", "listed in the manifest but missing; copy the whole bundle directory."
            )
        _check_inside(bundle, path)
        data = path.read_bytes()
        if _sha256(data) != entry["sha256"]:
            raise InputError(
                path,
                "sha256",
                "does not match the manifest: the file was modified or damaged; copy the "
                "bundle again.",
            )
        if name.endswith(".onnx"):
            _check_inline(path, data)
    _check_graphs(manifest_path, manifest.get("graphs", {}), files)
    return manifest


def _check_inside(bundle: Path, path: Path) -> None:
    """Refuse a file that is a symbolic link to somewhere outside the bundle directory."""
    target = path.resolve()
    if not target.is_relative_to(bundle.resolve()):
        raise InputError(
            path,
            "file",
            f"links to {target}, outside the bundle directory; a bundle must hold its own "
            "files: copy it without links (cp -rL) or re-export it.",
        )


def _check_inline(path: Path, data: bytes) -> None:
    """Refuse an ONNX graph that would make onnxruntime read another file."""
    try:
        tensor = external_tensor(data)
    except ValueError as exc:
        raise InputError(
            path, "onnx", f"is not a valid ONNX file ({exc}); re-export the bundle."
        ) from exc
    if tensor is not None:
        raise InputError(
            path,
            "onnx",
            f"keeps tensor {tensor!r} in an external file; a bundle's graphs hold all their "
            "weights: re-export the bundle.",
        )


def _check_graphs(manifest_path: Path, graphs: object, files: dict[str, Any]) -> None:
    """Every graph the manifest names must be one of its verified files."""
    if not isinstance(graphs, dict):
        raise InputError(manifest_path, "graphs", "must map graph roles to file names.")
    for role, name in graphs.items():
        if not isinstance(name, str) or name not in files:
            raise InputError(
                manifest_path,
                f"graphs.{role}",
                f"names {name!r}, which is not one of the bundle's files; re-export the bundle.",
            )
