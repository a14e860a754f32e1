"""The joiner's reading of model replies, in both protocols."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage

from llmcompiler_graph.core.joiner import NO_COMPLETE_ANSWER, Joiner, JoinerDecision


@pytest.fixture
def joiner() -> Joiner:
    return Joiner(FakeListChatModel(responses=["unused"]), format="text")


def test_structured_reply_written_as_text_is_read_as_text(joiner: Joiner) -> None:
    """A model that ignores the function and writes the text protocol still gets understood."""
    raw = AIMessage("Thought: fine\nAction: Finish(42 (exactly))")
    decision = joiner.read({"raw": raw, "parsed": None, "parsing_error": None}, False)
    assert decision.finish and decision.answer == "42 (exactly)"


def test_structured_reply_with_broken_arguments_falls_back_to_its_text(joiner: Joiner) -> None:
    raw = AIMessage("The answer is 7.", invalid_tool_calls=[])
    decision = joiner.read({"raw": raw, "parsed": None, "parsing_error": ValueError()}, False)
    assert decision.finish and decision.answer == "The answer is 7."


def test_parsed_structured_reply(joiner: Joiner) -> None:
    parsed = JoinerDecision(thought="t", action="replan", feedback="look up Rome")
    decision = joiner.read({"raw": AIMessage(""), "parsed": parsed}, False)
    assert not decision.finish and decision.feedback == "look up Rome"


def test_forced_replan_says_what_is_missing_instead_of_answering_with_feedback(
    joiner: Joiner,
) -> None:
    decision = joiner.read(AIMessage("Thought: t\nAction: Replan(the population of Rome)"), True)
    assert decision.finish
    assert decision.answer.startswith(NO_COMPLETE_ANSWER)
    assert decision.answer.endswith("the population of Rome")


def test_empty_finish_never_becomes_an_empty_message(joiner: Joiner) -> None:
    assert joiner.read(AIMessage("Thought: Paris.\nAction: Finish()"), False).answer == "Paris."
    assert joiner.read(AIMessage("Action: Finish(  )"), False).answer == NO_COMPLETE_ANSWER


@pytest.mark.parametrize(
    ("text", "finish", "argument"),
    [
        ("Thought: x\nAction: Finish(f(x) = (a + b))", True, "f(x) = (a + b)"),
        ("Thought: x\nAction: Replan(search (again) for y)", False, "search (again) for y"),
        ("Action: Finish(You need to finish (the job))", True, "You need to finish (the job)"),
        ("Thought: x\nAction: Finish(no closing paren", True, "no closing paren"),
        ("Just the answer.", True, "Just the answer."),
        ("**Thought:** ok\n**Action:** Finish(done)", True, "done"),
    ],
)
def test_text_protocol(joiner: Joiner, text: str, finish: bool, argument: str) -> None:
    decision = joiner.read(AIMessage(text), False)
    assert decision.finish is finish
    assert (decision.answer if finish else decision.feedback) == argument
