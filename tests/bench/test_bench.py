"""The scale benchmark (bench/scale.py) and its floor (bench/floor.py), at tiny sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pulumi
import pytest

from audit.render import render
from bench import floor, scale
from model.stack_file import PROJECT_DIR


class RecordingMocks(floor.FloorMocks):
    """The floor's mocks, also counting every registration by type."""

    def __init__(self) -> None:
        self.types: Counter[str] = Counter()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.types[args.typ] += 1
        return super().new_resource(args)


def floor_types(accounts: int, publishers: int, mode: str) -> Counter[str]:
    mocks = RecordingMocks()
    floor.run(accounts, publishers, mode, mocks)
    return mocks.types


@pytest.mark.parametrize("mode", scale.MODES)
@pytest.mark.parametrize(("accounts", "publishers"), [(0, 1), (1, 0), (3, 2)])
def test_the_floor_declares_the_resource_types_and_counts_of_the_program(mode, accounts, publishers):
    rendering = render(stack=scale.BENCH_STACK, config=scale.config_for(accounts, publishers, mode))
    program = Counter(r.type for r in rendering.resources)
    assert floor_types(accounts, publishers, mode) == program
    # Not vacuous: the program declares its per-account and per-publisher resources here.
    assert program["aws:iam/rolePolicy:RolePolicy"] == publishers
    assert program["pulumi:providers:aws"] == 1 + (0 if mode == "stackset" else accounts)


def test_the_floor_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="not one of explicit, organization, stackset"):
        floor.run(1, 1, "everywhere")


def test_a_bench_row_passes_guardrails_and_access_against_its_own_settings():
    assert not (PROJECT_DIR / "policies" / f"policy-config.{scale.BENCH_STACK}.json").exists()
    row = scale.run_row(2, 2, "organization")
    assert row["stack"] == "bench"
    assert row["pack_config"] == "derived from the stack settings"
    assert scale.checks(row) == ["guardrails", "access"]
    assert row["guardrails_failed"] is False
    assert row["access_failed"] is False
    assert row["resources"] == sum(floor_types(2, 2, "organization").values())
    assert scale.problems([row]) == []


def test_a_row_failing_a_check_fails_the_run_and_is_named(capsys):
    # Rendered as prod, the row is checked against prod's pack config: other accounts, no organization.
    status = scale.main(["--accounts", "2", "--publishers", "2", "--modes", "organization", "--stack", "prod"])
    captured = capsys.readouterr()
    assert status == 1
    assert ("FAILED: organization N=2 M=2: guardrails failed (stack prod, pack config "
            "policies/policy-config.prod.json)") in captured.err
    row = next(line for line in captured.out.splitlines() if line.startswith("2 | 2 | organization | "))
    cells = row.split(" | ")
    header = next(line for line in captured.out.splitlines() if line.startswith("N | M | mode")).split(" | ")
    assert cells[header.index("guardrails / access")] == "FAIL / pass"
    floor_s, ratio = float(cells[header.index("floor s")]), float(cells[header.index("× floor s")])
    assert floor_s > 0
    assert ratio == pytest.approx(sum(float(cells[header.index(f"{p} s")]) for p in ("render", "guardrails", "access"))
                                  / floor_s, abs=0.2)
    assert captured.out.startswith("machine: ")
    assert "process CPU seconds" in captured.out


def test_a_rejected_configuration_is_reported_not_failed():
    row = scale.run_row(1, 1, "explicit", overrides={"pypi-registry:secondaryAccountIds": [scale.OWNER]})
    assert "rejected" in row
    assert "resources" not in row
    assert scale.problems([row]) == []
    assert "config rejected" in scale.format_table([row])


def test_best_of_keeps_the_least_time_and_peak_and_any_failure():
    runs = [{"render_s": 2.0, "render_mib": 100.0, "access_failed": True, "resources": 5},
            {"render_s": 1.0, "render_mib": 120.0, "access_failed": False, "resources": 5}]
    assert scale.best_of(runs) == {"render_s": 1.0, "render_mib": 100.0, "access_failed": True, "resources": 5}


def test_the_floor_command_loads_nothing_of_the_program():
    script = ("import sys; from bench.scale import main; main(['--floor', '2', '3', 'explicit']); "
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('audit', 'components', 'policies', '__main__') and m != '__main__')))")
    result = subprocess.run([sys.executable, "-c", "import json; " + script], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True)
    measured, loaded = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert loaded == []
    assert (measured["accounts"], measured["publishers"], measured["mode"]) == (2, 3, "explicit")
    assert measured["floor_s"] > 0
    assert measured["floor_mib"] > 0


def test_the_render_and_the_floor_both_pause_the_collector_and_turn_it_back_on(monkeypatch):
    import gc

    from audit.render import RegistryMocks

    class CollectorMocks(floor.FloorMocks):
        def __init__(self) -> None:
            self.enabled: list[bool] = []

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            self.enabled.append(gc.isenabled())
            return super().new_resource(args)

    mocks = CollectorMocks()
    floor.run(1, 1, "organization", mocks)
    program: list[bool] = []
    new_resource = RegistryMocks.new_resource

    def recording(self: RegistryMocks, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        program.append(gc.isenabled())
        return new_resource(self, args)

    monkeypatch.setattr(RegistryMocks, "new_resource", recording)
    render(stack=scale.BENCH_STACK, config=scale.config_for(1, 1, "organization"))
    assert mocks.enabled and not any(mocks.enabled)
    assert program and not any(program)
    assert gc.isenabled()
