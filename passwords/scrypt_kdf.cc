// See scrypt_kdf.h.
#include "passwords/scrypt_kdf.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstdint>

namespace dj {
namespace {

// Never null: an empty view may have no data pointer, and libsodium (and
// OpenSSL's length-0 calls) want a real one.
const unsigned char* bytes(std::string_view s) {
    static const unsigned char empty[1] = {0};
    return s.empty() ? empty : reinterpret_cast<const unsigned char*>(s.data());
}

// sodium_init picks the SSE2 core; it is thread-safe and idempotent.
bool sodium_ready() {
    static const bool ready = ::sodium_init() >= 0;
    return ready;
}

}  // namespace

bool scrypt_params_ok(uint64_t n, uint64_t r, uint64_t p) {
    // With no key, EVP_PBE_scrypt only checks the parameters.
    static const unsigned char none[1] = {0};
    if (EVP_PBE_scrypt(reinterpret_cast<const char*>(none), 0, none, 0, n, r, p, 0, nullptr, 0) == 1) return true;
    ERR_clear_error();
    return false;
}

bool scrypt_derive(std::string_view password, std::string_view salt, uint64_t n, uint64_t r, uint64_t p,
                   unsigned char* out, size_t out_len) {
    // With no key, EVP_PBE_scrypt only checks the parameters.
    const char* pw = reinterpret_cast<const char*>(bytes(password));
    if (EVP_PBE_scrypt(pw, password.size(), bytes(salt), salt.size(), n, r, p, 0, nullptr, 0) != 1) {
        ERR_clear_error();  // keep the thread's error queue empty in the daemon
        return false;
    }
    // OpenSSL accepted: r * p < 2^30 and at most 32 MiB, well inside what
    // libsodium takes. Should it still refuse (no memory), OpenSSL derives.
    if (sodium_ready() && r <= UINT32_MAX && p <= UINT32_MAX &&
        ::crypto_pwhash_scryptsalsa208sha256_ll(bytes(password), password.size(), bytes(salt), salt.size(), n,
                                                uint32_t(r), uint32_t(p), out, out_len) == 0)
        return true;
    if (EVP_PBE_scrypt(pw, password.size(), bytes(salt), salt.size(), n, r, p, 0, out, out_len) == 1)
        return true;
    ERR_clear_error();
    return false;
}

}  // namespace dj
