"""One Hugging Face fast tokenizer for prompts and code.

- Prompts (sequence names, problem texts) go through a SentencePiece unigram model
  trained with the `sentencepiece` package, with digits split (every digit is its own
  piece, so any number is representable; "▁0".."▁9" are added so a number after a space
  does not cost an extra "▁" piece) and NFKC normalisation.
- The task / language prefix tokens (`<loda>`, `<wat>`, `<terms>`) are added tokens,
  matched in prompt text.
- Every registered language's structural tokens are added tokens under a namespaced
  spelling `<lang:token>` (so prompt text never turns into code tokens). Code never goes
  through subword merges: `encode_code` maps structural tokens to ids directly and
  `decode_code` maps ids back, both exact.
- Number slots `<n0>`..`<n7>` (see `number_slots`) are added tokens shared by prompts and
  code: a tokenizer that has them marks the numbers of every prompt (`encode_prompts`), writes
  constants copied from the prompt as slots (`encode_code`) and fills them back in
  (`decode_code`). Tokenizers without them (checkpoints trained before slots) work as before.

Build:  python -m codegen.tokenizer build --corpus PATH --langs loda,wat --out DIR [--vocab-size N]
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import unicodedata
import weakref
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .language import DEFAULT_LANGUAGE, CodeError, Language, available_languages, get_language
from .number_slots import (DEFAULT_READING, READINGS, SLOT_TOKENS, fill_slots, mark_prompt, prompt_numbers,
                           slot_code_tokens)
from .prompts import CODE_MARKER, CONTEXT_TOKENS, REF_MARKER, TERMS_MARKER, language_tag, split_context

META_FILE = "codegen_tokenizer.json"
PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
DEFAULT_VOCAB_SIZE = 2000


def code_token(language: str, token: str) -> str:
    """The tokenizer's spelling of a language's structural token."""
    return f"<{language}:{token}>"


def _language(language: Language | str) -> Language:
    return get_language(language) if isinstance(language, str) else language


def prefix_tokens(languages: Iterable[str]) -> list[str]:
    return [language_tag(name) for name in languages] + [TERMS_MARKER]


# -- training ---------------------------------------------------------------------------
def prompt_texts(corpus: str | None, languages: Sequence[str], *, log=print) -> Iterator[str]:
    """The natural-language parts of every recipe's prompts: sequence names and problem texts."""
    from .language import InputError

    for name in languages:
        try:
            language = get_language(name)
        except (KeyError, ImportError) as error:
            log(f"tokenizer: language {name!r} unavailable ({error}); its texts are skipped")
            continue
        for recipe in language.tokenizer_recipes:
            count = 0
            try:
                for record in language.records(recipe, corpus):
                    text = record.meta.get("name") or record.meta.get("text") or _strip_prompt(record.prompt)
                    count += 1
                    yield text
            except InputError:  # a corpus that cannot be read is the user's to fix, not a recipe's failure
                raise
            except Exception as error:  # an adapter still in progress must not break the build
                log(f"tokenizer: recipe {recipe!r} failed after {count} records: {type(error).__name__}: {error}")
            log(f"tokenizer: {count} texts from recipe {recipe!r}")


def _strip_prompt(prompt: str) -> str:
    text = prompt.split(f" {TERMS_MARKER} ", 1)[0]
    if text.startswith("<"):
        text = text.split(" ", 1)[1] if " " in text else ""
    return text


def train_sentencepiece(texts: Iterable[str], vocab_size: int, *, threads: int = 2):
    """A unigram SentencePiece model (serialized proto bytes) with ids pad=0, eos=1, unk=2."""
    import sentencepiece as spm

    cleaned = [unicodedata.normalize("NFKC", " ".join(t.split())) for t in texts]
    cleaned = [t for t in cleaned if t]
    # always-present pieces: digits, so every number is representable, and common punctuation
    cleaned.append("0 1 2 3 4 5 6 7 8 9 , - + ( ) ^ * / = < > [ ] { } . : ;")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(cleaned), model_writer=model, model_type="unigram", vocab_size=vocab_size,
        character_coverage=0.9995, split_digits=True, byte_fallback=False, normalization_rule_name="identity",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=threads, input_sentence_size=0,
        max_sentence_length=8192, shuffle_input_sentence=False, minloglevel=2, hard_vocab_limit=False,
    )
    return model.getvalue()


