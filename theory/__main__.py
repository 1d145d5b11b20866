"""``python -m theory``: run and print every derivation."""

import sys

from . import MODULES, load
from ._steps import format_steps

total = symbolic = 0
for name in MODULES:
    mod = load(name)
    steps = mod.check()
    print(format_steps(f"{name}: {mod.TITLE}", steps))
    print()
    total += len(steps)
    symbolic += sum(s.symbolic for s in steps)
print(f"All {len(MODULES)} derivations checked: {total} steps, {symbolic} by sympy, "
      f"{total - symbolic} by numerical evidence.")
sys.exit(0)
