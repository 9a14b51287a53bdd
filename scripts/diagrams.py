#!/usr/bin/env python3
"""Write the mermaid state diagrams of the call legs (drawn from their transition tables).

python scripts/diagrams.py             # print both diagrams
python scripts/diagrams.py docs/diagrams   # write line-leg.mmd and sip-leg.mmd there
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.calls.diagram import leg_diagrams


def main(argv: list[str]) -> int:
    diagrams = leg_diagrams()
    if not argv:
        for name, source in diagrams.items():
            print(f"%% {name}\n{source}")
        return 0
    target = Path(argv[0])
    target.mkdir(parents=True, exist_ok=True)
    for name, source in diagrams.items():
        path = target / f"{name}.mmd"
        path.write_text(source, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