def fast_tokenizer_from_spm(spm_bytes: bytes, *, model_max_length: int = 512):
    import sentencepiece as spm
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    sp = spm.SentencePieceProcessor(model_proto=spm_bytes)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    assert vocab[0][0] == PAD and vocab[1][0] == EOS and vocab[2][0] == UNK, vocab[:3]
    # a number after a space starts with one piece "▁7" rather than "▁" + "7" (spm with
    # split_digits never learns those); the pre-tokenizer isolates "▁?digit" so no piece
    # ever spans two digits
    known = {piece for piece, _ in vocab}
    vocab += [(f"▁{d}", 0.0) for d in "0123456789" if f"▁{d}" not in known]
    backend = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex("▁?[0-9]"), behavior="isolated"),
    ])
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    backend.post_processor = processors.TemplateProcessing(
        single=["$A", EOS], pair=["$A", EOS, "$B", EOS], special_tokens=[(EOS, 1)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS, pad_token=PAD, unk_token=UNK,
                                   model_max_length=model_max_length)


def add_language_tokens(tokenizer, languages: Sequence[str], tag_languages: Sequence[str] = ()) -> int:
    """Add the prefix tokens (`<lang>` for `languages` and `tag_languages`, and `<terms>`),
    each of `languages`' structural tokens (namespaced `<lang:token>`) and the number slots to
    any HF tokenizer, in a fixed order; returns how many were new. Used for our own tokenizer and for pretrained
    ones (CodeT5), whose model embeddings must then be resized."""
    names = sorted(set(languages))
    wanted = prefix_tokens(sorted(set(names) | set(tag_languages or ())))
    for name in names:
        wanted += [code_token(name, t) for t in get_language(name).structural_tokens()]
    wanted += list(SLOT_TOKENS)
    new = _add_plain_tokens(tokenizer, wanted)
    meta = getattr(tokenizer, "codegen_meta", None) or {}
    recorded = _recorded_languages(meta)
    recorded.update({name: get_language(name).structural_tokens() for name in names})
    meta["languages"] = dict(sorted(recorded.items()))
    tokenizer.codegen_meta = meta
    return new


def _add_plain_tokens(tokenizer, tokens: Sequence[str]) -> int:
    """Add those of `tokens` the tokenizer lacks, in order, as matched-verbatim added tokens (not
    normalised, no special-token handling); returns how many were new."""
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    new = [AddedToken(t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=False)
           for t in tokens if t not in vocab]
    if new:
        tokenizer.add_tokens(new)
    return len(new)


def build_tokenizer(corpus: str | None, languages: Sequence[str], *, vocab_size: int = DEFAULT_VOCAB_SIZE,
                    log=print):
    languages = [name.strip() for name in languages if name.strip()]
    available = []
    for name in languages:
        try:
            get_language(name)
            available.append(name)
        except (KeyError, ImportError) as error:
            log(f"tokenizer: language {name!r} is not available ({error}); building without it")
    if not available:
        raise ValueError(f"none of the languages {languages} is available; known: {available_languages()}")
    texts = list(prompt_texts(corpus, available, log=log))
    if not texts:
        raise ValueError("no prompt texts to train the tokenizer on")
    spm_bytes = train_sentencepiece(texts, vocab_size)
    tokenizer = fast_tokenizer_from_spm(spm_bytes)
    tokenizer.codegen_meta = {"languages": [], "trained_on_texts": len(texts), "sentencepiece_vocab": vocab_size}
    # prefix tags for every language asked for, structural tokens for those available now
    add_language_tokens(tokenizer, available, tag_languages=languages)
    corpus_hash = None
    # the texts came from a corpus where a language's tokenizer recipes read one: record which
    readers = [language for language in map(get_language, available)
               if language.corpus_recipes.intersection(language.tokenizer_recipes)]
    if corpus is not None and readers:
        tokenizer.codegen_meta["corpus"], corpus_hash = readers[0].corpus_key(corpus)
    tokenizer.codegen_meta["corpus_hash"] = corpus_hash
    return tokenizer


def _recorded_languages(meta: dict) -> dict[str, list[str]]:
    """language -> structural tokens of a tokenizer's record; a bare list of names (a record
    being built) asks each language for its tokens."""
    recorded = meta.get("languages") or {}
    if isinstance(recorded, dict):
        return dict(recorded)
    return {name: get_language(name).structural_tokens() for name in recorded}


def save_tokenizer(tokenizer, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    meta = dict(getattr(tokenizer, "codegen_meta", None) or {})
    # the record as `add_language_tokens` keeps it: a language whose runtime is not installed
    # here (wasmtime on a bare GPU machine, say) need not be imported to save its tokens
    meta["languages"] = _recorded_languages(meta)
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return out


def load_tokenizer(path: str | Path):
    """A tokenizer directory written by `save_tokenizer` (or any HF tokenizer dir/name)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    meta_file = Path(path) / META_FILE
    if meta_file.exists():
        tokenizer.codegen_meta = json.loads(meta_file.read_text())
    return tokenizer


# -- code <-> ids -------------------------------------------------------------------------
_ID_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _tables(tokenizer, language: Language) -> tuple[dict[str, int], dict[int, str]]:
    try:
        per = _ID_CACHE.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable
        per = {}
    key = (language.name, len(tokenizer))
    if key not in per:
        vocab = tokenizer.get_vocab()
        forward: dict[str, int] = {}
        missing = []
        for token in language.structural_tokens():
            spelled = code_token(language.name, token)
            if spelled in vocab:
                forward[token] = vocab[spelled]
            else:
                missing.append(token)
        if missing:
            raise ValueError(
                f"tokenizer lacks {len(missing)} structural token(s) of language {language.name!r} "
                f"(e.g. {missing[:5]}); rebuild it with `python -m codegen.tokenizer build --langs "
                f"{language.name},...` or call add_language_tokens")
        if uses_number_slots(tokenizer):  # one id per slot, shared with the prompts
            forward.update({slot: vocab[slot] for slot in SLOT_TOKENS})
        per[key] = (forward, {i: t for t, i in forward.items()})
    return per[key]


def structural_token_ids(tokenizer, language: Language | str) -> dict[str, int]:
    """Language token string -> tokenizer id, for every structural token of the language (and
    the number slots, where the tokenizer has them)."""
    return dict(_tables(tokenizer, _language(language))[0])


def uses_number_slots(tokenizer) -> bool:
    """Whether prompts and code go through number slots with this tokenizer (it has their tokens)."""
    ids = tokenizer.convert_tokens_to_ids(list(SLOT_TOKENS))
    return all(i is not None and i != tokenizer.unk_token_id for i in ids)


def number_reading(tokenizer) -> str:
    """How this tokenizer's prompts read numbers for their slots (`number_slots.READINGS`): its
    codegen meta's `number_reading`, else "digits", the reading every tokenizer saved before it
    existed was trained with, so old checkpoints see their prompts as before."""
    reading = (getattr(tokenizer, "codegen_meta", None) or {}).get("number_reading", DEFAULT_READING)
    if reading not in READINGS:
        raise ValueError(f"{META_FILE}: number_reading {reading!r} is not one of {', '.join(READINGS)}")
    return reading


def encode_prompts(tokenizer, prompts: Sequence[str], **kwargs: Any):
    """The tokenizer applied to prompts, numbers marked with their slots where it uses them. Every
    prompt the model sees, in training and in generation, goes through here. Prompts with retrieval
    context (`prompts.with_context`) are encoded by `_encode_with_context`."""
    if any(REF_MARKER in prompt for prompt in prompts):
        return _encode_with_context(tokenizer, prompts, **kwargs)
    if uses_number_slots(tokenizer):
        reading = number_reading(tokenizer)
        prompts = [mark_prompt(prompt, reading) for prompt in prompts]
    from .text_encoder import text_encoder_name, text_tokenizer

    encoder = text_encoder_name(tokenizer)
    if encoder:  # the prompt is read by a pretrained text encoder, in its own vocabulary
        return text_tokenizer(encoder)(list(prompts), return_token_type_ids=False, **kwargs)
    return tokenizer(list(prompts), **kwargs)


def context_budgets(tokenizer) -> dict[str, int]:
    """Token budgets of a prompt with retrieval context, from the tokenizer's codegen meta (written by
    `add_context_tokens`): the request part, each reference's name and each reference's program."""
    budgets = (getattr(tokenizer, "codegen_meta", None) or {}).get("context")
    if not budgets:
        raise ValueError(f"this tokenizer has no retrieval context tokens ({META_FILE} has no 'context'); "
                         "it belongs to a model trained without retrieval")
    return {key: int(budgets[key]) for key in ("prompt_tokens", "name_tokens", "code_tokens")}


def add_context_tokens(tokenizer, *, prompt_tokens: int, name_tokens: int, code_tokens: int) -> int:
    """Add `<ref>` and `<code>` (retrieval context) and record the budgets; returns how many tokens
    were new (the model's embeddings must then be resized)."""
    new = _add_plain_tokens(tokenizer, CONTEXT_TOKENS)
    meta = getattr(tokenizer, "codegen_meta", None) or {}
    meta["context"] = {"prompt_tokens": int(prompt_tokens), "name_tokens": int(name_tokens),
                       "code_tokens": int(code_tokens)}
    tokenizer.codegen_meta = meta
    return new


def _encode_with_context(tokenizer, prompts: Sequence[str], *, max_length: int | None = None,
                         truncation: bool = False, padding: bool | str = False, return_tensors: str | None = None,
                         **kwargs: Any):
    """Request part as `encode_prompts` encodes a plain prompt (its own budget), then per reference
    `<ref>`, the name's pieces and `<code>`, then the program's structural tokens (the decoder's own
    ids, so a program is copied token for token), each cut to its budget, then EOS."""
    budgets = context_budgets(tokenizer)
    ref_id, code_id = tokenizer.convert_tokens_to_ids([REF_MARKER, CODE_MARKER])
    eos = tokenizer.eos_token_id
    heads, contexts = zip(*(split_context(prompt) for prompt in prompts))
    head_ids = encode_prompts(tokenizer, list(heads), max_length=budgets["prompt_tokens"], truncation=True)["input_ids"]
    rows = []
    for prompt, ids, refs in zip(prompts, head_ids, contexts):
        ids = list(ids)
        if ids and ids[-1] == eos:
            ids.pop()
        language = None
        for name, code in refs:
            if language is None:
                tag = prompt.split(" ", 1)[0]
                language = _language(tag[1:-1])
            name_ids = tokenizer(name, add_special_tokens=False)["input_ids"][:budgets["name_tokens"]]
            try:
                code_ids = encode_code(tokenizer, language, code)[:-1]  # no EOS inside the prompt
            except CodeError:
                code_ids = []
            ids += [ref_id] + name_ids + [code_id] + code_ids[:budgets["code_tokens"]]
        if truncation and max_length is not None:
            ids = ids[:max_length - 1]
        rows.append(ids + [eos])
    if padding or return_tensors:
        return tokenizer.pad({"input_ids": rows}, padding=padding or "longest", return_tensors=return_tensors)
    return {"input_ids": rows, "attention_mask": [[1] * len(row) for row in rows]}


def slot_values(tokenizer, prompt: str | None) -> list[int]:
    """The numbers the slots of `prompt` stand for (none without slots or a prompt)."""
    if not prompt or not uses_number_slots(tokenizer):
        return []
    return prompt_numbers(split_context(prompt)[0], number_reading(tokenizer))


def unused_slot_ids(tokenizer, prompts: Sequence[str]) -> list[list[int]] | None:
    """Per prompt, the ids of the slots it has no number for (a decoder must not write them);
    None where the tokenizer has no slots."""
    if not uses_number_slots(tokenizer):
        return None
    ids = tokenizer.convert_tokens_to_ids(list(SLOT_TOKENS))
    reading = number_reading(tokenizer)
    return [ids[len(prompt_numbers(split_context(prompt)[0], reading)):] for prompt in prompts]


def encode_code(tokenizer, language: Language | str, code: str, prompt: str | None = None) -> list[int]:
    """Code -> ids: one id per structural token, then EOS; constants copied from `prompt` are its
    slots. Raises CodeError on invalid code."""
    lang = _language(language)
    forward = _tables(tokenizer, lang)[0]
    try:
        tokens = lang.tokenize(code)
    except CodeError:
        raise
    except ValueError as error:
        raise CodeError(str(error), kind="tokens") from error
    values = slot_values(tokenizer, prompt)
    if values:
        tokens = slot_code_tokens(lang, tokens, values)
    return [forward[t] for t in tokens] + [tokenizer.eos_token_id]


def code_tokens_from_ids(tokenizer, language: Language | str, ids: Iterable[int]) -> list[str]:
    """Ids -> structural tokens: leading pads skipped, stops at EOS; other ids raise CodeError."""
    lang = _language(language)
    backward = _tables(tokenizer, lang)[1]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    out: list[str] = []
    for i in ids:
        i = int(i)
        if i == eos:
            break
        if i == pad and not out:
            continue
        token = backward.get(i)
        if token is None:
            raise CodeError(f"id {i} ({tokenizer.convert_ids_to_tokens(i)!r}) is not a {lang.name} code token",
                            kind="tokens")
        out.append(token)
    return out


def decode_code(tokenizer, language: Language | str, ids: Iterable[int], prompt: str | None = None) -> str:
    """Ids (as generated: optional leading pad/decoder-start, up to EOS) -> canonical code, slots
    filled with `prompt`'s numbers. Raises CodeError when the ids are not a well-formed token list."""
    lang = _language(language)
    tokens = code_tokens_from_ids(tokenizer, lang, ids)
    if uses_number_slots(tokenizer):
        tokens = fill_slots(lang, tokens, slot_values(tokenizer, prompt))
    return lang.detokenize(tokens)


# -- CLI ----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    from .cli import positive_int

    parser = argparse.ArgumentParser(prog="python -m codegen.tokenizer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and save a tokenizer")
    build.add_argument("--corpus", default=None, help="LODA corpus (tarball or checkout); default $CODEGEN_LODA_CORPUS")
    build.add_argument("--langs", default=DEFAULT_LANGUAGE, help="comma-separated languages, e.g. loda,wat")
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument("--vocab-size", type=positive_int, default=DEFAULT_VOCAB_SIZE,
                       help=f"SentencePiece pieces for prompt text (default {DEFAULT_VOCAB_SIZE})")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    if Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"error: --out {args.out} is a file; give a directory", file=sys.stderr)
        return 2
    try:
        tokenizer = build_tokenizer(args.corpus, args.langs.split(","), vocab_size=args.vocab_size, log=log)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # sentencepiece refuses a vocabulary the texts cannot fill
        print(f"error: cannot train the tokenizer: {str(error).strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    out = save_tokenizer(tokenizer, args.out)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(json.dumps({"out": str(out), "vocab": len(tokenizer), "languages": sorted(tokenizer.codegen_meta["languages"]),
                      "bytes": size}))
    return 0


if __name__ == "__main__":
    from .cli import run_main

    sys.exit(run_main(main))
