"""The triage service: FastAPI app, durable store, workers, auth and the load benchmark."""
