#include "daemon/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace dj::log {
namespace {
std::atomic<bool> g_stderr{false};
bool g_journal = false;  // standard error is the journal
bool g_debug = false;
thread_local int64_t t_caller = -1;  // the uid a request thread logs for, or -1

// The limiter and when it last expired windows; the lock is never held while
// a line is written.
std::mutex g_limit_mutex;
RateLimiter g_limiter(kLogBurst, std::chrono::seconds(kLogWindowSeconds), kLogMaxKeys);
std::atomic<int64_t> g_last_tick{0};

void emit(int prio, const char* line) {
    if (!g_stderr.load(std::memory_order_relaxed)) {
        syslog(prio, "%s", line);
        return;
    }
    // One write a line, so that lines of several threads never mix.
    char buf[1200];
    int n = snprintf(buf, sizeof buf, "django-authd: %s\n", line);
    if (n < 0) return;
    size_t len = std::min(size_t(n), sizeof buf - 1);
    if (size_t(n) >= sizeof buf) buf[len - 1] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(STDERR_FILENO, buf + off, len - off);
        if (w > 0) off += size_t(w);
        else if (w < 0 && errno == EINTR) continue;
        else return;
    }
}

void emit_summaries(const std::vector<RateLimiter::Summary>& due) {
    char line[1200];
    for (const auto& s : due) {
        if (s.uid == static_cast<uid_t>(-1))
            snprintf(line, sizeof line, "%llu more lines from other callers left out in %d s (too many callers to tell apart)",
                     static_cast<unsigned long long>(s.count), s.seconds);
        else
            snprintf(line, sizeof line, "last message from uid %u repeated %llu times in %d s: %s", unsigned(s.uid),
                     static_cast<unsigned long long>(s.count), s.seconds, s.line.c_str());
        emit(LOG_NOTICE, line);
    }
}

// Writes `line`, or counts it, for caller `uid`.
void limited(uid_t uid, int prio, const char* kind, const char* line) {
    std::vector<RateLimiter::Summary> due;
    bool write_it;
    {
        std::lock_guard<std::mutex> lock(g_limit_mutex);
        write_it = g_limiter.admit(uid, kind, line, RateLimiter::Clock::now(), due);
    }
    emit_summaries(due);
    if (write_it) emit(prio, line);
}

__attribute__((format(printf, 3, 0))) void vsay(int64_t caller, int prio, const char* fmt, va_list ap) {
    if (prio == LOG_DEBUG && !g_debug) return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (caller >= 0 && prio <= LOG_NOTICE) limited(static_cast<uid_t>(caller), prio, fmt, line);
    else emit(prio, line);
}
}  // namespace

Sink choose_sink(bool foreground, const char* journal_stream, int stderr_fd) {
    if (!foreground) return Sink::Syslog;
    struct stat st;
    unsigned long long dev, ino;
    if (journal_stream && sscanf(journal_stream, "%llu:%llu", &dev, &ino) == 2 && fstat(stderr_fd, &st) == 0 &&
        static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino)
        return Sink::Syslog;
    return Sink::Stderr;
}

void init(bool foreground, bool debug) {
    const bool err = choose_sink(foreground, getenv("JOURNAL_STREAM"), STDERR_FILENO) == Sink::Stderr;
    g_stderr.store(err);
    g_journal = foreground && !err;
    g_debug = debug;
    if (!err) openlog("django-authd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

bool debug_enabled() { return g_debug; }
bool to_stderr() { return g_stderr.load(); }
bool reaches_stderr() { return g_stderr.load() || g_journal; }

void say(int prio, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(t_caller, prio, fmt, ap);
    va_end(ap);
}

void say_for(uid_t uid, int prio, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(int64_t(uid), prio, fmt, ap);
    va_end(ap);
}

void tick() {
    const auto now = RateLimiter::Clock::now();
    const int64_t ticks = now.time_since_epoch().count();
    int64_t last = g_last_tick.load();
    const int64_t second = std::chrono::duration_cast<RateLimiter::Clock::duration>(std::chrono::seconds(1)).count();
    if (ticks - last < second || !g_last_tick.compare_exchange_strong(last, ticks)) return;  // another loop did
    std::vector<RateLimiter::Summary> due;
    {
        std::lock_guard<std::mutex> lock(g_limit_mutex);
        g_limiter.expire(now, due);
    }
    emit_summaries(due);
}

Caller::Caller(uid_t uid) : saved_(t_caller) { t_caller = int64_t(uid); }
Caller::~Caller() { t_caller = saved_; }

// --- RateLimiter -------------------------------------------------------------------

size_t RateLimiter::KeyHash::operator()(const Key& k) const noexcept {
    return std::hash<const void*>()(k.kind) * 31 + std::hash<uid_t>()(k.uid);
}

RateLimiter::RateLimiter(int burst, Clock::duration window, size_t max_keys)
    : burst_(burst), window_(window), max_keys_(max_keys) {}

RateLimiter::Summary RateLimiter::summary(uid_t uid, Entry& e, Clock::time_point now) const {
    Summary s;
    s.uid = uid;
    s.count = e.left_out;
    s.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(now - e.start).count());
    s.line = std::move(e.last);
    return s;
}

bool RateLimiter::admit(uid_t uid, const void* kind, std::string_view line, Clock::time_point now,
                        std::vector<Summary>& due) {
    auto it = table_.find(Key{uid, kind});
    if (it == table_.end()) {
        if (table_.size() >= max_keys_) expire(now, due);
        if (table_.size() >= max_keys_) {
            if (overflow_.written == 0 && overflow_.left_out == 0) overflow_.start = now;
            overflow_.left_out++;
            return false;
        }
        it = table_.emplace(Key{uid, kind}, Entry{now, 0, 0, {}}).first;
    } else if (now - it->second.start >= window_) {
        if (it->second.left_out > 0) due.push_back(summary(uid, it->second, now));
        it->second = Entry{now, 0, 0, {}};
    }
    Entry& e = it->second;
    if (e.written < burst_) {
        e.written++;
        return true;
    }
    e.left_out++;
    e.last.assign(line);
    return false;
}

void RateLimiter::expire(Clock::time_point now, std::vector<Summary>& due) {
    for (auto it = table_.begin(); it != table_.end();) {
        if (now - it->second.start < window_) {
            ++it;
            continue;
        }
        if (it->second.left_out > 0) due.push_back(summary(it->first.uid, it->second, now));
        it = table_.erase(it);
    }
    if (overflow_.left_out > 0 && now - overflow_.start >= window_) {
        due.push_back(summary(static_cast<uid_t>(-1), overflow_, now));
        overflow_ = Entry{};
    }
}

}  // namespace dj::log
