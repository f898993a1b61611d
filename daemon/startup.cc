#include "daemon/startup.h"

#include <dlfcn.h>

#include <cstdlib>

#include "daemon/peer.h"

namespace dj {

void disable_own_nss_module() {
    setenv("DJANGO_AUTH_NSS_LOOPS", "NO", 1);
    // As nslcd does: load the module once, keep it loaded, switch it off.
    if (void* h = dlopen("libnss_django.so.2", RTLD_NOW | RTLD_NODELETE)) {
        if (void* sym = dlsym(h, "_nss_django_enablelookups")) *static_cast<int*>(sym) = 0;
        dlclose(h);
    }
}

Hashers make_hashers(const PasswordsConfig& p) {
    HashParams hp;
    if (p.pbkdf2_iterations) hp.pbkdf2_iterations = p.pbkdf2_iterations;
    if (p.argon2_time_cost) hp.argon2_time = p.argon2_time_cost;
    if (p.argon2_memory_cost) hp.argon2_memory_kib = p.argon2_memory_cost;
    if (p.argon2_parallelism) hp.argon2_lanes = p.argon2_parallelism;
    if (p.bcrypt_rounds) hp.bcrypt_rounds = p.bcrypt_rounds;
    if (p.scrypt_work_factor) hp.scrypt_n = p.scrypt_work_factor;
    if (p.scrypt_block_size) hp.scrypt_r = p.scrypt_block_size;
    if (p.scrypt_parallelism) hp.scrypt_p = p.scrypt_parallelism;
    return Hashers(p.hashers, hp);
}

bool resolve_primary_gid(const std::string& spec, uint32_t& gid, std::string& error) {
    bool numeric = !spec.empty() && spec.size() <= 10;
    uint64_t n = 0;
    for (char c : spec) {
        if (c < '0' || c > '9') numeric = false;
        else n = n * 10 + uint64_t(c - '0');
    }
    if (numeric && n < 0xffffffffull) {
        gid = uint32_t(n);
        return true;
    }
    gid_t g;
    if (files_group(spec, g)) {
        gid = g;
        return true;
    }
    error = "nss.primary_group: group '" + spec + "' is not in /etc/group";
    return false;
}

}  // namespace dj
