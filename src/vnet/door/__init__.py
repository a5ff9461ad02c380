"""The one door to the kernel. protocol.py declares what a kernel is asked (`Kernel`, `Scope`;
the operations are the catalogue vnet.actions.OPERATIONS); netlink.py is the live kernel and
fake.py an in-memory one for pure tests. Nothing outside this package opens a socket, mounts,
or runs a program, and the pure core (model, loader, validation, planner, renderers, kinds)
imports nothing from it."""

from . import pyroute2_package

# pyroute2's package without its `__init__` until something needs it (see the module)
pyroute2_package.install()
