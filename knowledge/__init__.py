"""Knowledge base of past escalations: store, embeddings, ingestion, learned routing, feedback."""
