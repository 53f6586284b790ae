"""Deterministic policy rules and the complexity score, compiled once per policy.

``RuleEngine(policy)`` compiles every keyword list into one folded, word-bounded pattern and every
error-code regex once; evaluating a ticket is then a handful of scans of its *injection-cleaned*
text, well under a millisecond for a typical policy. Error-code regexes run with a time limit
(agent.patterns): one that gives up on a ticket's text is named in ``Complexity.gave_up``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from agent.errors import PolicyError
from agent.models import Evidence, Ticket
from agent.patterns import PATTERN_TIMEOUT_S, CompiledPattern, compile_pattern, find_matches
from agent.policy import Policy
from agent.policy_rules import RuleActions
from agent.text import compile_terms, fold, match_keys, term_key

log = logging.getLogger(__name__)

HitKind = Literal["keyword", "error_code", "field", "complexity"]
Part = Literal["error_codes", "products", "prior_contacts", "reopens", "length", "urgency"]

# Ticket attributes a rule's `fields` may name, and how each is read.
FIELD_NAMES = (
    "channel",
    "product",
    "category",
    "account_tier",
    "region",
    "language",
    "severity",
)


class RuleHit(BaseModel):
    """A rule that fired, what it matched and what it asks for."""

    rule_id: str
    description: str = ""
    matched: list[str] = Field(default_factory=list, description="Terms, codes, field=value")
    kinds: list[HitKind] = Field(default_factory=list)
    actions: RuleActions
    weight: float = 1.0


class Complexity(BaseModel):
    """The complexity score, its weighted parts and the signals found."""

    score: float
    parts: dict[str, float] = Field(default_factory=dict)
    error_codes: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    urgency_cues: list[str] = Field(default_factory=list)
    gave_up: list[str] = Field(
        default_factory=list,
        description="Error-code patterns that gave up on the text past their time limit (the "
        "rules using them may have missed a code)",
    )


def ticket_field(ticket: Ticket, name: str) -> str | None:
    """The value of a policy-addressable ticket attribute (account_tier, region, language...)."""
    if name == "account_tier":
        return ticket.account.tier
    if name == "region":
        return ticket.account.region
    if name == "language":
        return ticket.language or ticket.account.language
    if name in ("channel", "product", "category", "severity"):
        value = getattr(ticket, name)
        return str(value) if value is not None else None
    raise KeyError(name)


def field_matches(name: str, value: str | None, accepted: set[str]) -> bool:
    """Whether a ticket's value is one of the accepted (folded) values; a language also by its
    primary subtag, so 'de' takes 'de-DE' and 'de_AT' as browsers and mail clients send them."""
    if value is None:
        return False
    folded = fold(value).strip()
    if folded in accepted:
        return True
    if name != "language":
        return False
    tag = folded.replace("_", "-")
    tags = {a.replace("_", "-") for a in accepted}
    return tag in tags or tag.split("-", 1)[0] in tags


class _CompiledRule:
    """One rule with its folded keyword keys and compiled error-code regexes."""

    def __init__(self, policy: Policy, index: int) -> None:
        rule = policy.rules[index]
        self.rule = rule
        self.keywords = {term_key(k): k for k in rule.match.keywords if term_key(k)}
        self.codes = [compile_pattern(p) for p in rule.match.error_codes]
        self.fields: dict[str, set[str]] = {}
        for name, values in rule.match.fields.items():
            if name not in FIELD_NAMES:
                raise PolicyError(
                    f"rules[{index}].match.fields.{name}: unknown ticket field, "
                    f"expected one of {list(FIELD_NAMES)}"
                )
            self.fields[name] = {fold(v) for v in values}


class RuleEngine:
    """A policy's rules and complexity settings, compiled for fast per-ticket evaluation."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rules = [_CompiledRule(policy, i) for i in range(len(policy.rules))]
        self.keyword_pattern = compile_terms(k for r in policy.rules for k in r.match.keywords)
        cx = policy.complexity
        self.products = {term_key(p): p for p in cx.products if term_key(p)}
        self.urgency = {term_key(u): u for u in cx.urgency_cues if term_key(u)}
        self.signal_pattern = compile_terms([*cx.products, *cx.urgency_cues])
        # Generic codes live in the policy's complexity section once the schema has them;
        # every rule's error-code patterns count too. Each distinct regex runs once per text.
        generic = [compile_pattern(p) for p in getattr(cx, "error_codes", None) or []]
        unique = {c.pattern: c for c in [*generic, *(c for r in self.rules for c in r.codes)]}
        self.code_patterns = list(unique.values())
        self._last: _Scan | None = None

    def _scan(self, text: str) -> _Scan:
        # evaluate() and complexity() of one ticket read the same text: scan it once.
        # The cached scan depends on the text alone; what it adds later (codes, keys, patterns
        # that gave up on its text or a part of it) is the same whoever adds it.
        last = self._last
        if last is not None and last.text == text:
            return last
        scan = _Scan(self, text)
        self._last = scan
        return scan

    def evaluate(
        self,
        ticket: Ticket,
        text: str,
        subject: str | None = None,
        complexity: Complexity | None = None,
    ) -> list[RuleHit]:
        """The rules that fire on the cleaned text (`subject`: cleaned subject), in policy order."""
        scans = {"any": self._scan(text)}
        subj = ticket.subject if subject is None else subject
        hits: list[RuleHit] = []
        for compiled in self.rules:
            rule = compiled.rule
            where = rule.match.where
            if where not in scans:
                region = subj if where == "subject" else _body(text, subj)
                scans[where] = _Scan(self, region, parent=scans["any"])
            scan = scans[where]
            matched: list[str] = []
            kinds: list[HitKind] = []
            keys = scan.keys()
            words = [orig for key, orig in compiled.keywords.items() if key in keys]
            if words:
                matched += words
                kinds.append("keyword")
            codes = scan.codes(compiled.codes)
            if codes:
                matched += codes
                kinds.append("error_code")
            fields = self._field_matches(compiled, ticket)
            if fields:
                matched += fields
                kinds.append("field")
            if rule.match.min_complexity is not None:
                cx = complexity or self.complexity(ticket, text)
                if cx.score >= rule.match.min_complexity:
                    matched.append(f"complexity {cx.score:g} >= {rule.match.min_complexity:g}")
                    kinds.append("complexity")
            if kinds:
                hits.append(
                    RuleHit(
                        rule_id=rule.id,
                        description=rule.description,
                        matched=matched,
                        kinds=kinds,
                        actions=rule.actions,
                        weight=rule.weight,
                    )
                )
        return hits

    def complexity(self, ticket: Ticket, text: str) -> Complexity:
        """The weighted complexity score of a ticket and the signals behind it."""
        cx = self.policy.complexity
        scan = self._scan(text)
        found = match_keys(self.signal_pattern, scan.folded)
        products = [p for key, p in self.products.items() if key in found]
        cues = [u for key, u in self.urgency.items() if key in found]
        codes = scan.codes(self.code_patterns)
        earlier_messages = max(len(ticket.messages) - 1, 0)
        units: dict[Part, float] = {
            "error_codes": min(len(codes), 3),
            "products": min(len(products), 3),
            "prior_contacts": min(len(ticket.history) + earlier_messages, 5),
            "reopens": min(ticket.reopen_count, 3),
            "length": min(len(text) / cx.length_unit_chars, 3.0),
            "urgency": min(len(cues), 2),
        }
        parts: dict[str, float] = {
            k: round(cx.weights.get(k, 0.0) * v, 3) for k, v in units.items()
        }
        return Complexity(
            score=round(sum(parts.values()), 2),
            parts=parts,
            error_codes=codes,
            products=products,
            urgency_cues=cues,
            gave_up=list(scan.gave_up),
        )

    def _field_matches(self, compiled: _CompiledRule, ticket: Ticket) -> list[str]:
        out = []
        for name, accepted in compiled.fields.items():
            value = ticket_field(ticket, name)
            if field_matches(name, value, accepted):
                out.append(f"{name}={value}")
        return out


