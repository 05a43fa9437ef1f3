#!/usr/bin/env python3
"""Every rule of a contract suite (`pub async fn` in crates/port-contracts/src/stores/*.rs and
users.rs) is listed in the macro that turns rules into tests (crates/port-contracts/src/lib.rs),
so no rule is written and then never run against the adapters."""

import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "crates/port-contracts/src"
listed = set(re.findall(r"^\s+(\w+),$", (src / "lib.rs").read_text(), re.M))
missing = []
for suite in sorted([*src.glob("stores/*.rs"), src / "users.rs"]):
    for rule in re.findall(r"^pub async fn (\w+)", suite.read_text(), re.M):
        if rule not in listed:
            missing.append(f"{suite.relative_to(src)}: {rule} is not in a contract macro's list")
for m in missing:
    print(m, file=sys.stderr)
sys.exit(1 if missing else 0)
