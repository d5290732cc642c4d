"""The lifecycle as a picture: every transition, refusal and removal drawn, coloured by verdict when given."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jobspec import diagram, load_spec
from jobspec.cli import main
from tests.spec_variants import write_variant

LIFECYCLE = load_spec().lifecycle


def test_mermaid__draws_every_transition_refusal_and_removal() -> None:
    text = diagram.mermaid(LIFECYCLE)
    arrows = [line for line in text.splitlines() if "-->|" in line or "-.->|" in line]
    refusals = sum(len(r.states) for r in LIFECYCLE.refusals)
    assert len(arrows) == len(LIFECYCLE.transitions) + refusals + len(LIFECYCLE.removal.states)
    for transition in LIFECYCLE.transitions:
        label = (
            f"worker: {transition.name}"
            if transition.trigger.is_worker
            else f"{transition.trigger.operation} → {transition.status}"
        )
        assert f'|"{label}"|' in text
    assert all(f'((("{state}")))' in text for state in LIFECYCLE.terminal)
    assert "linkStyle" not in text, "no verdicts, no colours"


def test_mermaid__colours_each_edge_by_its_cell_verdict() -> None:
    verdicts = {("created", "abortJob"): "failed", ("running", "abortJob"): "passed"}
    text = diagram.mermaid(LIFECYCLE, verdicts)
    lines = text.splitlines()
    arrows = [line for line in lines if "-->|" in line or "-.->|" in line]
    styles = dict(re.findall(r"linkStyle (\d+) stroke:(#[0-9a-f]{6})", text))
    assert len(styles) == 2
    coloured = {arrows[int(index) - 1].strip(): colour for index, colour in styles.items()}  # link 0: the entry
    assert any("abortJob → 400" in arrow and colour == diagram.COLOURS["failed"] for arrow, colour in coloured.items())
    assert any("abortJob → 204" in arrow and colour == diagram.COLOURS["passed"] for arrow, colour in coloured.items())


def test_mermaid__a_refusal_is_labelled_with_its_status_and_an_error_type_only_where_the_spec_gives_one(
    tmp_path: Path,
) -> None:
    text = diagram.mermaid(LIFECYCLE)
    assert '|"abortJob → 400"|' in text and '|"retryJob → 400"|' in text
    assert "409" not in text and "Conflict" not in text
    locked = diagram.mermaid(load_spec(write_variant("locked-refusals", tmp_path)).lifecycle)
    assert '|"abortJob → 423 Invalid state"|' in locked and '|"retryJob → 423 Invalid state"|' in locked


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot is not installed")
def test_svg__is_drawn_with_a_coloured_failed_edge(tmp_path: Path) -> None:
    out = tmp_path / "lifecycle.svg"
    assert main(["--format", "svg", "-o", str(out)]) == 0
    ET.fromstring(out.read_text(encoding="utf-8"))  # well-formed SVG
    coloured = diagram.svg(LIFECYCLE, {("failed", "retryJob"): "failed"})
    assert coloured.count(diagram.COLOURS["failed"]) >= 2, "the edge and its label"
    assert all(state in coloured for state in LIFECYCLE.states)


def test_cli__draws_a_spec_copy_and_refuses_a_broken_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant("cancel-queued", tmp_path)
    assert main(["--spec", str(variant)]) == 0
    assert '|"abortJob → 204"|' in capsys.readouterr().out.split("s0 -->")[1] or "abortJob → 204" in diagram.mermaid(
        load_spec(variant).lifecycle
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(variant.read_text().replace("initial: created", "initial: queued"))
    assert main(["--spec", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "initial: 'queued' is not a state" in err
