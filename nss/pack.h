// Packing daemon records into the caller's buffer, the way glibc's NSS
// contract wants it: every string and pointer array lives inside `buf`;
// pointer arrays are aligned for char*; when the buffer is too small nothing
// useful is written and ERANGE is returned (the caller then answers
// NSS_STATUS_TRYAGAIN and glibc retries with a bigger buffer).
//
// These are pure functions (no I/O, no globals) so they can be tested with
// every buffer size.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/protocol.h"

namespace dj::nss {

// Each takes an owning record (enumeration) or an in-place view of one
// (by-key lookups); both give the same bytes.

// Bytes pack_passwd needs (it needs no alignment).
size_t passwd_size(const proto::Passwd& p) noexcept;
size_t passwd_size(const proto::PasswdView& p) noexcept;
// Bytes pack_group needs when the buffer starts at `buf` (alignment padding
// for the member pointer array depends on where the buffer starts).
size_t group_size(const proto::Group& g, const char* buf) noexcept;
size_t group_size(const proto::GroupView& g, const char* buf) noexcept;

// 0 on success, ERANGE when buflen is too small. pw_passwd is "x".
int pack_passwd(const proto::Passwd& p, struct passwd* out, char* buf, size_t buflen) noexcept;
int pack_passwd(const proto::PasswdView& p, struct passwd* out, char* buf, size_t buflen) noexcept;
// 0 on success, ERANGE when buflen is too small. gr_passwd is "x".
int pack_group(const proto::Group& g, struct group* out, char* buf, size_t buflen) noexcept;
int pack_group(const proto::GroupView& g, struct group* out, char* buf, size_t buflen) noexcept;

// initgroups_dyn's array handling: appends each gid of `gids` that is not
// `skip` and not already in (*groupsp)[0 .. *start) to the array, growing it
// with realloc (doubling, never past `limit` when limit > 0). Stops quietly
// when *start reaches limit. Returns 0, or ENOMEM when realloc fails (the
// array stays valid with what was added so far).
int add_gids(const std::vector<uint32_t>& gids, gid_t skip, long int* start, long int* size,
             gid_t** groupsp, long int limit) noexcept;

}  // namespace dj::nss
