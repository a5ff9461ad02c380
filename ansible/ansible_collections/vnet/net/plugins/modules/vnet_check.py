#!/usr/bin/python
"""Ansible module vnet.net.vnet_check: run vnet's resolved checks on the target host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vnet_check
short_description: Run resolved vnet checks (probes) on the target host
description:
  - Runs probes that vnet resolved from a file's C(checks:) (C(vnet check FILE --inventory)
    resolves them across hosts and sends each host those that start there): pings and the
    other probes, with real packets, from the host's namespaces.
  - Changes nothing; the same in check mode. Fails when a check does not hold.
options:
  probes:
    description: The probes, as vnet resolved them.
    type: list
    elements: dict
    required: true
author:
  - vnet contributors
"""

RETURN = r"""
results:
  description: One result per probe, as vnet check --json shows it.
  returned: always
  type: list
"""

# after the documentation blocks, as Ansible modules lay themselves out
from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={"probes": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True,
    )
    try:
        from vnet.errors import VnetError
        from vnet.hosts.target import run_checks
    except ImportError as err:
        module.fail_json(msg=f"vnet is not importable by this host's Python ({err}); "
                             "install vnet there, or point ansible_python_interpreter at a "
                             "Python that has it")
        return
    try:
        results = run_checks(module.params["probes"])
    except VnetError as err:
        module.fail_json(msg=str(err))
        return
    failed = [r for r in results if not r["passed"]]
    if failed:
        module.fail_json(msg=f"{len(failed)} of {len(results)} checks failed", results=results)
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
