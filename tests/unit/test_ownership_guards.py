"""What apply and destroy refuse to lose: a topology made from another file (unless --replace /
replace=True), links vnet did not make inside a namespace it deletes and their pairs' other
ends (unless --force / force=True); and the question a terminal gets before an apply removes
anything (-y/--yes skips it, a run without a terminal never asks). All on the in-memory kernel."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from clirun import run, written

from vnet import api, store
from vnet.actions import Request
from vnet.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from vnet.door.fake import FakeKernel
from vnet.errors import ConflictError
from vnet.record import Record

LAB = """
name: lab
namespaces: [a, b, c]
interfaces:
  - {name: va, kind: veth, netns: a, peer: {name: vb, netns: b}}
"""

#: a copy of another file that still says `name: lab`
OTHER = """
name: lab
namespaces: [left, right]
interfaces:
  - {name: veth-l, kind: veth, netns: left, peer: {name: veth-r, netns: right}}
"""

#: LAB, edited: namespace c is gone
LAB_EDITED = """
name: lab
namespaces: [a, b]
interfaces:
  - {name: va, kind: veth, netns: a, peer: {name: vb, netns: b}}
"""


class _Terminal(io.StringIO):
    """A standard stream that is a terminal, with what the person will type."""

    def isatty(self) -> bool:
        return True


def _applied(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str = "lab.yaml",
             text: str = LAB) -> Path:
    path = written(tmp_path, name, text)
    code, _, err = run(capsys, "apply", str(path))
    assert code == EXIT_OK, err
    return path


def _hand_made_veth(fake: FakeKernel, netns: str | None, name: str, peer_netns: str | None,
                    peer: str) -> None:
    """`ip link add NAME netns NETNS type veth peer name PEER netns PEER_NETNS`: no mark."""
    fake.send([Request("link.add", netns, {
        "ifname": name, "kind": "veth", "marker": None, "info_data": {},
        "peer": {"ifname": peer, "netns": peer_netns}})])


# ---- the file a topology was made from ------------------------------------------------------

def test_the_record_keeps_the_source_file_and_its_digest(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    path = _applied(capsys, tmp_path)
    record = store.read_record("lab")
    assert record.source == str(path.absolute())
    assert record.source_digest == api.source_of(api.load_file(path))[1]
    assert record.source_digest is not None and record.source_digest.startswith("sha256:")


def test_a_record_from_before_the_digest_still_reads(private_state_dir: str) -> None:
    with open(os.path.join(private_state_dir, "old.json"), "w", encoding="utf-8") as fh:
        json.dump({"topology": "old", "externals": {}, "external_addresses": {}, "routes": [],
                   "source": "/srv/old.yaml"}, fh)
    record = store.read_record("old")
    assert (record.source, record.source_digest) == ("/srv/old.yaml", None)


def test_another_file_of_the_same_name_is_refused_and_changes_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    lab = _applied(capsys, tmp_path)
    other = written(tmp_path, "copy.yaml", OTHER)
    before = fake.list_netns()
    code, _, err = run(capsys, "apply", str(other))
    assert code == EXIT_ERROR
    assert fake.list_netns() == before == {"a", "b", "c"}
    assert str(lab.absolute()) in err and str(other.absolute()) in err
    assert "--replace" in err and "nothing was changed" in err
    for ns in ("a", "b", "c"):
        assert f"namespace {ns}" in err
    assert store.read_record("lab").source == str(lab.absolute())  # still lab.yaml's

    code, out, err = run(capsys, "plan", str(other))  # plan says why apply would refuse
    assert code == EXIT_CHANGES and "apply needs --replace" in err

    code, _, err = run(capsys, "apply", "--replace", str(other))
    assert code == EXIT_OK, err
    assert fake.list_netns() == {"left", "right"}
    assert store.read_record("lab").source == str(other.absolute())


def test_the_same_file_edited_is_no_other_file(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, fake: FakeKernel) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_OK, err
    assert fake.list_netns() == {"a", "b"}


def test_another_file_that_removes_nothing_takes_the_topology_over(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    moved = _applied(capsys, tmp_path, "moved.yaml", LAB + "# moved here\n")
    assert store.read_record("lab").source == str(moved.absolute())


def test_same_source() -> None:
    rec = Record("lab", source="/srv/lab.yaml", source_digest="sha256:aa")
    assert api.same_source(rec, "/srv/lab.yaml", "sha256:bb") is True  # edited in place
    assert api.same_source(rec, "/tmp/copy.yaml", "sha256:aa") is True  # the same bytes
    assert api.same_source(rec, "/tmp/copy.yaml", "sha256:bb") is False
    assert api.same_source(rec, None, None) is False  # text, against a file's topology
    assert api.same_source(Record("lab"), "/tmp/copy.yaml", "sha256:bb") is None  # unknown
    # a record written before digests were kept: the path alone decides
    assert api.same_source(Record("lab", source="/srv/lab.yaml"), "/srv/lab.yaml",
                           "sha256:bb") is True


def test_same_source_sees_one_file_under_two_paths(tmp_path: Path) -> None:
    real = written(tmp_path, "lab.yaml", LAB)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    rec = Record("lab", source=str(real), source_digest="sha256:old")
    assert api.same_source(rec, str(link), "sha256:new") is True


def test_python_api_refuses_text_over_a_file_topology_unless_replace(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    topo = api.load_text(OTHER)
    with pytest.raises(ConflictError) as info:
        topo.apply(backend=fake)
    assert "replace=True" in str(info.value) and "namespace a" in str(info.value)
    assert fake.list_netns() == {"a", "b", "c"}
    topo.apply(backend=fake, replace=True)
    assert fake.list_netns() == {"left", "right"}


# ---- asking on a terminal before removing ---------------------------------------------------

def _on_terminal(monkeypatch: pytest.MonkeyPatch, typed: str) -> _Terminal:
    out = _Terminal()
    monkeypatch.setattr(sys, "stdin", _Terminal(typed))
    monkeypatch.setattr(sys, "stdout", out)
    return out


def test_a_terminal_is_asked_before_removing_and_no_keeps_everything(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    _on_terminal(monkeypatch, "n\n")
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR
    assert "removes 1 object(s)" in err and "- namespace c" in err and "[y/N]" in err
    assert "cancelled" in err and fake.list_netns() == {"a", "b", "c"}


def test_a_terminal_that_answers_yes_goes_on(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, fake: FakeKernel,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    _on_terminal(monkeypatch, "yes\n")
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_OK and "[y/N]" in err
    assert fake.list_netns() == {"a", "b"}


def test_an_empty_answer_is_no(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               fake: FakeKernel, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    _on_terminal(monkeypatch, "")  # end of input, or Enter alone
    code, _, _ = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR and fake.list_netns() == {"a", "b", "c"}


@pytest.mark.parametrize("flag", ["-y", "--yes"])
def test_yes_skips_the_question(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                fake: FakeKernel, monkeypatch: pytest.MonkeyPatch,
                                flag: str) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    _on_terminal(monkeypatch, "")  # asked, this would be a no
    code, _, err = run(capsys, "apply", flag, str(lab))
    assert code == EXIT_OK and "[y/N]" not in err
    assert fake.list_netns() == {"a", "b"}


@pytest.mark.parametrize("terminal", ["stdin", "stdout"])
def test_without_a_terminal_on_both_ends_nothing_is_asked(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel,
        monkeypatch: pytest.MonkeyPatch, terminal: str) -> None:
    lab = _applied(capsys, tmp_path)
    lab.write_text(LAB_EDITED, encoding="utf-8")
    # only one of the two is a terminal: a script, a pipe
    monkeypatch.setattr(sys, terminal, _Terminal(""))
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_OK and "[y/N]" not in err
    assert fake.list_netns() == {"a", "b"}


def test_a_plan_that_removes_nothing_asks_nothing(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path, fake: FakeKernel,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lab = written(tmp_path, "lab.yaml", LAB)
    _on_terminal(monkeypatch, "")
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_OK and "[y/N]" not in err
    assert fake.list_netns() == {"a", "b", "c"}


def test_the_different_file_rule_holds_on_a_terminal_answered_yes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _applied(capsys, tmp_path)
    other = written(tmp_path, "copy.yaml", OTHER)
    _on_terminal(monkeypatch, "y\n")
    code, _, err = run(capsys, "apply", "--yes", str(other))
    assert code == EXIT_ERROR and "--replace" in err and "[y/N]" not in err
    assert fake.list_netns() == {"a", "b", "c"}


# ---- what vnet did not make, inside a namespace it deletes ----------------------------------

def test_destroy_refuses_a_namespace_with_hand_made_links_and_names_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    _hand_made_veth(fake, "a", "hand0", "a", "hand0p")  # both ends inside
    _hand_made_veth(fake, "a", "hand1", None, "handx")  # the other end where vnet runs
    code, _, err = run(capsys, "destroy", "lab")
    assert code == EXIT_ERROR
    assert "link a/hand0 (veth, not vnet's)" in err
    assert "link a/hand1 (veth, not vnet's)" in err
    assert "link handx (veth, the other end of a/hand1, in the namespace vnet runs in)" in err
    assert "--force" in err and "nothing was changed" in err
    assert fake.list_netns() == {"a", "b", "c"} and fake.namespaces[None].links.get("handx")

    code, _, err = run(capsys, "destroy", "--force", "lab")
    assert code == EXIT_OK, err
    assert "--force: deleting namespace a also deletes" in err
    assert "link a/hand1 (veth, not vnet's)" in err and "link handx" in err
    assert fake.list_netns() == set() and "handx" not in fake.namespaces[None].links


def test_destroy_names_the_other_end_in_a_namespace_it_did_not_read(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    fake.add_netns("mine")  # made by hand
    _hand_made_veth(fake, "b", "hand2", "mine", "peerm")
    code, _, err = run(capsys, "destroy", "lab")
    assert code == EXIT_ERROR
    assert "link mine/peerm (veth, the other end of b/hand2, in namespace mine)" in err


def test_destroy_of_clean_namespaces_needs_no_force(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    fake.add_link(None, "eth9", "veth")  # made by hand, but outside vnet's namespaces
    code, _, err = run(capsys, "destroy", "lab")
    assert code == EXIT_OK, err
    assert fake.list_netns() == set() and "eth9" in fake.namespaces[None].links


def test_apply_that_deletes_a_namespace_with_hand_made_links_needs_force(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    lab = _applied(capsys, tmp_path)
    fake.add_link("c", "tap7", "tun")
    lab.write_text(LAB_EDITED, encoding="utf-8")
    code, out, err = run(capsys, "plan", str(lab))
    assert code == EXIT_CHANGES
    assert "also deletes: link c/tap7 (tun, not vnet's)" in out
    assert "apply needs --force" in err

    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR and "link c/tap7 (tun, not vnet's)" in err
    assert fake.list_netns() == {"a", "b", "c"}

    code, _, err = run(capsys, "apply", "--force", str(lab))
    assert code == EXIT_OK, err
    assert "--force: deleting namespace c also deletes link c/tap7" in err
    assert fake.list_netns() == {"a", "b"}


def test_python_api_destroy_force(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  fake: FakeKernel) -> None:
    topo = api.load_file(_applied(capsys, tmp_path))
    fake.add_link("a", "mine0", "bridge")
    with pytest.raises(ConflictError) as info:
        topo.destroy(backend=fake)
    assert "link a/mine0 (bridge, not vnet's)" in str(info.value)
    assert "force=True" in str(info.value)
    plan = topo.destroy(backend=fake, force=True)
    assert fake.list_netns() == set()
    assert [a.takes_along for a in plan.actions if a.takes_along] == [
        ["link a/mine0 (bridge, not vnet's)"]]
    assert [a["takes_along"] for a in plan.as_dict()["actions"] if "takes_along" in a] == [
        ["link a/mine0 (bridge, not vnet's)"]]


def test_a_link_of_another_topology_counts_as_not_ours(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FakeKernel) -> None:
    _applied(capsys, tmp_path)
    fake.add_link("a", "x0", "bridge", altnames=["vnet.other.x0"])
    code, _, err = run(capsys, "destroy", "lab")
    assert code == EXIT_ERROR and "link a/x0 (bridge, topology 'other''s)" in err
