"""The example policy and demo tickets that ``triage serve --demo`` and the tests start from."""
