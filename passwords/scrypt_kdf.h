// scrypt key derivation with OpenSSL's parameter rules and libsodium's core.
//
// Django calls hashlib.scrypt, that is OpenSSL's EVP_PBE_scrypt, whose scrypt
// core is portable C. libsodium's (crypto_pwhash_scryptsalsa208sha256_ll)
// runs Salsa20/8 on SSE2, chosen at run time, and is about 1.5x faster here
// for the same bytes out. OpenSSL still decides which parameters are
// acceptable (its 32 MiB default memory cap, which is what Django gets), so
// the two never disagree on what verifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dj {

// Whether OpenSSL's EVP_PBE_scrypt with maxmem 0 (Django's call) accepts the
// parameters. Does no work.
bool scrypt_params_ok(uint64_t n, uint64_t r, uint64_t p);

// Derives `out_len` bytes into `out`. false when OpenSSL's EVP_PBE_scrypt
// with maxmem 0 would refuse the parameters (out is then untouched).
bool scrypt_derive(std::string_view password, std::string_view salt, uint64_t n, uint64_t r, uint64_t p,
                   unsigned char* out, size_t out_len);

}  // namespace dj
