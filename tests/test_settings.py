"""`Settings`: one frozen, validated list of settings, the same on every path (library, env,
Studio's context, CLI), and the places that list settings kept equal to it."""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from helpers import ScriptedChatModel

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.context import READY_MADE_ONLY, Context
from llmcompiler_graph.core.policy import ToolPolicy
from llmcompiler_graph.settings import SettingError, Settings
from llmcompiler_graph.settings_reference import markdown_table

REPO = Path(__file__).resolve().parents[1]


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for f in fields(Context):
        monkeypatch.delenv(f.metadata["env"], raising=False)


def test_the_library_path_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken variable of a setting the library does not use (or does) changes nothing."""
    monkeypatch.setenv("LLMCOMPILER_TEMPERATURE", "abc")
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "nope")
    graph = create_llmcompiler(ScriptedChatModel(script=lambda role, m: "Answer: x"), [])
    assert graph.invoke({"messages": [("user", "q")]})["messages"][-1].text == "x"


@pytest.mark.parametrize(("given", "expected"), [("false", False), ("no", False), ("on", True)])
def test_booleans_accept_the_usual_strings_on_every_path(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: bool
) -> None:
    _clear_env(monkeypatch)
    assert Settings(approve_plan=given).approve_plan is expected  # type: ignore[arg-type]
    assert Context.of({"approve_plan": given}).approve_plan is expected
    assert Context.of({"approve_plan": given}).settings().approve_plan is expected
    monkeypatch.setenv("LLMCOMPILER_APPROVE_PLAN", given)
    assert Context().approve_plan is expected


@pytest.mark.parametrize("name", ["llm_timeout", "task_timeout", "producer_timeout"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_no_float_setting_takes_nan_or_infinity(
    monkeypatch: pytest.MonkeyPatch, name: str, value: float
) -> None:
    _clear_env(monkeypatch)
    with pytest.raises(SettingError, match=rf"^{name} must be a number"):
        Settings(**{name: value})
    env = Context.__dataclass_fields__[name].metadata["env"]
    monkeypatch.setenv(env, str(value))
    with pytest.raises(SettingError, match=rf"^{name} .*\(env {env}\)"):
        Context()
    monkeypatch.delenv(env)
    with pytest.raises(SettingError, match="temperature"):
        Context(temperature=value)


@pytest.mark.parametrize(
    ("policies", "said"),
    [
        ({"search": 5}, r"tool_policies\['search'\] must be a mapping"),
        ({"search": {"retry": 1}}, r"unknown key 'retry' \(did you mean 'retries'\?\)"),
        ({"search": {"timeout": "5"}}, r"tool_policies\['search'\]\['timeout'\] must be a number"),
        ({"search": {"retries": -1}}, r"\['retries'\] must be from 0 to 20"),
        ({"search": {"retries": 10**9}}, r"\['retries'\] must be from 0 to 20"),
        ({"search": {"timeout": math.nan}}, r"\['timeout'\] must be from 0"),
        ({"search": {"idempotent": "yes"}}, r"\['idempotent'\] must be True, False or None"),
        ([1, 2], r"tool_policies must map tool names to policies"),
    ],
)
def test_tool_policies_are_checked_entry_by_entry_naming_tool_and_key(
    monkeypatch: pytest.MonkeyPatch, policies: Any, said: str
) -> None:
    _clear_env(monkeypatch)
    with pytest.raises(SettingError, match=said):
        Settings(tool_policies=policies)
    with pytest.raises(SettingError, match=said):
        create_llmcompiler(ScriptedChatModel(script=lambda r, m: ""), [], tool_policies=policies)
    with pytest.raises(SettingError, match=f"{said}.*given in the context"):
        Context.of({"tool_policies": policies})
    if isinstance(policies, dict):
        import json

        monkeypatch.setenv("LLMCOMPILER_TOOL_POLICIES", json.dumps(policies))
        with pytest.raises(SettingError, match=f"{said}.*LLMCOMPILER_TOOL_POLICIES"):
            Context()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("max_replans", 10**6, "must be an integer <= 50"),
        ("llm_retries", 10**9, "must be an integer <= 20"),
        ("max_tasks", 10**9, "must be an integer <= 10000"),
        ("planner_prompt", 123, "must be a string"),
        ("joiner", "loud", "must be one of 'lean', 'structured', 'text'"),
        ("stream_plan", "maybe", "must be true or false (true, 1, yes, on, false, 0, no, off)"),
        ("max_replans", True, "must be an integer >= 0"),
    ],
)
def test_refusals_name_the_setting_the_value_and_why(name: str, value: Any, said: str) -> None:
    with pytest.raises(
        SettingError, match=rf"^{name} {re.escape(said)}, got {re.escape(repr(value))}"
    ):
        Settings(**{name: value})


def test_settings_are_frozen_hashable_and_equal_by_value() -> None:
    one = Settings(tool_policies={"search": {"retries": 2}}, max_replans=1)
    two = Settings(tool_policies={"search": ToolPolicy(retries=2)}, max_replans=1)
    assert one == two and hash(one) == hash(two)
    assert one.policies == {"search": ToolPolicy(retries=2)}
    with pytest.raises(AttributeError):
        one.max_replans = 3  # type: ignore[misc]


def test_context_is_the_settings_plus_the_ready_made_graphs_own_fields() -> None:
    """Same names, order, descriptions and variables; the same types but for the policies,
    which Studio shows as a JSON object."""
    context, settings = fields(Context), fields(Settings)
    assert [f.name for f in context] == [*READY_MADE_ONLY, *(f.name for f in settings)]
    types, own = get_type_hints(Context), get_type_hints(Settings)
    for f in settings:
        assert Context.__dataclass_fields__[f.name].metadata == f.metadata
        if f.name != "tool_policies":
            assert types[f.name] == own[f.name], f.name


def _reference_table() -> dict[str, tuple[str, str]]:
    """The generated settings reference (the docs' settings page): field -> (env variable,
    default as shown)."""
    rows = {}
    for line in markdown_table().splitlines():
        if m := re.match(r"\| `(\w+)`<br>`(LLMCOMPILER_\w+)` \| ([^|]+) \|", line):
            rows[m.group(1)] = (m.group(2), m.group(3).strip().strip("`").replace(",", ""))
    return rows


def test_the_settings_reference_lists_every_setting_with_its_variable_and_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The docs' table is rendered from the fields (never copied by hand), whatever the
    environment says; the settings page holds the marker the build replaces with it."""
    _clear_env(monkeypatch)
    defaults = Context()
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "7")  # the built-in default is shown, not this
    table = _reference_table()
    assert list(table) == [f.name for f in fields(Context)]
    for f in fields(Context):
        env, written = table[f.name]
        default = getattr(defaults, f.name)
        shown = "none" if default is None else str(default).lower()
        assert env == f.metadata["env"], f.name
        assert written == shown or float(written) == default, (f.name, written, default)
    assert "<!-- settings-table -->" in (REPO / "docs" / "settings.md").read_text()


