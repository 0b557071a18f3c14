/* The parts of OpenSSL 3's libcrypto that wgd uses: the EVP AEAD and X25519 interfaces (with the
 * parameters that make an X25519 key pair from both halves) and CRYPTO_memcmp. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* EVP_PKEY_KEYPAIR is a macro expression Swift does not import. */
static const int wgd_evp_pkey_keypair = EVP_PKEY_KEYPAIR;
