// Loads the MySQL/MariaDB engine from its plugin (django-authd-mysql.so,
// package django-authd-mysql) only when engine = mysql, so the daemon itself
// depends on no MySQL client library.
//
// The plugin is looked for beside the daemon's executable (a build tree),
// then in the daemon's private library directory (DJ_PLUGIN_DIR). Like the
// configuration file, it must be owned by root (or the daemon's user) and not
// writable by group or others, or it is not loaded.
#pragma once

#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/sql.h"

namespace dj::db {

// Changes whenever the interface between the daemon and the plugin does
// (Engine, DatabaseConfig): a plugin from another build is refused.
inline constexpr const char* kMysqlPluginAbi = "django-authd-mysql/1";

// The engine; throws DbUnavailable when the plugin is missing or refuses the
// configuration (the message says which package to install).
std::unique_ptr<Engine> open_mysql_engine(const DatabaseConfig& cfg, int pool_size);

// Where the plugin was found, or "" with the reason in `error`.
std::string find_mysql_plugin(std::string& error);

}  // namespace dj::db
