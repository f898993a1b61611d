// Logging for django-authd: syslog (facility authpriv) always, and stderr in
// the foreground. Nothing that reaches these functions may contain a password
// or a hash; user-supplied text goes through printable() first.
#pragma once

#include <syslog.h>

#include <string>
#include <string_view>

namespace dj::log {

void init(bool to_stderr, bool debug);
bool debug_enabled();

// printf-style; prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO...).
void say(int prio, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A user-supplied string made safe for one log line: control characters and
// non-ASCII bytes escaped as \xNN, cut at 64 characters.
std::string printable(std::string_view s);

}  // namespace dj::log
