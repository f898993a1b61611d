// Fuzz target: every password hash parser (passwords/hasher_*.cc) through
// Hashers::verify with every hasher enabled. Input: password, a NUL byte,
// then the stored value. The work limits are set low so that well-formed but
// expensive parameters are refused as over a limit instead of timing out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "passwords/hashers.h"

namespace {

dj::Hashers* make() {
    dj::HashLimits lim;
    lim.max_pbkdf2_iterations = 2000;
    lim.max_memory = 1024 * 1024;
    lim.max_argon2_work = 2048;
    lim.max_scrypt_work = 4096;
    lim.max_bcrypt_rounds = 5;
    dj::HashParams p;
    p.pbkdf2_iterations = 1000;
    p.argon2_time = 1;
    p.argon2_memory_kib = 64;
    p.argon2_lanes = 1;
    p.bcrypt_rounds = 4;
    p.scrypt_n = 16;
    p.scrypt_r = 1;
    p.scrypt_p = 1;
    // all_names() less the ones that make the preferred (first) hasher
    // expensive: order matters only for must_update and the dummy hash.
    return new dj::Hashers(dj::Hashers::all_names(), p, lim);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static dj::Hashers* h = make();
    if (size > 4096) return 0;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nul = in.find('\0');
    std::string_view password = nul == std::string_view::npos ? std::string_view() : in.substr(0, nul);
    std::string_view encoded = nul == std::string_view::npos ? in : in.substr(nul + 1);
    dj::VerifyResult r = h->verify(password, encoded);
    if (r.status == dj::VerifyStatus::Match && encoded.empty()) abort();
    // The reason is for logs: it must not carry the stored value. (Only
    // values that cannot be a piece of a reason's own wording are checked.)
    if (encoded.size() >= 24 && encoded.find('$') != std::string_view::npos &&
        encoded.find_first_of("0123456789") != std::string_view::npos &&
        r.reason.find(encoded) != std::string::npos)
        abort();
    if (!password.empty() && password.size() >= 12 && r.reason.find(password) != std::string::npos &&
        password.find_first_of("0123456789$") != std::string_view::npos)
        abort();
    return 0;
}
