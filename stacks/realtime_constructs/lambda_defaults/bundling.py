"""Docker-free, reproducible bundling of the dependencies layer.

``PipLayerBundling`` implements ``aws_cdk.ILocalBundling``: it runs ``pip install`` for the Lambda
platform (manylinux aarch64 for arm64 functions, the default, or x86_64; CPython 3.14; binary wheels
only) into a cache directory keyed by the
sha256 of ``requirements.txt`` + platform + Python version, then copies the cache into the asset
output. Repeated synths (the test suite synthesizes many times) never touch the network once the
cache is filled. The Docker image the CDK API insists on is never used.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

# Bump when the bundling recipe changes, so caches and layer hashes roll over.
RECIPE_VERSION = "1"


# pip platform tags per Lambda architecture (manylinux2014 = glibc 2.17, which Amazon Linux 2023's
# glibc 2.34 runs).
PLATFORM_TAGS: dict[str, tuple[str, ...]] = {
    "arm64": ("manylinux2014_aarch64",),
    "x86_64": ("manylinux2014_x86_64",),
}
# ELF e_machine of each architecture: what a layer's native libraries must be built for.
ELF_MACHINES: dict[str, int] = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64


@dataclass(frozen=True)
class LayerPlatform:
    """Target of the bundled wheels. Lambda ``python3.14`` runs on Amazon Linux 2023 (glibc 2.34)."""

    platforms: tuple[str, ...] = PLATFORM_TAGS["arm64"]
    python_version: str = "3.14"
    implementation: str = "cp"

    @classmethod
    def for_architecture(cls, architecture: str) -> LayerPlatform:
        """``"arm64"`` or ``"x86_64"`` (the names of ``aws_lambda.Architecture``)."""
        try:
            return cls(platforms=PLATFORM_TAGS[architecture])
        except KeyError as exc:
            raise ValueError(f"unknown Lambda architecture {architecture!r}") from exc


def elf_machine(path: Path) -> int | None:
    """The ELF ``e_machine`` of a shared library, or None when the file is not ELF."""
    with open(path, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def requirements_hash(
    requirements_file: Path, platform: LayerPlatform, constraints_file: Path | None = None
) -> str:
    """sha256 of the requirements (and constraints) file's bytes, the target platform and the
    recipe version."""
    digest = hashlib.sha256()
    digest.update(Path(requirements_file).read_bytes())
    if constraints_file is not None:
        digest.update(b"\0constraints\0" + Path(constraints_file).read_bytes())
    digest.update(
        "\0".join(
            [*platform.platforms, platform.python_version, platform.implementation, RECIPE_VERSION]
        ).encode()
    )
    return digest.hexdigest()


def pip_command(
    requirements_file: Path, target: Path, platform: LayerPlatform, constraints_file: Path | None = None
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "-r",
        str(requirements_file),
        "--target",
        str(target),
    ]
    if constraints_file is not None:
        cmd += ["-c", str(constraints_file)]
    for plat in platform.platforms:
        cmd += ["--platform", plat]
    cmd += [
        "--implementation",
        platform.implementation,
        "--python-version",
        platform.python_version,
        "--only-binary=:all:",
        "--no-compile",
    ]
    return cmd


def build_layer_cache(
    requirements_file: Path, cache_root: Path, platform: LayerPlatform, constraints_file: Path | None = None
) -> Path:
    """Return ``cache_root/<hash>``, whose ``python/`` holds the installed packages; build it first
    when absent. The build goes to a temporary sibling directory and is renamed into place, so an
    interrupted build never leaves a half-filled cache, and a finished cache is never replaced
    (other processes may be reading it)."""
    key = requirements_hash(requirements_file, platform, constraints_file)
    cache_dir = Path(cache_root) / key
    if (cache_dir / ".complete").is_file():
        return cache_dir
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=cache_dir.parent))
    try:
        target = work / "python"
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            pip_command(requirements_file, target, platform, constraints_file),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"pip could not bundle {requirements_file} for {platform}:\n{proc.stdout}\n{proc.stderr}"
            )
        # Console scripts are useless in a layer and carry the build machine's interpreter path.
        shutil.rmtree(target / "bin", ignore_errors=True)
        (work / ".complete").write_text(key + "\n")
        if cache_dir.exists() and not (cache_dir / ".complete").is_file():
            shutil.rmtree(cache_dir, ignore_errors=True)  # an older, interrupted layout
        try:
            work.rename(cache_dir)
        except OSError:
            # Another process finished the same build first. Its cache may be in use (a synth
            # copying from it), so it stays and this build is discarded.
            if not (cache_dir / ".complete").is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return cache_dir


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """``ILocalBundling`` that fills the asset output with ``python/`` from the pip cache."""

    def __init__(
        self,
        requirements_file: Path,
        cache_root: Path,
        platform: LayerPlatform,
        constraints_file: Path | None = None,
    ) -> None:
        self.requirements_file = Path(requirements_file)
        self.cache_root = Path(cache_root)
        self.platform = platform
        self.constraints_file = Path(constraints_file) if constraints_file else None

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        cache_dir = build_layer_cache(
            self.requirements_file, self.cache_root, self.platform, self.constraints_file
        )
        shutil.copytree(cache_dir / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True
