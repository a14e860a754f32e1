"""The joiner's reading of model replies, in both protocols."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage

from llmcompiler_graph.core.joiner import NO_COMPLETE_ANSWER, Joiner, settle
from llmcompiler_graph.core.joiner_protocols import JoinerDecision, ReplyReader


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


# the lean protocol and the streamed answer


REPLIES = [
    # (reply, lean?, finish, answer or feedback)
    ("Answer: Paris is bigger.", True, True, "Paris is bigger."),
    ("  **Answer:** Paris (2.1 million)  \n", True, True, "Paris (2.1 million)"),
    ("answer:Rome", True, True, "Rome"),
    ("Replan: look up the population of Rome", True, False, "look up the population of Rome"),
    ("Rome is bigger, by far.", True, True, "Rome is bigger, by far."),
    ("Answering that: Rome.", True, True, "Answering that: Rome."),
    (
        "Thought: both known\nAction: Finish(Rome (3) beats Paris (2))",
        True,
        True,
        "Rome (3) beats Paris (2)",
    ),
    ("Finish(Rome)", True, True, "Rome"),
    ("Thought: x\nAction: Finish(f(x) = (a + b))", False, True, "f(x) = (a + b)"),
    ("Thought: x\nAction: Finish(42) and then some", False, True, "42"),
    ("Thought: x\nAction: Finish(no closing paren", False, True, "no closing paren"),
    ("Thought: x\nAction: Replan(search (again) for y)", False, False, "search (again) for y"),
    ("Just the answer.", False, True, "Just the answer."),
]


def _chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize(("reply", "lean", "finish", "text"), REPLIES)
@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_a_streamed_reply_shows_exactly_the_answer_however_it_is_chunked(
    reply: str, lean: bool, finish: bool, text: str, cuts: list[int]
) -> None:
    """What is shown while the reply streams is always the start of the final answer, and all of
    it once the reply ends; a replan shows nothing."""
    reader = ReplyReader(bare_is_answer=lean, plans=False)
    shown = ""
    for chunk in _chunked(reply, cuts):
        shown += reader.feed(chunk)
        assert text.startswith(shown) if finish else shown == ""
    decision = settle(reader.close(), force_answer=False)
    assert decision.finish is finish
    assert (decision.answer if finish else decision.feedback) == text
    if finish:
        assert decision.answer.startswith(shown)


def test_the_answer_streams_before_the_reply_ends() -> None:
    reader = ReplyReader(bare_is_answer=True, plans=False)
    assert reader.feed("Answer") == ""  # could still be anything
    assert reader.feed(": Ro") == "Ro"
    assert reader.feed("me ") == "me"  # the trailing space waits for more text
    assert reader.feed("wins") == " wins"


def test_text_protocol_holds_back_what_follows_the_last_parenthesis() -> None:
    reader = ReplyReader(bare_is_answer=False, plans=False)
    assert reader.feed("Thought: ok\nAction: Finish(f(x") == "f(x"  # before any `)`: the answer
    assert reader.feed(") is 2") == ""  # the `)` may close Finish(: what follows waits
    assert reader.feed(")") == ") is 2"
    assert reader.close().answer == "f(x) is 2"


def test_text_protocol_streams_an_answer_without_parentheses() -> None:
    reader = ReplyReader(bare_is_answer=False, plans=False)
    assert reader.feed("Thought: ok\nAction: Finish(Rome") == "Rome"
    assert reader.feed(" is bigger") == " is bigger"
    assert reader.feed(")\n") == ""
    assert reader.close().answer == "Rome is bigger"


def test_a_lean_replan_carries_the_next_plan() -> None:
    reply = (
        "Replan: the Russos' birth years are missing\n"
        "Thought: two independent lookups.\n"
        '3. search(query="Anthony Russo born")\n'
        '4. search(query="Joe Russo born")\n'
        "5. join()<END_OF_PLAN>"
    )
    reader = ReplyReader(bare_is_answer=True, plans=True)
    assert reader.feed(reply) == ""
    decision = reader.close()
    assert not decision.finish
    assert decision.feedback == "the Russos' birth years are missing"
    assert decision.plan.startswith("Thought: two independent lookups.\n3. search(")
    assert decision.plan.endswith("5. join()<END_OF_PLAN>")
    # without plans asked for, the whole text is feedback
    reader = ReplyReader(bare_is_answer=True, plans=False)
    reader.feed(reply)
    assert reader.close().plan == ""


def test_forced_answer_over_a_lean_replan_says_what_is_missing() -> None:
    reader = ReplyReader(bare_is_answer=True, plans=False)
    reader.feed("Replan: Rome's population")
    decision = settle(reader.close(), force_answer=True)
    assert decision.finish and decision.answer.startswith(NO_COMPLETE_ANSWER)
    assert decision.answer.endswith("Rome's population")


def test_empty_lean_answer_never_becomes_an_empty_message() -> None:
    reader = ReplyReader(bare_is_answer=True, plans=False)
    reader.feed("Answer:   ")
    assert settle(reader.close(), force_answer=False).answer == NO_COMPLETE_ANSWER


def test_joiner_plans_only_with_the_lean_protocol() -> None:
    with pytest.raises(ValueError, match="lean"):
        Joiner(FakeListChatModel(responses=["x"]), format="text", planning="plan like this")


def test_a_replans_few_words_are_its_feedback_and_the_plan_follows() -> None:
    reader = ReplyReader(bare_is_answer=True, plans=True)
    reader.feed('Replan: the birth years are missing\n3. search(query="x")\n4. join()')
    decision = reader.close()
    assert decision.feedback == "the birth years are missing"
    assert decision.plan == '3. search(query="x")\n4. join()'


def test_a_plan_right_after_replan_gives_its_first_thought_as_the_feedback() -> None:
    reader = ReplyReader(bare_is_answer=True, plans=True)
    reader.feed('Replan:\nThought: the birth years are missing.\n3. search(query="x")\n')
    decision = reader.close()
    assert decision.feedback == "the birth years are missing."
    assert decision.plan.startswith("Thought: the birth years") and "3. search(" in decision.plan


def test_every_module_of_the_protocols_package_is_a_choice_of_every_path() -> None:
    """A protocol is one module: its name is in the settings' choices, the CLI's and Studio's,
    and the joiner takes it."""
    from typing import get_args

    from llmcompiler_graph.app.cli import build_parser
    from llmcompiler_graph.core.formats import JOINER_PROTOCOLS, JoinerFormat
    from llmcompiler_graph.core.joiner_protocols import JoinerProtocol, joiner_protocol
    from llmcompiler_graph.settings import Settings

    assert JOINER_PROTOCOLS == ("lean", "structured", "text") == get_args(JoinerFormat)
    from llmcompiler_graph.graph import graph

    studio = graph.get_context_jsonschema()["properties"]["joiner"]
    assert tuple(studio["enum"]) == JOINER_PROTOCOLS
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    ask = commands.choices["ask"]
    joiner_flag = next(a for a in ask._actions if "--joiner" in a.option_strings)
    assert tuple(joiner_flag.choices) == JOINER_PROTOCOLS
    for name in JOINER_PROTOCOLS:
        protocol = joiner_protocol(name)
        assert isinstance(protocol, JoinerProtocol) and protocol.name == name
        assert Settings(joiner=name).joiner == name
        assert Joiner(FakeListChatModel(responses=["x"]), format=name).protocol.instructions(False)
    with pytest.raises(ValueError, match="joiner must be one of 'lean', 'structured', 'text'"):
        joiner_protocol("loud")
