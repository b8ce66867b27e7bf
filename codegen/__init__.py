"""codegen: seq2seq code generation for low-level languages, validated by execution."""
from .language import CodeError, ExecutionResult, Grammar, Language, Record, available_languages, get_language, register

__all__ = ["CodeError", "ExecutionResult", "Grammar", "Language", "Record", "available_languages", "get_language",
           "register"]
