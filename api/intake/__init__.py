"""Multi-channel intake: one governed flow from every channel to triaged tickets.

    channel payload --adapters/email_adapter/webhooks--> Adapted (canonical Ticket + original)
      (POST /v1/tickets: the canonical Ticket as sent, source api)
      --validation (per source channel and account tier)--> accept | quarantine | reject (kept)
      --flow: thread e-mail replies | pre-priority | store once | queue durably (bounded)
      --workers/runner: triage via TriageService, retry with backoff + jitter--> decided
                                                       or after N attempts --> dead letters (dlq)

Queue backends behind one interface (queue.IntakeQueue): sqlqueue (embedded, default) and
rabbit (RabbitMQ, scale-out). Health per source: health. CLI: cli. Load tools: bench_spike,
measure_rejects, worker_main, standin (a cheap stand-in engine, not the agent).
"""
