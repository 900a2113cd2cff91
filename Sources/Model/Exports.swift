// The tokenizers moved to their own target (they need no tensors); code that imports Model keeps seeing them.
@_exported import Tokenizers
