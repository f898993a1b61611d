// Fuzz target: the configuration parser (daemon/config.cc), on the text of a
// file. A parse either succeeds or says why; it never crashes, and a message
// never carries the database password.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024) return 0;
    std::string text(reinterpret_cast<const char*>(data), size);
    dj::Config cfg;
    std::string error;
    bool ok = dj::parse_config_text(text, cfg, error, "fuzz.conf");
    if (ok) {
        for (auto& h : cfg.passwords.hashers) (void)dj::valid_identifier(h);
    } else if (error.empty()) {
        abort();
    }
    if (!cfg.database.password.empty() && cfg.database.password.size() >= 6 &&
        error.find(cfg.database.password) != std::string::npos)
        abort();
    return 0;
}
