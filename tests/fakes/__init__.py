"""Local servers that speak real upstream wire formats (OpenAI, Anthropic), with faults."""
