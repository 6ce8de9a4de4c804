"""Conversations: follow-ups read against earlier turns, the optional LLM backend, ratings and export."""
