/* The parts of OpenSSL 3's libcrypto that wgd uses: the EVP AEAD and X25519 interfaces,
 * CRYPTO_memcmp and OPENSSL_cleanse. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
