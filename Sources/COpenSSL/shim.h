// OpenSSL's libcrypto, for SHA-256 only (checkpoint seals, parameter hashes, cache and curriculum hashes), through
// the EVP digest interface (the SHA256_* functions are deprecated in OpenSSL 3).
#include <openssl/evp.h>
