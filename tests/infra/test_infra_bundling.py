"""The dependencies layer is bundled without Docker, reproducibly, and offline once cached."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from realtime_comments_cdk.lambda_defaults import (
    FunctionDefaults,
    LayerPlatform,
    PipLayerBundling,
    build_layer_cache,
    default_code_path,
    requirements_hash,
)
from realtime_comments_cdk.lambda_defaults.bundling import ELF_MACHINES, elf_machine, pip_command

from stacks.realtime_comments_stack import LAYER_CONSTRAINTS

PLATFORM = LayerPlatform()


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("pyjwt[crypto]==2.15.1\n")
    return path


def test_hash_is_content_and_platform_keyed(requirements, tmp_path):
    h = requirements_hash(requirements, PLATFORM)
    assert len(h) == 64
    copy = tmp_path / "other.txt"
    copy.write_bytes(requirements.read_bytes())
    assert requirements_hash(copy, PLATFORM) == h  # the path does not matter
    assert requirements_hash(requirements, LayerPlatform(python_version="3.13")) != h
    assert requirements_hash(requirements, PLATFORM, LAYER_CONSTRAINTS) != h
    requirements.write_text("pyjwt[crypto]==2.15.0\n")
    assert requirements_hash(requirements, PLATFORM) != h


def test_pip_command_targets_lambda_platform(requirements, tmp_path):
    cmd = pip_command(requirements, tmp_path / "python", PLATFORM, LAYER_CONSTRAINTS)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(cmd)
    for flag in (
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.14",
        "--only-binary=:all:",
        "--no-compile",
        f"-c {LAYER_CONSTRAINTS}",
        f"--target {tmp_path / 'python'}",
    ):
        assert flag in joined


def test_cached_layer_needs_no_pip(requirements, tmp_path, monkeypatch):
    cache_root = tmp_path / "layers"
    key = requirements_hash(requirements, PLATFORM)
    (cache_root / key / "python" / "jwt").mkdir(parents=True)
    (cache_root / key / "python" / "jwt" / "__init__.py").write_text("")
    (cache_root / key / ".complete").write_text(key)

    def no_network(*args, **kwargs):
        raise AssertionError("pip must not run when the cache is complete")

    monkeypatch.setattr(subprocess, "run", no_network)
    assert build_layer_cache(requirements, cache_root, PLATFORM) == cache_root / key
    out = tmp_path / "asset"
    out.mkdir()
    assert PipLayerBundling(requirements, cache_root, PLATFORM).try_bundle(str(out)) is True
    assert (out / "python" / "jwt" / "__init__.py").is_file()


def test_failed_pip_leaves_no_cache(requirements, tmp_path, monkeypatch):
    cache_root = tmp_path / "layers"

    def failing(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="no network")

    monkeypatch.setattr(subprocess, "run", failing)
    with pytest.raises(RuntimeError, match="no network"):
        build_layer_cache(requirements, cache_root, PLATFORM)
    assert list(cache_root.iterdir()) == []


def test_a_finished_cache_is_kept_when_a_second_build_finishes_later(requirements, tmp_path, monkeypatch):
    """Two processes (two test workers, two synths) build the same layer at once: the one that
    finishes second keeps the first one's cache, which the first may already be copying from."""
    cache_root = tmp_path / "layers"
    key = requirements_hash(requirements, PLATFORM)
    winner = cache_root / key

    def pip_while_another_process_finishes(args, **kwargs):
        target = Path(args[args.index("--target") + 1])
        (target / "jwt").mkdir(parents=True)
        (target / "jwt" / "__init__.py").write_text("# second build\n")
        (winner / "python" / "jwt").mkdir(parents=True)
        (winner / "python" / "jwt" / "__init__.py").write_text("# first build\n")
        (winner / ".complete").write_text(key + "\n")
        return subprocess.CompletedProcess(args, 0, stdout="", stderr="")

    monkeypatch.setattr(subprocess, "run", pip_while_another_process_finishes)
    assert build_layer_cache(requirements, cache_root, PLATFORM) == winner
    assert (winner / "python" / "jwt" / "__init__.py").read_text() == "# first build\n"
    assert [p.name for p in cache_root.iterdir()] == [key]  # the second build's work is gone


def test_synthesized_layer_holds_cp314_packages(synthesized):
    """The real layer (built or taken from .build/layers) has pyjwt and cryptography wheels for
    CPython 3.14 / manylinux aarch64 (the stages' arm64 default), and no console scripts."""
    layer_dirs = [p for p in synthesized.outdir.glob("asset.*") if (p / "python" / "jwt").is_dir()]
    assert len(layer_dirs) == 1
    python = layer_dirs[0] / "python"
    assert (python / "cryptography").is_dir()
    assert not (python / "bin").exists()
    native = [p.name for p in python.rglob("*.so")]
    assert any("abi3" in n or "cpython-314" in n for n in native)
    assert not [n for n in native if "cpython-311" in n]


def test_synthesized_layer_holds_aarch64_binaries_only(synthesized):
    """Every native library of the arm64 functions' layer is an aarch64 ELF: an x86_64 one would
    fail to load at the first import in Lambda, never at synth."""
    layer_dirs = [p for p in synthesized.outdir.glob("asset.*") if (p / "python" / "jwt").is_dir()]
    (python,) = [d / "python" for d in layer_dirs]
    native = [p for p in python.rglob("*") if p.is_file() and elf_machine(p) is not None]
    assert native, "cryptography and cffi ship native libraries"
    machines = {p.relative_to(python).as_posix(): elf_machine(p) for p in native}
    assert set(machines.values()) == {ELF_MACHINES["arm64"]}, machines
    assert not [name for name in machines if "x86_64" in name]


def test_platform_follows_the_architecture():
    assert LayerPlatform.for_architecture("arm64").platforms == ("manylinux2014_aarch64",)
    assert LayerPlatform.for_architecture("x86_64").platforms == ("manylinux2014_x86_64",)
    with pytest.raises(ValueError):
        LayerPlatform.for_architecture("ppc64le")
    arm = FunctionDefaults()
    assert arm.resolved_powertools_layer_arn().endswith("-python314-arm64:27")
    x86 = FunctionDefaults(architecture="x86_64")
    assert x86.resolved_powertools_layer_arn().endswith("-python314-x86_64:27")
    assert x86.resolved_layer_platform() == LayerPlatform.for_architecture("x86_64")


def test_elf_machine_reads_the_header(tmp_path):
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"  # 64-bit, little endian
    header[18:20] = (183).to_bytes(2, "little")
    (tmp_path / "lib.so").write_bytes(bytes(header))
    (tmp_path / "text.py").write_text("print()")
    assert elf_machine(tmp_path / "lib.so") == 183
    assert elf_machine(tmp_path / "text.py") is None


def test_code_asset_is_the_lambdas_directory():
    path = default_code_path()
    assert path.name == "lambdas" and (path / "requirements.txt").is_file()


def test_code_asset_excludes_build_litter(synthesized):
    code_dirs = [p for p in synthesized.outdir.glob("asset.*") if (p / "handlers").is_dir()]
    assert len(code_dirs) == 1
    root = code_dirs[0]
    assert (root / "handlers" / "__init__.py").is_file()
    assert not (root / "requirements.txt").exists()
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
