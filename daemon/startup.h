// Pieces of django-authd's start that are worth testing on their own.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/hashers.h"

namespace dj {

// Keeps this process from resolving users through nss_django (which would ask
// this very daemon): sets DJANGO_AUTH_NSS_LOOPS=NO and, when the module is
// installed, its exported _nss_django_enablelookups flag to 0. Call first.
void disable_own_nss_module();

// The hashers of [passwords], with the configured work factors.
Hashers make_hashers(const PasswordsConfig& p);

// nss.primary_group as a gid: a number, or a name from /etc/group.
bool resolve_primary_gid(const std::string& spec, uint32_t& gid, std::string& error);

}  // namespace dj
