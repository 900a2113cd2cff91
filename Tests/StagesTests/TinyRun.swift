/// The first lines of the small run several stage tests share (a 2-layer x 32 teacher, a 2-layer x 32 student with
/// 2 KV groups and MLP 48, 16 addition rows, checkpoints every 2 steps); each test's `stages:` follows.
let tinyRunHead = """
    name: t
    seed: 1
    data: {domains: [addition], train_size: 16, validation_size: 4, max_length: 96}
    teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
    student: {layers: 2, hidden_size: 32, heads: 4, kv_heads: 2, intermediate_size: 48}
    run: {checkpoint_every: 2, keep_checkpoints: 2}
    """
