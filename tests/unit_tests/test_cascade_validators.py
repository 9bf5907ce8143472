"""The shipped validators, each on hand-built answers (no model calls)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from langchain_tiered.cascade import (
    Cascade,
    CascadeRequest,
    Judge,
    LogprobConfidence,
    Matches,
    NotEmpty,
    NotRefusal,
    NotTruncated,
    Predicate,
    ValidStructuredOutput,
    ValidToolCalls,
    Verdict,
)
from langchain_tiered.cascade.judge import detect_language
from langchain_tiered.cascade.schema import schema_errors


class Weather(BaseModel):
    """Weather in a city."""

    city: str
    days: int = Field(ge=1)


def request(*tools: Any, structured: bool = False, **kw: Any) -> CascadeRequest:
    return CascadeRequest(
        messages=(HumanMessage("What is 6 x 7?"),),
        openai_tools=tuple(convert_to_openai_tool(t) for t in tools),
        structured_output=structured,
        **kw,
    )


def answer(content: str = "", **kw: Any) -> AIMessage:
    return AIMessage(content=content, **kw)


def call(name: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "c1"}])


# -- answer-only checks ---------------------------------------------------------------------


def test_not_empty() -> None:
    assert not NotEmpty()(request(), answer("  \n")).accepted
    assert NotEmpty()(request(), answer("42")).accepted
    assert NotEmpty()(request(), call("Weather", {})).accepted


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I\u2019m sorry, but I cannot assist with this request.",
        "I cannot help with that.",
        "As an AI language model, I cannot do that.",
        "Es tut mir leid, aber ich kann dabei nicht helfen.",
        "Leider kann ich Ihnen dabei nicht helfen.",
    ],
)
def test_refusals_are_rejected(text: str) -> None:
    verdict = NotRefusal()(request(), answer(text))
    assert verdict == Verdict.reject("the answer is a refusal")


def test_refusal_quoted_later_is_not_a_refusal() -> None:
    text = 'The customer wrote "I cannot help with that" and we replied politely.'
    assert NotRefusal()(request(), answer(text)).accepted


def test_provider_refusal_and_content_filter_are_rejected() -> None:
    refused = answer("", additional_kwargs={"refusal": "no"})
    filtered = answer("partial", response_metadata={"finish_reason": "content_filter"})
    assert not NotRefusal()(request(), refused).accepted
    assert not NotRefusal()(request(), filtered).accepted


def test_extra_refusal_pattern() -> None:
    assert not NotRefusal(patterns=[r"nope\b"])(request(), answer("Nope, not today")).accepted


@pytest.mark.parametrize(
    "meta",
    [{"finish_reason": "length"}, {"stop_reason": "max_tokens"}, {"status": "incomplete"}],
)
def test_truncated_is_rejected(meta: dict[str, Any]) -> None:
    assert not NotTruncated()(request(), answer("The answer is", response_metadata=meta)).accepted


def test_complete_answer_is_accepted() -> None:
    done = answer("42", response_metadata={"finish_reason": "stop"})
    assert NotTruncated()(request(), done).accepted


def test_matches_and_predicate() -> None:
    final = Matches(r"####\s*-?[\d,.]+", reason="no final number")
    assert final(request(), answer("so 6*7=42\n#### 42")).accepted
    assert final(request(), answer("it is 42")) == Verdict.reject("no final number")
    short = Predicate(lambda text: len(text) < 10, reason="too long")
    assert short(request(), answer("42")).accepted
    assert short(request(), answer("forty-two, I think")) == Verdict.reject("too long")
    on_tier = Predicate(lambda req, msg: req.tier == "big", on_message=True)
    assert on_tier(request(tier="big"), answer("x")).accepted


def test_logprob_confidence() -> None:
    def with_logprobs(*values: float) -> AIMessage:
        content = [{"token": "t", "logprob": v} for v in values]
        return answer("x", response_metadata={"logprobs": {"content": content}})

    check = LogprobConfidence(min_mean_logprob=-0.5)
    sure = check(request(), with_logprobs(-0.1, -0.3))
    unsure = check(request(), with_logprobs(-0.1, -2.0))
    assert sure.accepted
    assert sure.score == pytest.approx(-0.2)
    assert not unsure.accepted
    assert unsure.score == pytest.approx(-1.05)
    assert check(request(), answer("no logprobs")).accepted
    assert not LogprobConfidence(-0.5, require=True)(request(), answer("x")).accepted


# -- tool calls and structured output -------------------------------------------------------


def get_time(city: str, utc: bool = False) -> str:
    """Current time in a city."""
    return city


def test_valid_tool_calls() -> None:
    check = ValidToolCalls()
    req = request(Weather, get_time)
    assert check(req, call("Weather", {"city": "Berlin", "days": 2})).accepted
    assert check(req, call("get_time", {"city": "Berlin"})).accepted
    assert check(req, answer("no tools needed")).accepted
    unknown = check(req, call("weather", {"city": "Berlin"}))
    assert unknown.reason == "tool call names unknown tool 'weather' (Weather, get_time)"
    missing = check(req, call("Weather", {"city": "Berlin"}))
    assert missing == Verdict.reject("tool 'Weather' arguments invalid: $: missing 'days'")
    wrong = check(req, call("get_time", {"city": "Berlin", "utc": "yes"}))
    assert wrong == Verdict.reject(
        "tool 'get_time' arguments invalid: $.utc: expected boolean, got str"
    )


def test_unparsable_tool_call_is_rejected() -> None:
    bad = AIMessage(
        content="",
        invalid_tool_calls=[{"name": "Weather", "args": "{city:", "id": "c1", "error": "json"}],
    )
    assert not ValidToolCalls()(request(Weather), bad).accepted
    assert not ValidStructuredOutput()(request(Weather, structured=True), bad).accepted


def test_structured_output_function_calling() -> None:
    check = ValidStructuredOutput()
    req = request(Weather, structured=True)
    assert check(req, call("Weather", {"city": "Berlin", "days": 2})).accepted
    assert not check(req, answer("Berlin, 2 days")).accepted
    assert not check(req, call("Weather", {"city": "Berlin", "days": "two"})).accepted


def test_structured_output_with_explicit_pydantic_schema_uses_its_validators() -> None:
    check = ValidStructuredOutput(schema=Weather)
    req = request(Weather, structured=True)
    zero = check(req, call("Weather", {"city": "Berlin", "days": 0}))
    assert not zero.accepted
    assert "days" in zero.reason


def test_structured_output_json_schema_and_json_mode() -> None:
    schema = Weather.model_json_schema()
    fmt = {"type": "json_schema", "json_schema": {"name": "Weather", "schema": schema}}
    check = ValidStructuredOutput()
    req = request(response_format=fmt)
    assert check(req, answer('{"city": "Berlin", "days": 2}')).accepted
    assert check(req, answer('```json\n{"city": "Berlin", "days": 2}\n```')).accepted
    assert not check(req, answer('{"city": "Berlin"}')).accepted
    assert not check(req, answer("Berlin for two days")).accepted
    json_mode = request(response_format={"type": "json_object"})
    assert check(json_mode, answer('{"anything": 1}')).accepted
    assert not check(json_mode, answer("not json")).accepted


def test_no_structured_output_requested_is_accepted() -> None:
    assert ValidStructuredOutput()(request(), answer("plain text")).accepted


def test_schema_errors_subset() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "child": {"$ref": "#/$defs/Child"},
        },
        "required": ["kind"],
        "additionalProperties": False,
        "$defs": {"Child": {"type": "object", "required": ["x"]}},
    }
    assert schema_errors({"kind": "a", "tags": ["x"], "n": None, "child": {"x": 1}}, schema) == []
    assert schema_errors({"kind": "c"}, schema) == ["$.kind: 'c' not one of ['a', 'b']"]
    assert schema_errors({"kind": "a", "tags": [1]}, schema) == [
        "$.tags[0]: expected string, got int"
    ]
    assert schema_errors({"kind": "a", "n": "1"}, schema) == ["$.n: matches none of anyOf"]
    assert schema_errors({"kind": "a", "zz": 1}, schema) == ["$: unexpected 'zz'"]
    assert schema_errors({"kind": "a", "child": {}}, schema) == ["$.child: missing 'x'"]
    assert schema_errors(True, {"type": "integer"}) == ["$: expected integer, got bool"]
    assert schema_errors(2.0, {"type": "integer"}) == []


# -- judge ----------------------------------------------------------------------------------


def test_judge_standalone_with_model() -> None:
    grader = GenericFakeChatModel(messages=iter([AIMessage("8"), AIMessage("Score: 3")]))
    judge = Judge(model=grader, threshold=0.7)
    good = judge(request(), answer("42"))
    bad = judge(request(), answer("41"))
    assert good == Verdict(True, "judge grade 8/10 (threshold 7)", 0.8)
    assert bad == Verdict(False, "judge grade 3/10 (threshold 7)", 0.3)


def test_judge_without_grade_rejects_and_needs_a_model_outside_a_cascade() -> None:
    assert Judge().verdict("I think it is fine") == Verdict.reject(
        "judge gave no grade ('I think it is fine')"
    )
    with pytest.raises(ValueError, match="needs model="):
        Judge()(request(), answer("42"))


def test_judge_prompt_language_and_rubric() -> None:
    de = CascadeRequest(messages=(HumanMessage("Wie viele Tage hat ein Schaltjahr?"),))
    system, human = Judge().prompt(de, answer("366"))
    assert str(system.content).startswith("Du bist ein strenger Prüfer")
    assert "FRAGE:\nWie viele Tage hat ein Schaltjahr?" in str(human.content)
    _, human_en = Judge(rubric="Only the number matters.").prompt(request(), answer("42"))
    assert str(human_en.content).startswith("Rubric: Only the number matters.")
    assert "ANSWER:\n42" in str(human_en.content)


def test_detect_language() -> None:
    assert detect_language("Was ist der Unterschied zwischen Äpfeln und Birnen?") == "de"
    assert detect_language("What is the difference between apples and pears?") == "en"


# -- configuration errors -------------------------------------------------------------------


def test_cascade_configuration_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="max_steps=0"):
        Cascade(max_steps=0)
    with pytest.raises(ValueError, match="start='first'"):
        Cascade(start="first")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_rejected='ignore'"):
        Cascade(on_rejected="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not callable"):
        Cascade(validators=["not a validator"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="threshold=7"):
        Judge(threshold=7)


def test_rejected_error_is_a_tiered_error_keeping_steps_and_answer() -> None:
    from langchain_tiered import CascadeRejectedError, TieredError

    error = CascadeRejectedError("all rejected", steps=[{"tier": "a"}], message=answer("x"))
    assert isinstance(error, TieredError)
    assert error.steps == [{"tier": "a"}]
    assert error.message.content == "x"


def test_schema_errors_bounds_lengths_and_patterns() -> None:
    schema = {
        "type": "object",
        "properties": {
            "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$", "maxLength": 3},
            "tags": {"type": "array", "minItems": 1},
        },
    }
    assert schema_errors({"days": 14, "code": "EUR", "tags": ["a"]}, schema) == []
    assert schema_errors({"days": 0}, schema) == ["$.days: 0 breaks minimum=1"]
    assert schema_errors({"days": 15}, schema) == ["$.days: 15 breaks exclusiveMaximum=15"]
    assert schema_errors({"code": "eu"}, schema) == ["$.code: 'eu' does not match '^[A-Z]{3}$'"]
    assert schema_errors({"tags": []}, schema) == ["$.tags: [] breaks minItems=1"]


def test_structured_output_answered_as_json_text_uses_the_calls_schema() -> None:
    # with_structured_output(method="json_schema"): the tier answers JSON text, no tool call.
    check = ValidStructuredOutput()
    req = request(Weather, structured=True)
    assert check(req, answer('{"city": "Berlin", "days": 2}')).accepted
    assert check(req, answer('{"city": "Berlin", "days": 0}')) == Verdict.reject(
        "structured output invalid: $.days: 0 breaks minimum=1"
    )
    assert check(req, answer("")) == Verdict.reject(
        "no structured output (neither a tool call nor JSON)"
    )
