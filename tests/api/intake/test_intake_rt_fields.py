"""RT's Category, Severity and Product custom fields become the ticket's own fields."""

from __future__ import annotations

from intake_samples import rt_payload

from agent.policy import Policy
from agent.priority import severity_floor
from api.intake.webhooks import adapt_rt


def test_rt_custom_fields_fill_the_tickets_category_severity_and_product(
    example_policy: Policy,
) -> None:
    payload = rt_payload()
    payload["ticket"]["custom_fields"] = {
        "severity": "Critical",  # any case of the name
        "Category": ["", "Network", "Hardware"],  # a multi-value field: its first value
        "Product": "  ",
        "Account": "ACME",
    }
    ticket = adapt_rt(payload).ticket
    assert ticket is not None
    assert (ticket.severity, ticket.category, ticket.product) == ("Critical", "Network", None)
    assert ticket.custom_fields["rt"]["Category"] == ["", "Network", "Hardware"]  # kept as sent
    # the example policy's by_severity floor now applies to RT tickets too
    assert severity_floor(example_policy.priorities, ticket.severity) == "P1"


def test_an_rt_ticket_without_those_fields_has_none() -> None:
    ticket = adapt_rt(rt_payload()).ticket
    assert ticket is not None
    assert (ticket.severity, ticket.category, ticket.product) == (None, None, None)


def test_an_rt_account_field_is_read_as_the_other_fields_are() -> None:
    """A multi-value Account field names the account by its first value, in any case of the name."""
    payload = rt_payload()
    payload["ticket"]["custom_fields"] = {"account": ["", " Acme Corp "]}
    ticket = adapt_rt(payload).ticket
    assert ticket is not None
    assert ticket.account.name == "Acme Corp"
