"""`ants-audit verify` on a bundle: intact says so; each kind of tampering is caught and the
first event at fault is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ants_audit.__main__ import main
from ants_audit.verify import verify_bundle
from tools.audit.tests.bundles import sample_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return sample_bundle(tmp_path_factory.mktemp("bundle"), events=50)


def first_finding(bundle: dict[str, Any]) -> Any:
    findings = verify_bundle(bundle)
    assert findings, "the tampering went unnoticed"
    return findings[0]


def test_an_untouched_bundle_is_intact_and_the_command_says_so(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify_bundle(bundle) == []
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    assert main(["verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("intact: 50 events")


def test_an_edited_field_of_one_event_s_data_is_named(bundle: dict[str, Any], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    edited = copy.deepcopy(bundle)
    edited["events"][6]["data"]["note"] = "étape modifiée"
    finding = first_finding(edited)
    assert (finding.kind, finding.index) == ("edited", 6) and "event #7" in finding.message
    # Editing the published record too does not help: it is no longer in the signed log.
    record = edited["events"][6]["record"]
    record["value"] = json.dumps(edited["events"][6]["data"])
    finding = first_finding(edited)
    assert (finding.kind, finding.index) == ("edited", 6) and "not in the log" in finding.message
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    assert main(["verify", str(path)]) == 1
    assert "event #7" in capsys.readouterr().out


def test_a_removed_event_is_named(bundle: dict[str, Any]) -> None:
    removed = copy.deepcopy(bundle)
    gone = removed["events"].pop(10)
    finding = first_finding(removed)
    assert finding.kind == "removed" and f"position {gone['position']}" in finding.message


def test_two_swapped_events_are_named(bundle: dict[str, Any]) -> None:
    swapped = copy.deepcopy(bundle)
    swapped["events"][3], swapped["events"][4] = swapped["events"][4], swapped["events"][3]
    finding = first_finding(swapped)
    assert (finding.kind, finding.index) == ("reordered", 3)


def test_an_inserted_forged_event_is_named(bundle: dict[str, Any]) -> None:
    forged = copy.deepcopy(bundle)
    fake = copy.deepcopy(forged["events"][8])
    fake["data"]["note"] = "paiement enregistré"
    fake["record"]["value"] = json.dumps(fake["data"])
    forged["events"].insert(9, fake)
    kinds = {(f.kind, f.index) for f in verify_bundle(forged)}
    assert ("edited", 9) in kinds  # not in the producer's signed log
    assert first_finding(forged).index == 9


def test_a_truncated_tail_is_named(bundle: dict[str, Any]) -> None:
    truncated = copy.deepcopy(bundle)
    del truncated["events"][-2:]
    finding = first_finding(truncated)
    assert finding.kind == "removed" and "last events were removed" in finding.message


def test_a_replaced_checkpoint_signature_is_named(bundle: dict[str, Any]) -> None:
    replaced = copy.deepcopy(bundle)
    other = replaced["checkpoints"]["payment"]["signature"]
    replaced["checkpoints"]["cert"]["signature"] = other
    finding = first_finding(replaced)
    assert finding.kind == "checkpoint" and "cert" in finding.message
