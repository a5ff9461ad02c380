#!/usr/bin/python
"""Ansible module vnet.net.vnet_topology: a vnet topology on the target host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vnet_topology
short_description: Apply, plan or destroy a vnet topology on the target host
description:
  - Converges the target's kernel to a vnet topology file (virtual interfaces, namespaces,
    addresses, routes) over netlink, all or nothing, through vnet's Python API.
  - In check mode it only plans, against the live kernel, and reports C(changed) when the
    plan has actions; with C(--diff) the plan is shown as the diff.
  - The target needs vnet importable by the Python Ansible runs there
    (C(ansible_python_interpreter)) and root (C(become)).
options:
  state:
    description: C(present) applies the topology; C(absent) destroys what it owns.
    type: str
    choices: [present, absent]
    default: present
  src:
    description: Path of the topology file on the target.
    type: path
  topology:
    description: The topology itself, as a mapping or as YAML text.
    type: raw
  name:
    description: For C(state=absent) without a topology, the topology's name.
    type: str
  secrets:
    description:
      - Secrets kept out of C(topology) (the keys vnet derives for WireGuard links between
        hosts), by the id its placeholders C({vnet_secret: ID}) name. Never logged.
    type: dict
author:
  - vnet contributors
"""

EXAMPLES = r"""
- name: the lab network
  vnet.net.vnet_topology:
    src: /etc/vnet/lab.yaml

- name: an inline topology
  vnet.net.vnet_topology:
    topology:
      name: lab
      namespaces: [n1]
      interfaces:
        - {name: v1, kind: veth, netns: n1, peer: {name: v1-host}}

- name: gone
  vnet.net.vnet_topology:
    name: lab
    state: absent
"""

RETURN = r"""
topology:
  description: The topology's name.
  returned: always
  type: str
plan:
  description: The plan vnet made (or carried out), as vnet plan --json shows it.
  returned: always
  type: dict
plan_text:
  description: The plan as vnet plan prints it.
  returned: always
  type: str
"""

# after the documentation blocks, as Ansible modules lay themselves out
from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "src": {"type": "path"},
            "topology": {"type": "raw"},
            "name": {"type": "str"},
            "secrets": {"type": "dict", "no_log": True},
        },
        mutually_exclusive=[("src", "topology")],
        required_one_of=[("src", "topology", "name")],
        supports_check_mode=True,
    )
    try:
        from vnet.errors import VnetError
        from vnet.hosts.target import converge, load
    except ImportError as err:
        module.fail_json(msg=f"vnet is not importable by {module._name}'s Python on this host "
                             f"({err}); install vnet there, or point ansible_python_interpreter "
                             "at a Python that has it")
        return
    params = module.params
    topo = None
    if params["src"] is not None or params["topology"] is not None:
        try:
            topo = load(params["src"], params["topology"], params["secrets"])
        except VnetError as err:
            module.fail_json(msg=str(err), changed=False)
            return
    outcome = converge(params["state"], topo, params["name"], check=module.check_mode)
    for warning in outcome.warnings:
        module.warn(warning)
    result = outcome.as_result()
    if outcome.failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
