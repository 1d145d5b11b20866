"""``python -m theory``: run and print every derivation."""

import sys

from . import MODULES, load
from ._steps import format_steps

total = symbolic = cited = 0
for name in MODULES:
    mod = load(name)
    steps = mod.check()
    print(format_steps(f"{name}: {mod.TITLE}", steps))
    print()
    total += len(steps)
    symbolic += sum(s.symbolic for s in steps)
    cited += sum(s.method.startswith("cited") for s in steps)
print(f"All {len(MODULES)} derivations checked: {total} steps, {symbolic} by sympy, {cited} cited "
      f"(a named theorem, with numerical evidence), {total - symbolic - cited} by numerical evidence only.")
sys.exit(0)
