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

HashLimits hash_limits(const PasswordsConfig& p) {
    HashLimits l;
    l.max_memory = p.max_hash_memory * 1024 * 1024;
    l.max_pbkdf2_iterations = p.max_pbkdf2_iterations;
    l.max_argon2_work = p.max_argon2_work;
    l.max_bcrypt_rounds = p.max_bcrypt_rounds;
    l.max_scrypt_work = p.max_scrypt_work;
    return l;
}

Hashers make_hashers(const PasswordsConfig& p) {
    return Hashers(p.hashers, choose_params(p, nullptr, nullptr), hash_limits(p));
}

namespace {

enum Family { kPbkdf2, kArgon2, kBcrypt, kScrypt, kFamilies };

// Each parameter: its family, its [passwords] key (none for argon2's tag
// length: argon2-cffi's choice, so the site's or the library's).
struct Field {
    Family family;
    uint32_t PasswordsConfig::*key;
    uint32_t HashParams::*field;
};
constexpr Field kFields[] = {
    {kPbkdf2, &PasswordsConfig::pbkdf2_iterations, &HashParams::pbkdf2_iterations},
    {kArgon2, &PasswordsConfig::argon2_time_cost, &HashParams::argon2_time},
    {kArgon2, &PasswordsConfig::argon2_memory_cost, &HashParams::argon2_memory_kib},
    {kArgon2, &PasswordsConfig::argon2_parallelism, &HashParams::argon2_lanes},
    {kArgon2, nullptr, &HashParams::argon2_hash_len},
    {kBcrypt, &PasswordsConfig::bcrypt_rounds, &HashParams::bcrypt_rounds},
    {kScrypt, &PasswordsConfig::scrypt_work_factor, &HashParams::scrypt_n},
    {kScrypt, &PasswordsConfig::scrypt_block_size, &HashParams::scrypt_r},
    {kScrypt, &PasswordsConfig::scrypt_parallelism, &HashParams::scrypt_p},
};

// Where a family's parameters came from: "config", "site: strongest
// stored", "library default", or several joined by " + ".
struct Sources {
    bool config = false, site = false, library = false;
    std::string text() const {
        std::string w;
        for (auto [on, what] : {std::pair{config, "config"}, std::pair{site, "site: strongest stored"},
                                std::pair{library, "library default"}})
            if (on) w += (w.empty() ? "" : " + ") + std::string(what);
        return w;
    }
};

}  // namespace

HashParams choose_params(const PasswordsConfig& p, const SiteParams* site, std::string* described) {
    HashParams hp;
    const bool site_has[kFamilies] = {site && site->pbkdf2, site && site->argon2, site && site->bcrypt,
                                      site && site->scrypt};
    Sources from[kFamilies];
    for (const Field& f : kFields) {
        const uint32_t configured = f.key ? p.*f.key : 0;
        if (configured) {
            hp.*f.field = configured;
            from[f.family].config = true;
        } else if (site_has[f.family]) {
            hp.*f.field = site->best.*f.field;
            from[f.family].site = true;
        } else {
            from[f.family].library = true;
        }
    }
    if (described) {
        auto n = [](uint32_t v) { return std::to_string(v); };
        *described = "hash_pbkdf2 iterations=" + n(hp.pbkdf2_iterations) + " (" + from[kPbkdf2].text() + ")\n" +
                     "hash_argon2 time_cost=" + n(hp.argon2_time) + " memory_cost=" + n(hp.argon2_memory_kib) +
                     " parallelism=" + n(hp.argon2_lanes) + " hash_len=" + n(hp.argon2_hash_len) + " (" +
                     from[kArgon2].text() + ")\n" + "hash_bcrypt rounds=" + n(hp.bcrypt_rounds) + " (" +
                     from[kBcrypt].text() + ")\n" + "hash_scrypt n=" + n(hp.scrypt_n) + " r=" + n(hp.scrypt_r) +
                     " p=" + n(hp.scrypt_p) + " (" + from[kScrypt].text() + ")\n";
    }
    return hp;
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