class _Scan:
    """One text's folded form, keyword keys and error codes, each computed on first use."""

    def __init__(self, engine: RuleEngine, text: str, parent: _Scan | None = None) -> None:
        self.engine = engine
        self.text = text
        self.folded = fold(text)
        self._keys: set[str] | None = None
        self._codes: dict[str, list[str]] = {}
        # patterns that gave up here, and in the scans of this text's subject or body
        self.gave_up: dict[str, None] = {}
        self._parent = parent

    def keys(self) -> set[str]:
        """Folded keys of every rule keyword in the text."""
        if self._keys is None:
            self._keys = match_keys(self.engine.keyword_pattern, self.folded)
        return self._keys

    def codes(self, patterns: list[CompiledPattern]) -> list[str]:
        """Distinct codes the patterns find, per pattern in order of appearance."""
        seen: dict[str, str] = {}
        for pattern in patterns:
            found = self._codes.get(pattern.pattern)
            if found is None:
                found, gave_up = find_matches(pattern, self.text)
                if gave_up:
                    self._gave_up(pattern.pattern)
                self._codes[pattern.pattern] = found
            for code in found:
                seen.setdefault(code.upper(), code)
        return list(seen.values())

    def _gave_up(self, pattern: str) -> None:
        log.warning(
            "error-code pattern %r gave up after %g s on a text of %d characters; simplify it",
            pattern,
            PATTERN_TIMEOUT_S,
            len(self.text),
        )
        scan: _Scan | None = self
        while scan is not None:
            scan.gave_up[pattern] = None
            scan = scan._parent


