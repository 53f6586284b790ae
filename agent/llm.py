"""The one place that talks to an OpenAI-compatible endpoint (OpenAI, a gateway, llama.cpp server).

``LLMClassifier.classify`` never raises: a timeout, an HTTP error, a refusal or an answer outside
the schema (for instance a team the policy does not have) gives ``choice=None`` and a "fallback"
evidence item saying why, and the cheaper path decides. A call's attempts share one deadline, and a
transient failure is retried only while time remains (``agent.llm_deadline``). Structured output is
requested with a JSON schema (``json_schema``); servers that only know ``json_object`` + ``schema``
(llama-cpp-python) are detected on the first rejection and asked that way from then on. A server
that refuses the prompt as past its context, counting more tokens than the estimate did (its
tokenizer is not tiktoken's), gets it once more, made smaller in proportion to its own count.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel, Field, ValidationError

from agent import llm_deadline
from agent.errors import InputError, LLMError
from agent.llm_prompt import (
    FIELD_TOKENS,
    MIN_BODY_TOKENS,
    SUBJECT_TOKENS,
    BuiltPrompt,
    LLMChoice,
    ResponseFormatKind,
    build_prompt,
    choice_model,
    fixed_prompt_tokens,
    format_tokens,
    quotes_instructions,
    response_format,
    response_schema,
)
from agent.models import Evidence, LLMUsage, TeamScore, Ticket
from agent.policy import Policy
from agent.redact import restore
from agent.settings import Settings
from agent.tokens import encoding_for_model
from knowledge.cases import SimilarCase

MAX_COMPLETION_TOKENS = 300
SOURCE = "agent.llm"
# The share of the server's context a prompt made again after its overflow may fill: its tokens
# grow with the estimate's unevenly (instructions in English, a body in another script).
CONTEXT_MARGIN = 0.9
# What OpenAI, vLLM and llama-cpp-python say of a prompt past the context: the context's size and
# the prompt's tokens as the server counted them.
CONTEXT_SIZE = re.compile(r"maximum context length is (\d+) tokens")
PROMPT_COUNTED = re.compile(
    r"\((\d+) in the messages|messages resulted in (\d+) tokens|has (\d+) input tokens"
)
FORMATS: tuple[ResponseFormatKind, ...] = ("json_schema", "json_object")
# An answer wrapped as a Markdown code block (some models do so even in JSON mode): one block,
# tagged json or untagged, with nothing around it.
FENCED = re.compile(r"\A\s*```(?:json)?[ \t]*\r?\n(?P<inner>.*?)\r?\n[ \t]*```\s*\Z", re.I | re.S)

__all__ = ["LLMChoice", "LLMClassifier", "LLMOutcome"]


class LLMOutcome(BaseModel):
    """The LLM's choice (None when it failed or was rejected), its cost and the evidence."""

    choice: LLMChoice | None = None
    usage: LLMUsage = Field(default_factory=LLMUsage)
    evidence: list[Evidence] = Field(default_factory=list)
    error: str | None = None
    prompt_tokens_estimate: int = 0
    precedents_sent: list[str] = Field(default_factory=list)


class _Rejected(LLMError):
    """The call or its answer cannot be used; caught inside classify, its message is the reason."""


class _ContextExceeded(_Rejected):
    """The server's context cannot hold the prompt as the server counts it: its tokenizer is not
    the estimate's (Japanese takes SmolLM2 about twice the tokens o200k_base counts)."""

    def __init__(self, reason: str, context: int, counted: int) -> None:
        super().__init__(reason)
        self.context, self.counted, self.estimate = context, counted, 0

    def budget(self, estimate: int) -> int:
        """The estimated tokens of a prompt the context holds with the answer, for a prompt whose
        ``estimate`` the server counted as ``counted``."""
        self.estimate = estimate
        room = self.context - MAX_COMPLETION_TOKENS
        return int(room * estimate / self.counted * CONTEXT_MARGIN)


