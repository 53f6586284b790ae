"""Escalation triage agent: decides where a helpdesk ticket goes, how urgent it is, and why."""

__version__ = "0.1.0"