def _body(text: str, subject: str) -> str:
    """The text without its leading subject line."""
    return text[len(subject) :].lstrip() if subject and text.startswith(subject) else text


def rule_evidence(
    hits: list[RuleHit], tier_notes: Mapping[str, str] | None = None
) -> list[Evidence]:
    """One evidence item per fired rule, naming what matched and what it asks for
    (``tier_notes``: by rule id, why the tier it asks for was not applied)."""
    out = []
    for hit in hits:
        asks = []
        if hit.actions.escalate_to:
            asks.append(f"escalate to {hit.actions.escalate_to}")
        if hit.actions.stay_first_line:
            asks.append("stay first line")
        if hit.actions.tier:
            asks.append((tier_notes or {}).get(hit.rule_id, f"tier {hit.actions.tier}"))
        if hit.actions.raise_priority_to:
            asks.append(f"priority at least {hit.actions.raise_priority_to}")
        if hit.actions.add_tags:
            asks.append("tags " + ", ".join(hit.actions.add_tags))
        detail = f"rule {hit.rule_id} matched " + ", ".join(repr(m) for m in hit.matched)
        if asks:
            detail += "; " + "; ".join(asks)
        out.append(
            Evidence(
                kind="rule",
                source=hit.rule_id,
                detail=detail,
                team=hit.actions.escalate_to,
                weight=hit.weight,
            )
        )
    return out


# Policies are unhashable pydantic models: key by identity, drop the entry when the policy dies.
_ENGINES: dict[int, tuple[weakref.ref[Policy], RuleEngine]] = {}


def engine_for(policy: Policy) -> RuleEngine:
    """The compiled engine of a policy, built once and kept while the policy lives."""
    key = id(policy)
    entry = _ENGINES.get(key)
    if entry is not None and entry[0]() is policy:
        return entry[1]
    engine = RuleEngine(policy)
    _ENGINES[key] = (weakref.ref(policy, lambda _ref: _ENGINES.pop(key, None)), engine)
    return engine


def evaluate_rules(
    policy: Policy, ticket: Ticket, text: str, subject: str | None = None
) -> list[RuleHit]:
    """The rules of the policy that fire on the ticket's cleaned text."""
    return engine_for(policy).evaluate(ticket, text, subject)


def score_complexity(policy: Policy, ticket: Ticket, text: str) -> Complexity:
    """The complexity of the ticket's cleaned text under the policy."""
    return engine_for(policy).complexity(ticket, text)