class LLMClassifier:
    """Asks the LLM for team, priority and escalation of one ticket, within a token budget."""

    def __init__(self, settings: Settings, client: openai.OpenAI) -> None:
        self.settings = settings
        self.client = client
        self.encoding = encoding_for_model(settings.llm_model)
        self._format: ResponseFormatKind = "json_schema"

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMClassifier | None:
        """A classifier for the configured endpoint, or None when no LLM is configured."""
        if not settings.llm_configured:
            return None
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
        client = openai.OpenAI(
            base_url=settings.llm_base_url,
            api_key=key,  # local servers need none, but the SDK insists on a value
            timeout=settings.llm_timeout_s,
            max_retries=0,  # classify retries, within the deadline (agent.llm_deadline)
            http_client=openai.DefaultHttpxClient(
                event_hooks={"request": [llm_deadline.start], "response": [llm_deadline.bound]}
            ),
        )
        return cls(settings, client)

    def check_budget(self, policy: Policy) -> None:
        """InputError when the prompt budget cannot hold this policy's prompt with a ticket: every
        call would fall back, and the operator would learn it only ticket by ticket."""
        budget = self.settings.llm_max_prompt_tokens
        fixed = fixed_prompt_tokens(policy, self.encoding)
        schema = response_schema(choice_model(policy))
        # Either format may be sent: the server's answer to the first request decides.
        answer = max(
            format_tokens(response_format(schema, kind), self.encoding) for kind in FORMATS
        )
        needed = fixed + answer + SUBJECT_TOKENS + 2 * FIELD_TOKENS + MIN_BODY_TOKENS
        if budget < needed:
            raise InputError(
                f"TRIAGE_LLM_MAX_PROMPT_TOKENS is {budget}, below the {needed} tokens the LLM "
                f"prompt needs with policy {policy.name!r}: {fixed} for its instructions and "
                f"{len(policy.teams)} teams, {answer} for the JSON schema of its answer, "
                f"{SUBJECT_TOKENS} for a subject, {FIELD_TOKENS} each for a product and an "
                f"account tier and {MIN_BODY_TOKENS} for a body; set it to {needed} or more"
            )

    def classify(
        self,
        *,
        ticket: Ticket,
        clean_text: str,
        policy: Policy,
        precedents: list[SimilarCase],
        candidates: list[TeamScore],
    ) -> LLMOutcome:
        """Ask the LLM; never raises, a failure is reported as fallback evidence. The prompt's
        making counts against TRIAGE_LLM_TIMEOUT_S as the request does."""
        deadline = time.monotonic() + self.settings.llm_timeout_s
        model = choice_model(policy)
        schema = response_schema(model)
        usage = LLMUsage(model=self.settings.llm_model)
        budget = self.settings.llm_max_prompt_tokens
        overflow: _ContextExceeded | None = None
        while True:
            # The schema travels with the messages and counts against the same budget.
            answer = format_tokens(response_format(schema, self._format), self.encoding)
            prompt = build_prompt(
                ticket=ticket,
                clean_text=clean_text,
                policy=policy,
                precedents=precedents,
                candidates=candidates,
                budget=budget,
                encoding=self.encoding,
                reserved=answer,
            )
            outcome = self._outcome(prompt, budget, usage, overflow)
            if not prompt.fits:
                if overflow is not None:
                    return self._fallback(outcome, f"{overflow}; no prompt fits it")
                return self._fallback(
                    outcome,
                    f"prompt of {prompt.tokens} tokens ({answer} of them the answer's JSON "
                    f"schema) exceeds the budget of {budget} even without precedents",
                )
            messages: list[Any] = [m.model_dump() for m in prompt.messages]
            try:
                completion = self._complete(messages, schema, usage, deadline)
                choice = self._parse(completion, model)
            except _ContextExceeded as exc:
                # The messages sent, as estimated, came to exc.counted; the schema is the one
                # the next request carries (the server may have had the format switched).
                asked = format_tokens(response_format(schema, self._format), self.encoding)
                smaller = exc.budget(prompt.tokens - answer) + asked
                if overflow is not None or smaller >= budget:
                    return self._fallback(outcome, str(exc))
                # The server counts more tokens than the estimate (another tokenizer): the
                # prompt is made again, as much smaller as the server's count was larger.
                overflow, budget = exc, smaller
                continue
            except _Rejected as exc:
                return self._fallback(outcome, str(exc))
            break
        if quotes_instructions(" ".join([choice.rationale, *choice.next_steps])):
            # The ticket got the model to recite its instructions: neither they nor its choice
            # may go back to the submitter.
            return self._fallback(outcome, "LLM answer quotes its instructions; not used")
        if choice.escalate == (choice.team == policy.first_line_team):
            # Its team and its escalation disagree: neither says more than the other.
            said = "escalate" if choice.escalate else "keep it first line"
            return self._fallback(
                outcome, f"LLM answer contradicts itself: team {choice.team} but {said}; not used"
            )
        choice.rationale = restore(choice.rationale, prompt.placeholders)
        choice.next_steps = [restore(step, prompt.placeholders) for step in choice.next_steps]
        outcome.choice = choice
        outcome.evidence.append(
            Evidence(
                kind="llm",
                source=f"llm:{outcome.usage.model}",
                detail=choice.rationale or "(no rationale)",
                team=choice.team,
                weight=choice.confidence,
            )
        )
        return outcome

    def _outcome(
        self,
        prompt: BuiltPrompt,
        budget: int,
        usage: LLMUsage,
        overflow: _ContextExceeded | None,
    ) -> LLMOutcome:
        """The outcome of sending this prompt, made within ``budget``, with the evidence of what
        it holds."""
        outcome = LLMOutcome(
            usage=usage,
            prompt_tokens_estimate=prompt.tokens,
            precedents_sent=prompt.precedents_sent,
        )
        if prompt.redactor_counts:
            counts = ", ".join(
                f"{n} {kind.lower()}" for kind, n in sorted(prompt.redactor_counts.items())
            )
            outcome.evidence.append(
                Evidence(kind="redaction", source=SOURCE, detail=f"redacted {counts}")
            )
        if prompt.body_tokens_sent < prompt.body_tokens:
            # What the LLM's answer rests on: a reviewer reads its rationale knowing it saw part.
            outcome.evidence.append(
                Evidence(
                    kind="llm",
                    source=SOURCE,
                    detail=f"ticket body cut to {prompt.body_tokens_sent:,} of "
                    f"{prompt.body_tokens:,} tokens to fit the prompt budget of {budget:,}",
                )
            )
        if overflow is not None:
            outcome.evidence.append(
                Evidence(
                    kind="llm",
                    source=SOURCE,
                    detail=f"prompt made again to fit the server's context of "
                    f"{overflow.context:,} tokens: it counted {overflow.counted:,} tokens in "
                    f"a prompt estimated at {overflow.estimate:,}",
                )
            )
        return outcome

    def _complete(
        self, messages: list[Any], schema: dict[str, Any], usage: LLMUsage, deadline: float
    ) -> ChatCompletion:
        """One chat completion with structured output by ``deadline``, all attempts together: a
        transient failure is retried while time remains; the format is switched once if the
        server asks."""
        timeout = self.settings.llm_timeout_s
        retries = 0
        while True:
            usage.calls += 1
            fmt: Any = response_format(schema, self._format)  # json_object's schema: not the SDK's
            try:
                completion = self.client.chat.completions.create(
                    model=self.settings.llm_model,
                    messages=messages,
                    response_format=fmt,
                    temperature=0,
                    max_tokens=MAX_COMPLETION_TOKENS,
                    timeout=max(deadline - time.monotonic(), 0.001),
                )
            except openai.APIStatusError as exc:
                if self._format == "json_schema" and "response_format" in str(exc.message):
                    self._format = "json_object"  # llama-cpp-python: json_object with a schema
                    continue
                failure: openai.OpenAIError = exc
                reason = _status_reason(exc)
                sizes = _context_exceeded(exc)
                if sizes is not None:
                    raise _ContextExceeded(reason, *sizes) from None
            except openai.APITimeoutError as exc:
                failure, reason = exc, f"LLM timed out after {timeout:g}s"
            except openai.APIConnectionError as exc:
                failure, reason = exc, f"LLM unreachable: {exc}"
            except openai.OpenAIError as exc:
                raise _Rejected(f"LLM call failed: {exc}") from None
            except ValueError as exc:  # the SDK reads a 200's body as JSON and lets this through
                raise _Rejected(f"LLM response body is not JSON: {exc}") from None
            else:
                if not isinstance(completion, ChatCompletion):  # other JSON comes back as is
                    raise _Rejected(
                        f"LLM response is not a chat completion: {str(completion)[:120]!r}"
                    )
                self._record_usage(completion, usage)
                return completion
            wait = llm_deadline.retry_wait(failure, retries)
            notes = [f"after {retries} {'retry' if retries == 1 else 'retries'}"] if retries else []
            if wait is not None and retries < self.settings.llm_max_retries:
                left = deadline - time.monotonic()
                if wait < left:
                    retries += 1
                    time.sleep(wait)
                    continue
                if left > 0 and not isinstance(failure, openai.APITimeoutError):
                    notes.append(f"a retry in {wait:.1f}s would end past the {timeout:g}s timeout")
            raise _Rejected(reason + (f" ({'; '.join(notes)})" if notes else ""))

    def _record_usage(self, completion: ChatCompletion, usage: LLMUsage) -> None:
        if isinstance(completion.model, str) and completion.model:
            usage.model = completion.model[:200]
        if not isinstance(completion.usage, CompletionUsage):
            return  # none sent, or not the object it should be: nothing to count
        # Some servers send usage with null counts: what they did not count adds nothing.
        usage.prompt_tokens += _count(completion.usage.prompt_tokens)
        usage.completion_tokens += _count(completion.usage.completion_tokens)
        usage.cost_usd = round(
            usage.prompt_tokens / 1000 * self.settings.llm_usd_per_1k_prompt
            + usage.completion_tokens / 1000 * self.settings.llm_usd_per_1k_completion,
            8,
        )

    @staticmethod
    def _parse(completion: ChatCompletion, model: type[LLMChoice]) -> LLMChoice:
        """The validated answer, or _Rejected with what was wrong with it."""
        if not completion.choices:
            # Some gateways answer a provider's failure with 200 and an error object.
            error = (completion.model_extra or {}).get("error")
            said = error.get("message") if isinstance(error, Mapping) else error
            if isinstance(said, str) and said.strip():
                raise _Rejected(f"LLM answered with an error: {' '.join(said.split())[:200]}")
            raise _Rejected("LLM returned no choices")
        if not isinstance(completion.choices, list):
            raise _Rejected(f"LLM choices are not a list: {str(completion.choices)[:120]!r}")
        first = completion.choices[0]
        # The SDK does not validate a response: a gateway's odd JSON arrives as it was sent.
        if not isinstance(first, Choice) or not isinstance(first.message, ChatCompletionMessage):
            raise _Rejected("LLM returned a choice without a message")
        if first.message.refusal:
            raise _Rejected(f"LLM refused: {str(first.message.refusal)[:200]}")
        if first.finish_reason == "length":
            raise _Rejected(f"LLM answer cut off at {MAX_COMPLETION_TOKENS} tokens")
        if first.finish_reason == "content_filter":  # Azure OpenAI: the ticket's text or answer
            raise _Rejected("LLM answer withheld by the server's content filter")
        content = first.message.content or ""
        if not isinstance(content, str):
            raise _Rejected(f"LLM answer is not text: {str(content)[:120]!r}")
        try:
            data = json.loads(_unfenced(content))
        except json.JSONDecodeError as exc:
            raise _Rejected(f"LLM answer is not JSON ({exc.msg}): {content[:120]!r}") from None
        except RecursionError:
            raise _Rejected(
                f"LLM answer is JSON nested too deep to read: {content[:120]!r}"
            ) from None
        except ValueError as exc:  # an integer longer than Python converts (4,300 digits)
            raise _Rejected(
                f"LLM answer is JSON it cannot read ({exc}): {content[:120]!r}"
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:3]
            )
            raise _Rejected(f"LLM answer out of schema: {problems}") from None

    @staticmethod
    def _fallback(outcome: LLMOutcome, reason: str) -> LLMOutcome:
        outcome.error = reason
        outcome.evidence.append(Evidence(kind="fallback", source=SOURCE, detail=reason))
        return outcome


