#include "daemon/log.h"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace dj::log {
namespace {
bool g_stderr = false;
bool g_debug = false;
std::mutex g_stderr_mutex;
}  // namespace

void init(bool to_stderr, bool debug) {
    g_stderr = to_stderr;
    g_debug = debug;
    openlog("django-authd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

bool debug_enabled() { return g_debug; }

void say(int prio, const char* fmt, ...) {
    if (prio == LOG_DEBUG && !g_debug) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    syslog(prio, "%s", line);
    if (g_stderr) {
        std::lock_guard<std::mutex> lock(g_stderr_mutex);
        fprintf(stderr, "django-authd: %s\n", line);
    }
}

std::string printable(std::string_view s) {
    std::string out;
    size_t n = 0;
    for (unsigned char c : s) {
        if (++n > 64) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += char(c);
        } else {
            char b[5];
            snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        }
    }
    return out;
}

}  // namespace dj::log
