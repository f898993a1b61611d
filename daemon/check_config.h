// What django-authd --check-config checks beyond parsing the file, and what
// the daemon also refuses at start: the trust boundary of a configuration.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "common/config.h"
#include "daemon/db.h"
#include "daemon/host_names.h"

namespace dj {

// Problems that make the configuration unsafe, one line each: a uid or gid
// range that overlaps local ids, nobody (65534) or systemd's dynamic users.
std::vector<std::string> boundary_errors(const Config& cfg, const HostNames& host);

// Warnings that do not stop the daemon: nobody may log in anywhere.
std::vector<std::string> boundary_warnings(const Config& cfg);

// Prints the Django users and groups the host's names hide, one line each
// ("hidden user 'root': the name of a local user"), reading the whole user
// and group tables page by page. Returns how many were hidden. Throws
// db::DbUnavailable when the database cannot be read.
size_t print_hidden_names(FILE* out, const Config& cfg, db::Database& db, const HostNames& host);

}  // namespace dj
