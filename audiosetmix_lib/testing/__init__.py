"""Test doubles that are real programs: a local OpenAI-compatible HTTP server (`mock_server`) for tests and bench/."""
