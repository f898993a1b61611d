// django-authctl check-hash / make-hash: Django password hashes from the
// command line, with the same library the daemon uses (passwords/hashers.h).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "passwords/hashers.h"
#include "tools/commands.h"

namespace dj::ctl {
namespace {

const char kCheckUsage[] =
    "usage: django-authctl check-hash [--hashers LIST|all] [--iterations N]\n"
    "                                 ENCODED | --hash-file FILE [--password-file FILE]\n"
    "\n"
    "Checks the password on standard input (all of it, byte for byte: no\n"
    "newline is stripped) against ENCODED, a value of auth_user.password,\n"
    "exactly as Django's check_password() does. Every local user can read a\n"
    "command line (ps): give the hash with --hash-file rather than as ENCODED.\n"
    "\n"
    "  --hash-file FILE      read ENCODED from FILE ('-': standard input), its\n"
    "                        first line without the line end\n"
    "  --password-file FILE  read the password from FILE instead of standard\n"
    "                        input (all of it, byte for byte); needed when the\n"
    "                        hash comes from standard input\n"
    "  --hashers LIST   comma-separated algorithm names, like PASSWORD_HASHERS,\n"
    "                   preferred first; 'all' (the default) enables every one:\n"
    "                   %s\n"
    "  --iterations N   pbkdf2 iterations of the preferred hasher (default %u);\n"
    "                   affects only must-update and the timing of failures\n"
    "\n"
    "Exit status: 0 the password matches; 1 it does not (wrong password,\n"
    "unusable, malformed, or a hasher not enabled), with the reason on\n"
    "standard error; 2 usage error.\n";

const char kMakeUsage[] =
    "usage: django-authctl make-hash [--algorithm NAME] [--iterations N]\n"
    "\n"
    "Prints a Django password hash of the password on standard input (all of\n"
    "it, byte for byte: no newline is stripped), with a fresh random salt.\n"
    "\n"
    "  --algorithm NAME  one of: %s\n"
    "                    (default pbkdf2_sha256)\n"
    "  --iterations N    work factor: pbkdf2 iterations (default %u), bcrypt\n"
    "                    rounds, argon2 time cost, or scrypt n\n";

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// "--name VALUE" or "--name=VALUE" at argv[i]; advances i past the value.
// nullopt when argv[i] is not this option; throws when the value is missing.
std::optional<std::string> option_value(int argc, char** argv, int& i, const char* name) {
    const size_t len = std::strlen(name);
    if (std::strncmp(argv[i], name, len) != 0) return std::nullopt;
    if (argv[i][len] == '=') return std::string(argv[i] + len + 1);
    if (argv[i][len] != '\0') return std::nullopt;
    if (i + 1 >= argc) throw std::invalid_argument(std::string(name) + " needs a value");
    return std::string(argv[++i]);
}

uint32_t parse_count(const std::string& opt, const std::string& s) {
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument(opt + " must be a positive number, not '" + s + "'");
    unsigned long long v = std::stoull(s);
    if (v == 0 || v > UINT32_MAX)
        throw std::invalid_argument(opt + " must be between 1 and 4294967295");
    return static_cast<uint32_t>(v);
}

std::vector<std::string> parse_hashers(const std::string& list) {
    if (list == "all") return Hashers::all_names();
    std::vector<std::string> names;
    size_t start = 0;
    for (;;) {
        size_t comma = list.find(',', start);
        std::string name =
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (name.empty()) throw std::invalid_argument("empty name in --hashers list");
        names.push_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return names;
}

const char* status_text(VerifyStatus s) {
    switch (s) {
        case VerifyStatus::Match:
            return "match";
        case VerifyStatus::Mismatch:
            return "no match";
        case VerifyStatus::Unusable:
            return "unusable password";
        case VerifyStatus::Unknown:
            return "unknown or disabled hasher";
        case VerifyStatus::Malformed:
            return "malformed value";
    }
    return "no match";
}

}  // namespace

int cmd_check_hash(int argc, char** argv) {
    const char* cmd = "check-hash";
    HashParams params;
    std::vector<std::string> names = Hashers::all_names();
    std::vector<std::string> positional;
    std::optional<std::string> hash_file, password_file;
    try {
        bool options_done = false;
        for (int i = 1; i < argc; ++i) {
            std::string arg = argv[i];
            if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
                positional.push_back(arg);
            } else if (arg == "--") {
                options_done = true;
            } else if (arg == "--help" || arg == "-h") {
                std::printf(kCheckUsage, joined(Hashers::all_names()).c_str(),
                            HashParams{}.pbkdf2_iterations);
                return kExitOk;
            } else if (auto v = option_value(argc, argv, i, "--hashers")) {
                names = parse_hashers(*v);
            } else if (auto w = option_value(argc, argv, i, "--iterations")) {
                params.pbkdf2_iterations = parse_count("--iterations", *w);
            } else if (auto hf = option_value(argc, argv, i, "--hash-file")) {
                hash_file = *hf;
            } else if (auto pf = option_value(argc, argv, i, "--password-file")) {
                password_file = *pf;
            } else {
                return usage_error(cmd, "unknown option '" + arg + "' (see --help)");
            }
        }
    } catch (const std::exception& e) {
        return usage_error(cmd, e.what());
    }
    if (hash_file && !positional.empty())
        return usage_error(cmd, "ENCODED and --hash-file are exclusive (see --help)");
    if (!hash_file && positional.size() != 1)
        return usage_error(cmd, positional.empty() ? "missing ENCODED argument or --hash-file (see --help)"
                                                   : "too many arguments (see --help)");
    if (hash_file == "-" && password_file.value_or("-") == "-")
        return usage_error(cmd,
                           "the hash and the password cannot both come from standard input: "
                           "give --password-file FILE (see --help)");
    std::optional<Hashers> hashers;
    try {
        hashers.emplace(names, params);
    } catch (const std::exception& e) {
        return usage_error(cmd, std::string("--hashers: ") + e.what());
    }
    std::string encoded;
    if (hash_file) {
        if (!read_all_file(*hash_file, encoded)) {
            const int e = errno;
            return fail(cmd, "--hash-file " + *hash_file + ": " + std::strerror(e));
        }
        const size_t eol = encoded.find_first_of("\r\n");
        if (eol != std::string::npos) {
            std::string rest = encoded.substr(eol);
            wipe(rest);
            encoded.resize(eol);
        }
    } else {
        encoded = positional[0];
    }
    std::string password;
    const std::string pw_from = password_file.value_or("-");
    if (!read_all_file(pw_from, password)) {
        const int e = errno;
        wipe(encoded);
        return fail(cmd, pw_from == "-" ? std::string("cannot read the password from standard input")
                                        : "--password-file " + pw_from + ": " + std::strerror(e));
    }
    VerifyResult r = hashers->verify(password, encoded);
    wipe(password);
    wipe(encoded);
    if (r.ok()) return kExitOk;
    std::string why = status_text(r.status);
    if (!r.reason.empty() && r.status != VerifyStatus::Unusable) why += ": " + r.reason;
    return fail(cmd, why);
}

int cmd_make_hash(int argc, char** argv) {
    const char* cmd = "make-hash";
    std::string algorithm = "pbkdf2_sha256";
    uint32_t work = 0;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string arg = argv[i];
            if (arg == "--help" || arg == "-h") {
                std::printf(kMakeUsage, joined(Hashers::all_names()).c_str(),
                            HashParams{}.pbkdf2_iterations);
                return kExitOk;
            } else if (auto v = option_value(argc, argv, i, "--algorithm")) {
                algorithm = *v;
            } else if (auto w = option_value(argc, argv, i, "--iterations")) {
                work = parse_count("--iterations", *w);
            } else if (!arg.empty() && arg[0] == '-') {
                return usage_error(cmd, "unknown option '" + arg + "' (see --help)");
            } else {
                return usage_error(cmd,
                                   "unexpected argument (the password is read from "
                                   "standard input; see --help)");
            }
        }
    } catch (const std::exception& e) {
        return usage_error(cmd, e.what());
    }
    std::optional<Hashers> hashers;
    try {
        hashers.emplace(std::vector<std::string>{algorithm});
    } catch (const std::exception& e) {
        return usage_error(cmd, std::string("--algorithm: ") + e.what());
    }
    std::string password;
    if (!read_all_stdin(password)) return fail(cmd, "cannot read the password from standard input");
    std::string encoded;
    try {
        encoded = hashers->encode_with(algorithm, password, work);
    } catch (const std::exception& e) {
        wipe(password);
        return fail(cmd, e.what());
    }
    wipe(password);
    std::printf("%s\n", encoded.c_str());
    return std::fflush(stdout) == 0 ? kExitOk : fail(cmd, "cannot write to standard output");
}

}  // namespace dj::ctl
