// The Model target: layers, transformer, losses, sampler, tokenizer (issue 3).
