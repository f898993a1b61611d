// Django's password validation (django/contrib/auth/password_validation.py,
// AUTH_PASSWORD_VALIDATORS) for new passwords set through PAM: the four
// validators Django ships, configured by [passwords] validators, min_length,
// max_similarity and common_passwords, refusing with Django's messages.
//
// Where Python's Unicode rules are not glibc's, the differences are
// documented choices (django-auth.conf(5)): case folding is glibc's simple
// mapping (C.UTF-8), "\W" splits at characters glibc does not call
// alphanumeric, and "entirely numeric" means ASCII digits (Python's isdigit()
// also takes other scripts' digits and superscripts). The similarity check
// reads the user name and the first and last names: the daemon never reads
// e-mail addresses.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "daemon/config.h"

namespace dj {

// The user attributes UserAttributeSimilarityValidator compares with.
struct UserAttributes {
    std::string username, first_name, last_name;
};

class PasswordRules {
public:
    // Throws std::runtime_error when the common-passwords list cannot be
    // read (only when CommonPasswordValidator is on).
    explicit PasswordRules(const PasswordsConfig& p);

    bool empty() const { return order_.empty(); }

    // validate_password(): the message of every validator that refuses the
    // password, in the configured order; empty when all accept it.
    std::vector<std::string> check(std::string_view password, const UserAttributes& user) const;

    // Python's str.lower() and str.strip() as the validators use them (see above).
    static std::u32string lower(std::string_view utf8);
    static std::u32string strip(const std::u32string& s);
    // difflib.SequenceMatcher(a=a, b=b).quick_ratio().
    static double quick_ratio(const std::u32string& a, const std::u32string& b);

private:
    std::vector<std::string> order_;
    uint32_t min_length_;
    double max_similarity_;
    std::unordered_set<std::u32string> common_;
};

}  // namespace dj