def _unfenced(content: str) -> str:
    """The JSON object inside a single fenced code block, or the answer as it is.

    Only an object is taken out: a fenced list, a second block or text around the block stay as
    they are and fail as JSON, as they did unfenced.
    """
    found = FENCED.match(content)
    if found is None:
        return content
    inner = found.group("inner").strip()
    return inner if inner.startswith("{") and "```" not in inner else content


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _context_exceeded(exc: openai.APIStatusError) -> tuple[int, int] | None:
    """The server's context and the prompt's tokens as it counted them, when it refused the prompt
    as too long for its context (llama.cpp's server says so in fields of its error)."""
    body = exc.body
    if isinstance(body, Mapping):
        context, counted = body.get("n_ctx"), body.get("n_prompt_tokens")
        if isinstance(context, int) and isinstance(counted, int) and context > 0 and counted > 0:
            return context, counted
    said = str(body.get("message")) if isinstance(body, Mapping) else str(exc.message)
    size, prompt = CONTEXT_SIZE.search(said), PROMPT_COUNTED.search(said)
    if size is None or prompt is None:
        return None
    counted = int(next(group for group in prompt.groups() if group is not None))
    return (int(size.group(1)), counted) if counted > 0 else None


def _status_reason(exc: openai.APIStatusError) -> str:
    """'LLM answered HTTP 503: overloaded': the server's own words once, from its error body.

    The SDK's message repeats the status and drops a body that is not JSON (a gateway's page)."""
    body = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        detail = body["message"]
    elif isinstance(body, str):
        detail = body
    else:
        detail = re.sub(rf"^Error code: {exc.status_code}(?: - )?", "", str(exc.message))
    detail = " ".join(detail.split())[:200]
    return f"LLM answered HTTP {exc.status_code}" + (f": {detail}" if detail else "")
