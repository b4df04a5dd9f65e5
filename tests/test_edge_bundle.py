"""Bundle integrity on the device: ``harbridge run --check`` (and ``run``) refuse a bundle
whose files do not match their sha256, that reaches outside its folder through a name, a
graph entry or a symbolic link, or that holds anything but ONNX, JSON and HTML.

Each case edits a copy of a real bundle and expects exit code 2 with one line naming the
file and the field. The configs name a serial port that does not exist and a broker
nothing listens on: nothing is opened before the bundle is verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harbridge.cli import main
from tests.daemon_support import bundle
from tests.mosquitto import free_port

# Exported so that pytest (and ruff) see the imported fixture as used.
__all__ = ["bundle"]


def config_for(bundle: Path, folder: Path) -> Path:
    path = folder / "harbridge.toml"
    path.write_text(
        f'device = "pi-1"\nbundle = "{bundle}"\n'
        '[[sources]]\nkind = "serial"\nport = "/dev/harbridge-test-no-such-port"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n'
    )
    return path


def copy_of(bundle: Path, folder: Path) -> Path:
    copy = folder / "bundle"
    shutil.copytree(bundle, copy, symlinks=True)
    return copy


def edit_manifest(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_a_byte(copy: Path, outside: Path) -> str:
    graph = copy / "pipeline.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the hash can tell
    graph.write_bytes(bytes(data))
    return "pipeline.onnx: sha256: does not match the manifest"


def parent_in_files(copy: Path, outside: Path) -> str:
    shutil.move(copy / "imu_to_latent.onnx", copy.parent / "imu_to_latent.onnx")

    def move(manifest: dict[str, Any]) -> None:
        manifest["files"]["../imu_to_latent.onnx"] = manifest["files"].pop("imu_to_latent.onnx")
        manifest["graphs"]["imu_to_latent"] = "../imu_to_latent.onnx"

    edit_manifest(copy, move)
    return "files.../imu_to_latent.onnx: bundle files must be plain .onnx, .json or .html names"


def absolute_in_files(copy: Path, outside: Path) -> str:
    target = outside / "pipeline.onnx"

    def move(manifest: dict[str, Any]) -> None:
        manifest["files"][str(target)] = manifest["files"].pop("pipeline.onnx")
        manifest["graphs"]["pipeline"] = str(target)

    shutil.move(copy / "pipeline.onnx", target)
    edit_manifest(copy, move)
    return f"files.{target}: bundle files must be plain"


def parent_in_graphs(copy: Path, outside: Path) -> str:
    edit_manifest(copy, lambda m: m["graphs"].update(pipeline="../outside/pipeline.onnx"))
    return "manifest.json: graphs.pipeline: names '../outside/pipeline.onnx', which is not one"


def absolute_in_graphs(copy: Path, outside: Path) -> str:
    target = str(outside / "pipeline.onnx")
    edit_manifest(copy, lambda m: m["graphs"].update(pipeline=target))
    return f"manifest.json: graphs.pipeline: names '{target}', which is not one"


def link_out(copy: Path, outside: Path) -> str:
    # The linked file has the right bytes: only where it lives is wrong.
    (copy / "pipeline.onnx").unlink()
    (copy / "pipeline.onnx").symlink_to(outside / "pipeline.onnx")
    return f"pipeline.onnx: file: links to {(outside / 'pipeline.onnx').resolve()}, outside"


def manifest_link_out(copy: Path, outside: Path) -> str:
    shutil.move(copy / "manifest.json", outside / "manifest.json")
    (copy / "manifest.json").symlink_to(outside / "manifest.json")
    return "manifest.json: file: links to"


def pickle_file(copy: Path, outside: Path) -> str:
    (copy / "model.pkl").write_bytes(b"\x80\x04K\x01.")

    def add(manifest: dict[str, Any]) -> None:
        manifest["files"]["model.pkl"] = {"sha256": sha256(copy / "model.pkl"), "bytes": 5}

    edit_manifest(copy, add)
    return "files.model.pkl: bundle files must be plain .onnx, .json or .html names"


def json_as_graph(copy: Path, outside: Path) -> str:
    edit_manifest(copy, lambda m: m["graphs"].update(pipeline="report_data.json"))
    return "report_data.json: onnx: onnxruntime cannot load it"


def external_data_out(copy: Path, outside: Path) -> str:
    """The pipeline keeps one weight in a file outside the bundle (ONNX external data)."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    graph = copy / "pipeline.onnx"
    model = onnx.load(graph)
    weight = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(weight)
    (outside / "weights.bin").write_bytes(values.tobytes())
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "../outside/weights.bin"), ("length", str(values.nbytes))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph.write_bytes(model.SerializeToString())
    edit_manifest(copy, lambda m: m["files"]["pipeline.onnx"].update(sha256=sha256(graph)))
    return f"pipeline.onnx: onnx: keeps tensor {weight.name!r} in an external file"