def test_every_setting_is_in_both_env_example_files() -> None:
    for path in (REPO / ".env.example", REPO / "llmcompiler_graph" / "data" / "env.example"):
        text = path.read_text()
        assert [f.metadata["env"] for f in fields(Context) if f.metadata["env"] not in text] == []


def test_every_planner_format_module_is_a_choice_of_every_path() -> None:
    """A format is one module of `core.planner_formats`: its name is in the settings' choices
    and Studio's, and the planner takes it."""
    from typing import get_args

    from llmcompiler_graph.core.formats import PLANNER_FORMATS, PlannerFormat
    from llmcompiler_graph.core.planner import Planner
    from llmcompiler_graph.core.planner_formats import PlanFormat, planner_format
    from llmcompiler_graph.core.toolbox import Toolbox
    from llmcompiler_graph.graph import graph

    assert PLANNER_FORMATS == ("text", "tools") == get_args(PlannerFormat)
    assert tuple(graph.get_context_jsonschema()["properties"]["planner"]["enum"]) == PLANNER_FORMATS
    model = ScriptedChatModel(script=lambda role, m: "", tool_calling=True)

    def lookup(city: str) -> int:
        """Population of a city."""
        return 1

    for name in PLANNER_FORMATS:
        spec = planner_format(name)
        assert isinstance(spec, PlanFormat) and spec.name == name
        assert Settings(planner=name).planner == name
        planner = Planner(model, Toolbox([lookup]), format=name)
        assert planner.format == name and "lookup" in planner.system_prompt
    with pytest.raises(ValueError, match="planner must be one of 'text', 'tools'"):
        planner_format("graph")


def test_a_misspelt_variable_is_warned_about_with_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLAN", "5")
    with pytest.warns(
        UserWarning,
        match=r"LLMCOMPILER_MAX_REPLAN is not a setting \(did you mean LLMCOMPILER_MAX_REPLANS\?\)",
    ):
        context = Context()
    assert context.max_replans == 2
