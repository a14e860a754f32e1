"""LLMCompiler as a LangGraph graph."""
