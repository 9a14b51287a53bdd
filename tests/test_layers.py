"""Walk every module's imports and fail when a layering rule of ARCHITECTURE.md is broken.

The rules are data (``LAYERS`` and ``FORBIDDEN``); a new module must sit in some layer, so an
unclassified module fails too.  The check reads the source with ``ast`` (nothing is imported), and
also catches use of the global ``random`` functions inside sans-IO code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "pbx_sim", "hardware")

# (layer name, module prefixes) - the first matching prefix wins, so specific entries come first.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("L0", ("gateway.errors", "gateway.clock", "gateway.trace", "gateway.line", "gateway.pcap")),
    (
        "L1",
        (
            "gateway.sip",
            "gateway.sdp",
            "gateway.media",
            "pbx_sim.q931",
            "hardware.protocols",
        ),
    ),
    ("L2", ("gateway.calls", "gateway.roles")),
    (
        "L3",
        ("gateway.aio", "pbx_sim.aio", "hardware.drivers", "hardware.serial_io", "hardware.sim"),
    ),
    ("SIM", ("pbx_sim",)),
    ("L4", ("gateway.runtime", "gateway.scenario", "gateway.cli", "gateway.config")),
    # Bare package __init__ files, and the check gateway's runs before anything else loads
    # (gateway._compiled: stale compiled modules); exact matches only.
    ("PKG", ("gateway", "gateway._compiled", "hardware")),
]
EXACT_ONLY = {"PKG"}

SANS_IO_BANNED = {
    "asyncio",
    "socket",
    "selectors",
    "serial",
    "serial_asyncio_fast",
    "time",
    "threading",
    "multiprocessing",
    "subprocess",
    "transitions",
    "uvloop",
}

# layer -> banned top-level modules, and the project packages it may import.
FORBIDDEN: dict[str, set[str]] = {
    "L0": {"asyncio", "socket", "serial", "transitions"},
    "L1": SANS_IO_BANNED,
    "L2": SANS_IO_BANNED - {"transitions"},
    "SIM": {"socket", "selectors", "serial", "time", "threading"} | {"asyncio"},
    "L3": {"serial", "serial_asyncio_fast"},
    "L4": {"serial", "serial_asyncio_fast"},
    "PKG": {"asyncio", "socket", "serial"},
}
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "L0": ("gateway.errors", "gateway.clock", "gateway.trace", "gateway.line"),
    "L1": (
        "gateway.errors",
        "gateway.clock",
        "gateway.trace",
        "gateway.line",
        "gateway.sip",
        "gateway.sdp",
        "gateway.media",
        "pbx_sim.q931",
        "hardware.protocols",
    ),
    "L2": (
        "gateway.errors",
        "gateway.clock",
        "gateway.trace",
        "gateway.line",
        "gateway.sip",
        "gateway.sdp",
        "gateway.media",
        "gateway.calls",
        "gateway.roles",
    ),
    # The PBX simulator's logic knows L0, the sans-IO cores and its own package, not call control.
    "SIM": (
        "gateway.errors",
        "gateway.clock",
        "gateway.trace",
        "gateway.line",
        "gateway.sip",
        "gateway.sdp",
        "gateway.media",
        "pbx_sim",
        # A simulated phone can sit behind a simulated FXS board (the same protocol core).
        "hardware.protocols",
    ),
    "L3": (
        "gateway.errors",
        "gateway.clock",
        "gateway.trace",
        "gateway.line",
        "gateway.sip",
        "gateway.sdp",
        "gateway.media",
        "gateway.calls",
        "gateway.roles",
        "gateway.aio",
        "pbx_sim",
        "hardware",
    ),
    "L4": ("gateway", "pbx_sim", "hardware"),
    "PKG": ("gateway", "pbx_sim", "hardware"),
}
# Adapters must not reach into one another's internals (the sans-IO cores, L1, are shared by all).
L3_SILOS = {
    "gateway.aio": ("hardware", "pbx_sim"),
    "pbx_sim.aio": ("hardware",),
    "hardware.drivers": ("pbx_sim",),
    "hardware.sim": ("pbx_sim",),
}
SHARED_CORES = ("pbx_sim.q931", "hardware.protocols")
ONLY_SERIAL_IMPORTER = "hardware.serial_io"
GLOBAL_RANDOM_OK = {"Random", "SystemRandom"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path


def all_modules() -> list[Module]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(Module(".".join(parts), path))
    return found


def layer_of(module: str) -> str | None:
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or (layer not in EXACT_ONLY and module.startswith(prefix + ".")):
                return layer
    return None


def imports_of(module: Module) -> list[tuple[str, int]]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    names: list[tuple[str, int]] = []
    package_parts = module.name.split(".")
    if module.path.name != "__init__.py":
        package_parts = package_parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append((target, node.lineno))
    return names


def global_random_uses(module: Module) -> list[int]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr not in GLOBAL_RANDOM_OK
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "random":
            lines.extend(node.lineno for a in node.names if a.name not in GLOBAL_RANDOM_OK)
    return lines


def violations() -> list[str]:
    problems: list[str] = []
    for module in all_modules():
        layer = layer_of(module.name)
        where = module.path.relative_to(ROOT)
        if layer is None:
            problems.append(f"{where}: module {module.name} belongs to no layer of ARCHITECTURE.md")
            continue
        for target, line in imports_of(module):
            top = target.split(".")[0]
            if top in {"serial", "serial_asyncio_fast"} and module.name != ONLY_SERIAL_IMPORTER:
                problems.append(f"{where}:{line}: only {ONLY_SERIAL_IMPORTER} may import {top}")
            serial_importer = module.name == ONLY_SERIAL_IMPORTER and top in {
                "serial",
                "serial_asyncio_fast",
            }
            if top in FORBIDDEN[layer] and not serial_importer:
                problems.append(f"{where}:{line}: {layer} module imports {target}")
            if top in PACKAGES:
                allowed = MAY_IMPORT[layer]
                if not any(target == a or target.startswith(a + ".") for a in allowed):
                    problems.append(f"{where}:{line}: {layer} module imports {target}")
            shared_core = any(target == c or target.startswith(c + ".") for c in SHARED_CORES)
            for silo, banned in L3_SILOS.items():
                if module.name.startswith(silo) and top in banned and not shared_core:
                    problems.append(f"{where}:{line}: adapter {silo} reaches into {target}")
        if layer in {"L1", "L2", "SIM"}:
            for line in global_random_uses(module):
                problems.append(f"{where}:{line}: sans-IO code uses the global random generator")
    return problems


def test_every_module_respects_the_layers() -> None:
    problems = violations()
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    # Guard against a checker that can never fail: feed it a sans-IO module importing asyncio.
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nimport random\nx = random.random()\n")
    module = Module("gateway.sip.bad", bad)
    assert layer_of(module.name) == "L1"
    assert any(t == "asyncio" for t, _ in imports_of(module))
    assert global_random_uses(module) == [3]
    assert layer_of("gateway") == "PKG"
    assert layer_of("gateway.nowhere") is None
    assert layer_of("elsewhere.x") is None


@pytest.mark.parametrize("module", ["gateway.sip", "gateway.calls.call", "pbx_sim.q931.codec"])
def test_layers_are_known(module: str) -> None:
    assert layer_of(module) is not None
