"""svg and png pictures for `vnet draw`: Graphviz's `dot` program run on the dot text that
`vnet.render.draw` makes. It runs a program, so it is not in the pure `render` package."""

from __future__ import annotations

import shutil
import subprocess

from .errors import VnetError

#: seconds `dot` may take; a topology of thousands of interfaces takes a few
DOT_TIMEOUT = 300


def dot_program(fmt: str) -> str:
    """The path of Graphviz's `dot`, or a VnetError saying how to install it."""
    path = shutil.which("dot")
    if path is None:
        raise VnetError(f"vnet draw --format {fmt} needs Graphviz's `dot` (apt install graphviz)")
    return path


def render(dot_text: str, fmt: str) -> bytes:
    """`dot -T FMT` of the text: the picture's bytes."""
    program = dot_program(fmt)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(),
                              capture_output=True, timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise VnetError(f"Graphviz's `dot` did not finish the {fmt} picture in "
                        f"{DOT_TIMEOUT} s") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise VnetError(f"Graphviz's `dot` failed (exit {done.returncode}): "
                        f"{said[0] if said else 'no message'}")
    return done.stdout
