"""The brief as the helpdesk comment the specialist reads."""

from __future__ import annotations

from agent.models import Brief, SimilarEscalation, TriageDecision
from api.helpdesk.brief_md import brief_markdown


def test_a_similar_cases_long_resolution_is_cut_and_says_so() -> None:
    fix = "Rebuilt the VPN profile and re-enrolled the certificate step by step. " * 80
    brief = Brief(
        ticket_id="T-1",
        headline="VPN drops",
        problem="VPN drops.",
        customer="requester unknown",
        similar=[
            SimilarEscalation(
                case_id="C-1", similarity=0.8, team="network", summary="VPN", resolution=fix
            )
        ],
    )
    decision = TriageDecision(
        ticket_id="T-1",
        escalate=True,
        team="network",
        tier=2,
        priority="P3",
        confidence=0.9,
        decided_by="learned",
        policy_version="1",
    )
    comment = brief_markdown(decision, brief, "marker")
    (line,) = [x for x in comment.splitlines() if x.startswith("- C-1")]
    assert "Resolution: Rebuilt the VPN profile" in line and line.endswith("…")
    assert len(line) < 400, len(line)


def test_a_similar_case_without_a_resolution_says_so() -> None:
    brief = Brief(
        ticket_id="T-1",
        headline="VPN drops",
        problem="VPN drops.",
        customer="requester unknown",
        similar=[SimilarEscalation(case_id="C-2", similarity=0.7, team="network", summary="VPN")],
    )
    decision = TriageDecision(
        ticket_id="T-1",
        escalate=True,
        team="network",
        tier=2,
        priority="P3",
        confidence=0.9,
        decided_by="learned",
        policy_version="1",
    )
    comment = brief_markdown(decision, brief, "marker")
    assert "- C-2 (0.70, network): VPN Resolution: not recorded" in comment.splitlines()
