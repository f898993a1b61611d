// What django-authd --check-config checks beyond parsing the file, and what
// the daemon also refuses at start: the trust boundary of a configuration.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/host_names.h"

namespace dj {

// Problems that make the configuration unsafe, one line each: a uid or gid
// range that overlaps local ids, nobody (65534) or systemd's dynamic users.
std::vector<std::string> boundary_errors(const Config& cfg, const HostNames& host);

// Warnings that do not stop the daemon: nobody may log in anywhere.
std::vector<std::string> boundary_warnings(const Config& cfg);

// What would keep the daemon from working on this host, found by trying,
// one line each with the way to fix it: a [daemon] user that does not
// exist; a socket directory other users cannot reach; for SQLite, a database
// file or directory the daemon's user cannot read (or write, with a write
// feature on); a database that cannot be opened or logged in to; [schema]
// tables or columns that are not there (each query the daemon makes runs
// once; with a write feature on, its UPDATEs too, on no row). On success
// `db` holds the open database. auth_clients that do not exist go to
// `warnings` (the daemon ignores them).
std::vector<std::string> runtime_errors(const Config& cfg, std::unique_ptr<db::Database>& db,
                                        std::vector<std::string>& warnings);

// Prints the Django users and groups the host's names hide, one line each
// ("hidden user 'root': the name of a local user"), reading the whole user
// and group tables page by page, then one line of what the daemon serves
// ("serves 230 users and 13 groups; 3 names hidden") and one of who may log
// in where. Returns how many were hidden. Throws db::DbUnavailable when the
// database cannot be read.
size_t print_hidden_names(FILE* out, const Config& cfg, db::Database& db, const HostNames& host);

}  // namespace dj
