"""The library alone: build the wheel, install it into a fresh venv that holds only torch, run the README lines.

A fresh torch install costs minutes and GBs here, so the fresh venv (``python -m venv``, no system
site-packages) gets torch by symlinks: every top-level entry (package dirs and their .dist-info) of
torch and of its installed requirements, recursively, is linked from this interpreter's
site-packages into the fresh one. pip then sees a real installed torch, and nothing else of the
suite (no Lightning, Hydra, timm, torchvision) is importable there. ``ninja`` is linked the same way
when this environment has it; if not, the wheel is installed with --no-deps after checking that its
requirements are exactly torch and ninja (the ninja binary then comes from PATH).
"""

import importlib.metadata as md
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def readme_lines() -> str:
    """The python block of the README's "Use ASH in your own model" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use ASH in your own model", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def closure(name: str, seen: set[str], extras: frozenset[str] = frozenset(), visited: set | None = None) -> set[str]:
    """name and its installed requirements, recursively, following the extras a requirement asks for
    (torch asks for ``cuda-toolkit[cublas,...]``): what pip checks when it resolves the wheel's requirements."""
    visited = set() if visited is None else visited
    key = canonicalize_name(name)
    if (key, extras) in visited:
        return seen
    visited.add((key, extras))
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return seen
    seen.add(key)
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
            closure(req.name, seen, frozenset(req.extras), visited)
    return seen


def link_dists(names: set[str], site: Path) -> None:
    for name in names:
        dist = md.distribution(name)
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            src = Path(dist.locate_file(top))
            if src.exists() and not (site / top).exists():
                (site / top).symlink_to(src)


def test_wheel_in_a_torch_only_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, text=True)
    (wheel,) = wheels.glob("ash_activation-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "ash/kernels/ash_cpu.cpp" in names and not any(n.startswith("tasks/") for n in names)
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    base = sorted(r for r in requires if "extra ==" not in r)
    assert [re.match(r"[a-z]+", r).group(0) for r in base] == ["ninja", "torch"]
    assert not any("==" in r for r in base)  # version ranges, not pins

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    have_ninja = "ninja" in closure("ninja", set())
    link_dists(closure("torch", set()) | ({"ninja"} if have_ninja else set()), site)
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index"]
    # No PYTHONPATH to this checkout. No pip config either: its find-links hold other torch builds, and a resolver
    # that reached one would reinstall torch through the links, into this environment's own site-packages.
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(Path.home()), "PIP_CONFIG_FILE": os.devnull}
    torch_init = Path(md.distribution("torch").locate_file("torch/__init__.py"))
    stamp = torch_init.stat().st_mtime_ns
    subprocess.run(pip + ([] if have_ninja else ["--no-deps"]) + [str(wheel)], check=True, capture_output=True,
                   text=True, env=env)
    assert torch_init.stat().st_mtime_ns == stamp, "pip reinstalled torch through the links"
    probe = "import importlib.util as u; print([m for m in ('pytorch_lightning', 'hydra', 'timm', 'torchvision', 'tasks') if u.find_spec(m)])"
    assert subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True, env=env,
                          cwd=tmp_path).stdout.strip() == "[]"
    code = readme_lines() + "\nimport ash.kernels as k, torch\nprint('kernel', k.kernel_name(torch.randn(2, 2)), ash.__file__)\n"
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "call sites" in out.stdout and str(site) in out.stdout
    assert "kernel cpp" in out.stdout or "C++" in out.stderr, out.stdout + out.stderr
