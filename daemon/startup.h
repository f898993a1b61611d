// Pieces of django-authd's start that are worth testing on their own.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/config.h"
#include "passwords/hashers.h"

namespace dj {

// Keeps this process from resolving users through nss_django (which would ask
// this very daemon): sets DJANGO_AUTH_NSS_LOOPS=NO and, when the module is
// installed, its exported _nss_django_enablelookups flag to 0. Call first.
void disable_own_nss_module();

// The hashers of [passwords], with the configured work factors and limits
// (the site's parameters come later: choose_params()).
Hashers make_hashers(const PasswordsConfig& p);
HashLimits hash_limits(const PasswordsConfig& p);

// The parameters for new hashes, must_update, harden_runtime and the dummy
// hash, field by field: a [passwords] key when set, else the site's
// strongest stored value of that family (when `site` read any), else the
// library's default. `described` gets one "hash_<family> ... (why)" line per
// family, for the Stats op (django-authctl status) and the log.
HashParams choose_params(const PasswordsConfig& p, const SiteParams* site, std::string* described);

// nss.primary_group as a gid: a number, or a name from /etc/group.
bool resolve_primary_gid(const std::string& spec, uint32_t& gid, std::string& error);

}  // namespace dj
