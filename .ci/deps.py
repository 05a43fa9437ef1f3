#!/usr/bin/env python3
"""Dependency hygiene that cargo-machete does not see: every crate takes its dependencies from
`[workspace.dependencies]` (one version of each, chosen in one place), and every entry there is
used by some crate. Exits non-zero and names each problem."""

import pathlib
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
workspace = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["dependencies"]
problems, used = [], set()

for manifest in sorted([*root.glob("crates/*/Cargo.toml"), *root.glob("tools/*/Cargo.toml")]):
    crate = tomllib.loads(manifest.read_text())
    name = crate["package"]["name"]
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        for dep, spec in crate.get(section, {}).items():
            if isinstance(spec, dict) and spec.get("path") == ".":
                continue  # the crate itself with test features, as a dev-dependency
            if isinstance(spec, dict) and spec.get("workspace") is True:
                used.add(dep)
                continue
            problems.append(f"{name}: [{section}] {dep} bypasses [workspace.dependencies]")

for dep in sorted(set(workspace) - used):
    problems.append(f"[workspace.dependencies] {dep} is used by no crate")

for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
