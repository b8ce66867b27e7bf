"""LODA assembly: parser, canonical form, VM, corpus reader."""
from .canonical import canonicalize, format_program
from .corpus import Corpus, CorpusRecord, find_default_corpus, resolve_corpus_path, sequence_id
from .errors import LodaError, ParseError
from .parser import parse
from .program import Operand, OperandKind, Operation, Program
from .vm import Evaluator, Limits, evaluate

__all__ = [
    "Corpus", "CorpusRecord", "LodaError", "Operand", "OperandKind", "Operation", "ParseError", "Program",
    "canonicalize", "find_default_corpus", "format_program", "parse", "resolve_corpus_path", "sequence_id",
    "Evaluator", "Limits", "evaluate",
]