CASES = [
    flip_a_byte,
    parent_in_files,
    absolute_in_files,
    parent_in_graphs,
    absolute_in_graphs,
    link_out,
    manifest_link_out,
    pickle_file,
    json_as_graph,
    external_data_out,
]


@pytest.mark.parametrize("command", [["run", "--check"], ["run"]], ids=["check", "run"])
@pytest.mark.parametrize("damage", CASES, ids=[case.__name__ for case in CASES])
def test_a_bundle_that_is_not_what_was_calibrated_is_refused(
    tmp_path: Path,
    bundle: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path, Path], str],
    command: list[str],
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(bundle / "pipeline.onnx", outside / "pipeline.onnx")
    copy = copy_of(bundle, tmp_path)
    words = damage(copy, outside)
    code = main([*command, "--config", str(config_for(copy, tmp_path))])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith("harbridge: error: ")
    assert words in line


def test_links_that_stay_inside_the_bundle_are_fine(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bundle folder reached through a link, holding a file reached through a link."""
    copy = copy_of(bundle, tmp_path)
    (copy / "store").mkdir()
    shutil.move(copy / "pipeline.onnx", copy / "store" / "pipeline.onnx")
    (copy / "pipeline.onnx").symlink_to(Path("store") / "pipeline.onnx")
    current = tmp_path / "current"
    current.symlink_to(copy, target_is_directory=True)
    code = main(["run", "--check", "--config", str(config_for(current, tmp_path))])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    assert out.startswith("OK: harbridge.toml")
    assert os.path.islink(current / "pipeline.onnx")


def external(tensor: Any, location: str = "../weights.bin") -> Any:
    """Mark an ONNX tensor as kept in ``location``."""
    onnx = pytest.importorskip("onnx")
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def model_with_external(where: str) -> tuple[bytes, str]:
    """A small model with one external tensor at ``where``; also that tensor's name."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    def weight(name: str) -> Any:
        return numpy_helper.from_array(np.ones(4, np.float32), name)

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    branch_inits = [external(weight("w_branch")) if where == "subgraph" else weight("w_branch")]
    branch = helper.make_graph(
        [helper.make_node("Identity", ["w_branch"], ["b"])],
        "branch",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])],
        branch_inits,
    )
    constant = weight("w_const")
    nodes = [
        helper.make_node(
            "Constant", [], ["c"], value=external(constant) if where == "attribute" else constant
        ),
        helper.make_node("If", ["cond"], ["d"], then_branch=branch, else_branch=branch),
        helper.make_node("Add", ["x", "c"], ["e"]),
        helper.make_node("Add", ["e", "d"], ["y"]),
    ]
    init = weight("w_init")
    sparse = helper.make_sparse_tensor(
        weight("w_sparse"), numpy_helper.from_array(np.arange(4, dtype=np.int64), "idx"), [4]
    )
    if where == "sparse":
        external(sparse.values)
    graph = helper.make_graph(
        nodes,
        "g",
        [x, cond],
        [y],
        [external(init) if where == "initializer" else init],
        sparse_initializer=[sparse],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    name = {"initializer": "w_init", "attribute": "w_const", "subgraph": "w_branch",
            "sparse": "w_sparse"}.get(where, "")  # fmt: skip
    return model.SerializeToString(), name


@pytest.mark.parametrize("where", ["initializer", "attribute", "subgraph", "sparse", "nowhere"])
def test_external_tensors_are_found_wherever_onnx_allows_them(where: str) -> None:
    from harbridge.calibration.onnx_external import external_tensor

    data, name = model_with_external(where)
    assert external_tensor(data) == (name or None)


def test_bundle_graphs_are_inline_and_broken_bytes_are_refused(bundle: Path) -> None:
    from harbridge.calibration.onnx_external import external_tensor

    graphs = sorted(bundle.glob("*.onnx"))
    assert graphs
    assert [external_tensor(path.read_bytes()) for path in graphs] == [None] * len(graphs)
    data = (bundle / "pipeline.onnx").read_bytes()
    for broken in (data[: len(data) // 2], b"\xff" * 12, b"\x3f"):
        with pytest.raises(ValueError):
            external_tensor(broken)
