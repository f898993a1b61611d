// The Django password hasher library (passwords/hashers.*, hasher_*.cc,
// base64.*): identify rules, the check_password() flow (unusable, unknown,
// disabled), parsers and their limits (hostile values are Malformed before
// any work), must_update, base64 strictness, salts and constant-time
// comparison. Agreement with real Django on many values is tested by
// tests/integration/test_hashers.py; here are the edges.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <setjmp.h>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "passwords/base64.h"
#include "passwords/hasher.h"
#include "passwords/hashers.h"

// Last: cmocka defines macros (fail, ...) that clash with libstdc++ names.
extern "C" {
#include <cmocka.h>
}

using namespace dj;
using namespace std::string_literals;

namespace {

// Small work factors everywhere, so the tests stay fast under sanitizers.
HashParams small_params() {
    HashParams p;
    p.pbkdf2_iterations = 1000;
    p.argon2_time = 1;
    p.argon2_memory_kib = 64;
    p.argon2_lanes = 2;
    p.argon2_hash_len = 16;
    p.bcrypt_rounds = 4;
    p.scrypt_n = 16;
    p.scrypt_r = 2;
    p.scrypt_p = 1;
    return p;
}

Hashers all_small() {
    return Hashers(Hashers::all_names(), small_params());
}

VerifyStatus status(const Hashers& h, std::string_view pw, std::string_view enc) {
    return h.verify(pw, enc).status;
}

std::string pbkdf2_value(const Hashers& h, std::string_view pw = "password") {
    return h.encode_with("pbkdf2_sha256", pw, 1000);
}

// --- identify_hasher ------------------------------------------------------------

void test_identify(void**) {
    assert_string_equal(identify_algorithm(std::string(32, 'a')).c_str(), "unsalted_md5");
    assert_string_equal(identify_algorithm(std::string(32, 'Z')).c_str(), "unsalted_md5");
    // 32 characters of which one is two bytes of UTF-8: still 32 for Python.
    assert_string_equal(identify_algorithm("\xc3\xa4" + std::string(31, 'a')).c_str(),
                        "unsalted_md5");
    assert_string_equal(identify_algorithm(std::string(33, 'a')).c_str(),
                        std::string(33, 'a').c_str());
    assert_string_equal(identify_algorithm("md5$" + std::string(28, 'a')).c_str(), "md5");
    assert_string_equal(identify_algorithm("md5$$" + std::string(32, 'a')).c_str(), "unsalted_md5");
    assert_string_equal(identify_algorithm("md5$$" + std::string(31, 'a')).c_str(), "md5");
    assert_string_equal(identify_algorithm("sha1$$" + std::string(40, 'a')).c_str(),
                        "unsalted_sha1");
    assert_string_equal(identify_algorithm("sha1$$" + std::string(39, 'a')).c_str(), "sha1");
    assert_string_equal(identify_algorithm("MD5$$" + std::string(32, 'a')).c_str(), "MD5");
    assert_string_equal(identify_algorithm("PBKDF2_SHA256$1$a$b").c_str(), "PBKDF2_SHA256");
    assert_string_equal(identify_algorithm("bcrypt$$2b$04$x").c_str(), "bcrypt");
    assert_string_equal(identify_algorithm("").c_str(), "");
    assert_string_equal(identify_algorithm("$").c_str(), "");
    assert_string_equal(identify_algorithm("nodollar").c_str(), "nodollar");
    assert_string_equal(identify_algorithm(" pbkdf2_sha256$1$a$b").c_str(), " pbkdf2_sha256");
}

void test_split_and_numbers(void**) {
    auto f = split("a$b$c$d", '$', 2);
    assert_int_equal(f.size(), 3);
    assert_true(f[0] == "a" && f[1] == "b" && f[2] == "c$d");
    f = split("", '$', 3);
    assert_int_equal(f.size(), 1);
    f = split("$$", '$', 5);
    assert_int_equal(f.size(), 3);
    assert_true(f[0].empty() && f[1].empty() && f[2].empty());

    uint64_t v = 7;
    assert_true(parse_canonical_uint("0", 10, v) && v == 0);
    assert_true(parse_canonical_uint("1200000", UINT64_MAX, v) && v == 1200000);
    assert_true(parse_canonical_uint("18446744073709551615", UINT64_MAX, v) && v == UINT64_MAX);
    for (const char* bad : {"", "01", "+1", "-1", " 1", "1 ", "1_000", "1e3", "0x10",
                            "18446744073709551616", "99999999999999999999999"})
        assert_false(parse_canonical_uint(bad, UINT64_MAX, v));
    assert_false(parse_canonical_uint("11", 10, v));
}

// --- the check_password() flow ----------------------------------------------------

void test_unusable_empty_unknown(void**) {
    Hashers h = all_small();
    std::string good = pbkdf2_value(h);
    assert_int_equal(status(h, "password", good), VerifyStatus::Match);

    VerifyResult r = h.verify("password", "!");
    assert_int_equal(r.status, VerifyStatus::Unusable);
    assert_false(r.ok());
    assert_int_equal(status(h, "password", "!" + good), VerifyStatus::Unusable);
    assert_int_equal(status(h, "", "!"), VerifyStatus::Unusable);
    assert_int_equal(status(h, "password", "!" + std::string(40, 'x')), VerifyStatus::Unusable);

    r = h.verify("password", "");
    assert_int_equal(r.status, VerifyStatus::Unknown);
    assert_true(r.algorithm.empty());
    assert_int_equal(status(h, "", ""), VerifyStatus::Unknown);
    assert_int_equal(status(h, "password", "foo$bar"), VerifyStatus::Unknown);
    // Algorithm names are case-sensitive, and whitespace is not stripped.
    assert_int_equal(status(h, "password", "PBKDF2_SHA256" + good.substr(13)),
                     VerifyStatus::Unknown);
    assert_int_equal(status(h, "password", " " + good), VerifyStatus::Unknown);
    assert_int_equal(status(h, "password", good + " "), VerifyStatus::Mismatch);

    // An unknown "algorithm" may be a plaintext password: never echoed.
    r = h.verify("x", "hunter2-secret");
    assert_int_equal(r.status, VerifyStatus::Unknown);
    assert_null(strstr(r.reason.c_str(), "hunter2"));
}

void test_disabled_hasher(void**) {
    Hashers all = all_small();
    std::string md5 = all.encode_with("md5", "password");
    Hashers def(Hashers::default_names(), small_params());
    VerifyResult r = def.verify("password", md5);
    assert_int_equal(r.status, VerifyStatus::Unknown);
    assert_non_null(strstr(r.reason.c_str(), "md5 is not enabled"));
    // Bare 32 hex is claimed by unsalted_md5 only.
    std::string bare = all.encode_with("unsalted_md5", "password");
    assert_int_equal(bare.size(), 32);
    assert_int_equal(status(def, "password", bare), VerifyStatus::Unknown);
    assert_int_equal(status(all, "password", bare), VerifyStatus::Match);
    Hashers only(std::vector<std::string>{"unsalted_md5"}, small_params());
    assert_int_equal(status(only, "password", bare), VerifyStatus::Match);
    assert_int_equal(status(only, "password", "md5$$" + bare), VerifyStatus::Match);
    assert_int_equal(status(only, "password", md5), VerifyStatus::Unknown);
}

void test_constructor(void**) {
    assert_true(Hashers::default_names() ==
                (std::vector<std::string>{"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256",
                                          "scrypt"}));
    auto all = Hashers::all_names();
    assert_int_equal(all.size(), 11);
    for (size_t i = 0; i < 5; ++i)
        assert_string_equal(all[i].c_str(), Hashers::default_names()[i].c_str());
    Hashers h(std::vector<std::string>{"md5", "pbkdf2_sha256"}, small_params());
    assert_string_equal(h.preferred().c_str(), "md5");
    assert_int_equal(h.names().size(), 2);

    bool threw = false;
    try {
        Hashers x(std::vector<std::string>{"pbkdf2_sha256", "sha3"});
    } catch (const std::invalid_argument& e) {
        threw = strstr(e.what(), "sha3") != nullptr;
    }
    assert_true(threw);
    threw = false;
    try {
        Hashers x(std::vector<std::string>{"md5", "md5"});
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);
    threw = false;
    try {
        Hashers x(std::vector<std::string>{});
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);
    threw = false;
    try {
        Hashers x(std::vector<std::string>{"PBKDF2_SHA256"});
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);
    threw = false;
    try {
        (void)h.encode_with("argon2", "pw");
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);

    // Moved-from and moved-to objects behave.
    Hashers moved = std::move(h);
    assert_string_equal(moved.preferred().c_str(), "md5");
    assert_int_equal(status(moved, "pw", moved.encode("pw")), VerifyStatus::Match);
}

// Every algorithm: encode, then verify right and wrong, with the preferred's
// own parameters (so no must_update).
void test_round_trip_every_algorithm(void**) {
    for (const std::string& alg : Hashers::all_names()) {
        std::vector<std::string> names{alg};
        Hashers h(names, small_params());
        for (std::string pw :
             {""s, "password"s, "p\xc3\xa4ss w\xc3\xb6rd $:"s, std::string(200, 'x')}) {
            std::string enc = h.encode(pw);
            VerifyResult r = h.verify(pw, enc);
            assert_int_equal(r.status, VerifyStatus::Match);
            assert_string_equal(r.algorithm.c_str(), alg.c_str());
            assert_false(r.must_update);
            assert_true(r.reason.empty());
            r = h.verify("!" + pw, enc);
            assert_int_equal(r.status, VerifyStatus::Mismatch);
            assert_false(r.must_update);
            assert_false(r.reason.empty());
        }
    }
}

void test_password_bytes(void**) {
    Hashers h = all_small();
    const std::string nul = "pass\0word"s;
    assert_int_equal(status(h, nul, h.encode_with("pbkdf2_sha256", nul)), VerifyStatus::Match);
    assert_int_equal(status(h, "pass", h.encode_with("pbkdf2_sha256", nul)),
                     VerifyStatus::Mismatch);
    assert_int_equal(status(h, nul, h.encode_with("bcrypt_sha256", nul)), VerifyStatus::Match);
    assert_int_equal(status(h, nul, h.encode_with("argon2", nul)), VerifyStatus::Match);
    assert_int_equal(status(h, nul, h.encode_with("scrypt", nul)), VerifyStatus::Match);
    // pyca/bcrypt and Python's crypt refuse a NUL: never a match.
    std::string b = h.encode_with("bcrypt", "pass");
    assert_int_equal(status(h, nul, b), VerifyStatus::Mismatch);
    bool threw = false;
    try {
        (void)h.encode_with("bcrypt", nul);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);
    std::string c = h.encode_with("crypt", "pass");
    assert_int_equal(status(h, nul, c), VerifyStatus::Mismatch);
    // No normalisation: NFC and NFD spellings differ.
    std::string nfc = "\xc3\xa4", nfd = "a\xcc\x88";
    assert_int_equal(status(h, nfd, h.encode_with("pbkdf2_sha256", nfc)), VerifyStatus::Mismatch);
    // No newline stripping either.
    assert_int_equal(status(h, "pw\n", h.encode_with("md5", "pw")), VerifyStatus::Mismatch);
}

// bcrypt: 72-byte truncation, $2a$/$2y$ echoed, and raw 8-bit passwords
// hashed as pyca/bcrypt does (libxcrypt's $2a$ differs on "\xff\xff\xa3").
void test_bcrypt_details(void**) {
    Hashers h = all_small();
    std::string p72(72, 'A');
    std::string enc = h.encode_with("bcrypt", p72 + "X");
    assert_int_equal(status(h, p72 + "Y", enc), VerifyStatus::Match);
    assert_int_equal(status(h, p72, enc), VerifyStatus::Match);
    assert_int_equal(status(h, p72.substr(1), enc), VerifyStatus::Mismatch);
    enc = h.encode_with("bcrypt_sha256", p72 + "X");
    assert_int_equal(status(h, p72 + "Y", enc), VerifyStatus::Mismatch);

    const std::string pw = "\xff\xff\xa3";
    const std::string salt = "$05$/OK.fbVrR/bpIqNJ5ianF.";
    const std::string pyca = "CE5elHaaO4EbggVDjb8P19RukzXSM3e";      // pyca, any prefix
    const std::string xcrypt2a = "nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.";  // libxcrypt $2a$
    for (const char* prefix : {"$2a", "$2b", "$2y"})
        assert_int_equal(status(h, pw, "bcrypt$"s + prefix + salt + pyca), VerifyStatus::Match);
    assert_int_equal(status(h, pw, "bcrypt$$2a" + salt + xcrypt2a), VerifyStatus::Mismatch);
    assert_int_equal(status(h, pw, "bcrypt$$2x" + salt + pyca), VerifyStatus::Malformed);
    assert_int_equal(status(h, pw, "bcrypt$2a" + salt + pyca), VerifyStatus::Malformed);
}

void test_argon2_details(void**) {
    Hashers h = all_small();
    std::string enc = h.encode_with("argon2", "password");
    assert_true(enc.starts_with("argon2$argon2id$v=19$m=64,t=1,p=2$"));
    assert_int_equal(status(h, "password", enc), VerifyStatus::Match);
    // libargon2 reads a missing v= as version 0x10: a v=19 value without it
    // is well-formed but never matches.
    std::string nov = enc;
    nov.erase(nov.find("$v=19"), 5);
    assert_int_equal(status(h, "password", nov), VerifyStatus::Mismatch);
    std::string noid = enc;
    noid.replace(noid.find("argon2id"), 8, "argon2i");
    assert_int_equal(status(h, "password", noid), VerifyStatus::Mismatch);
    assert_int_equal(status(h, "password", enc + "="), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", enc.substr(0, enc.size() - 1)), VerifyStatus::Malformed);
    std::string lz = enc;
    lz.replace(lz.find("m=64"), 4, "m=064");
    assert_int_equal(status(h, "password", lz), VerifyStatus::Malformed);
    assert_int_equal(
        status(h, "password", "argon2$argon2x$v=19$m=64,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"),
        VerifyStatus::Malformed);
    // argon2-cffi passes a C string: a NUL ends the value (Django accepts
    // "valid\0junk"); non-ASCII anywhere is refused.
    assert_int_equal(status(h, "password", enc + "\0junk"s), VerifyStatus::Match);
    assert_int_equal(status(h, "password", enc + "\0\xc3\xa4"s), VerifyStatus::Malformed);
    // "argon2" alone is claimed by the argon2 hasher, which finds no '$'.
    assert_int_equal(status(h, "password", "argon2"), VerifyStatus::Malformed);
}

// Values that would take hours or gigabytes: Malformed before any work.
void test_limits(void**) {
    Hashers h = all_small();
    const std::string s22 = "Fx9kQ2mZr7TbW4yLp0NcVe";
    const std::string b44 = "3mRMcQsNOKvxpzOzMo3nY8vuSJnfYUjjx0eNwmO2WM4=";
    const std::vector<std::string> hostile = {
        "pbkdf2_sha256$1000000000000$" + s22 + "$" + b44,
        "pbkdf2_sha256$100000001$" + s22 + "$" + b44,
        "pbkdf2_sha1$4294967296$" + s22 + "$" + b44,
        "pbkdf2_sha256$99999999999999999999999$" + s22 + "$" + b44,
        "argon2$argon2id$v=19$m=2147483648,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "argon2$argon2id$v=19$m=64,t=2147483648,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "argon2$argon2id$v=19$m=1073741824,t=1,p=16777215$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "argon2$argon2d$v=19$m=4294967296,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "scrypt$3$" + s22 + "$8$1$" + b44,
        "scrypt$1099511627776$" + s22 + "$8$1$" + b44,
        "scrypt$16384$" + s22 + "$8$1048576$" + b44,
        "scrypt$16384$" + s22 + "$4294967296$1$" + b44,
        "scrypt$2$" + s22 + "$18446744073709551615$1$" + b44,
        "bcrypt$$2b$31$abcdefghijklmnopqrstuu" + std::string(31, 'a'),
        "bcrypt_sha256$$2b$17$abcdefghijklmnopqrstuu" + std::string(31, 'a'),
        "bcrypt$$2b$99$abcdefghijklmnopqrstuu" + std::string(31, 'a'),
        "crypt$$$6$rounds=999999999$abcdefgh$" + std::string(86, 'a'),
        "crypt$$$5$rounds=100000001$abcdefgh$" + std::string(43, 'a'),
        "crypt$$$sha1$4294967295$abcdefgh$" + std::string(28, 'a'),
        "crypt$$$md5,rounds=4294967295$abcdefgh$" + std::string(22, 'a'),
        "crypt$$$2b$31$abcdefghijklmnopqrstuu" + std::string(31, 'a'),
        "crypt$$$y$jb.$abcdefghijklmnop$" + std::string(43, 'a'),
        "crypt$$$y$jJT$abcdefghijklmnop$" + std::string(43, 'a'),
        "crypt$$$gy$jJT$abcdefghijklmnop$" + std::string(43, 'a'),
        "crypt$$$7$SU..../....abcdefgh$" + std::string(43, 'a'),
        "crypt$$$y$j9T/s4r$abcdefghijklmnop$" + std::string(43, 'a'),  // t = 1000
    };
    for (const std::string& enc : hostile) {
        VerifyResult r = h.verify("password", enc);
        if (r.status != VerifyStatus::Malformed) print_error("not malformed: %s\n", enc.c_str());
        assert_int_equal(r.status, VerifyStatus::Malformed);
        assert_false(r.reason.empty());
        assert_null(strstr(r.reason.c_str(), "password"));
        assert_null(strstr(r.reason.c_str(), "abcdefgh"));
        assert_null(strstr(r.reason.c_str(), s22.c_str()));
    }
    // The limits are the caller's: a tighter one rejects what the default allows.
    HashLimits tight;
    tight.max_pbkdf2_iterations = 999;
    tight.max_bcrypt_rounds = 4;
    tight.max_memory = 32 * 1024;
    Hashers t(Hashers::all_names(), small_params(), tight);
    assert_int_equal(status(t, "password", pbkdf2_value(h)), VerifyStatus::Malformed);
    assert_int_equal(status(t, "password", h.encode_with("bcrypt", "password", 5)),
                     VerifyStatus::Malformed);
    assert_int_equal(status(t, "password", h.encode_with("bcrypt", "password", 4)),
                     VerifyStatus::Match);
    assert_int_equal(status(t, "password", h.encode_with("argon2", "password")),
                     VerifyStatus::Malformed);
}

// Values Django verifies with one unusual parameter, made by the primitives
// Django's hashers call (hashlib.scrypt with maxmem=0, argon2-cffi's
// hash_secret): their cost is small, so they verify.
void test_cost_not_parameters(void**) {
    Hashers h = all_small();
    const std::vector<std::string> good = {
        // scrypt n=16 r=1 p=100: 15 KiB, 1600 block mixes.
        "scrypt$16$Fx9kQ2mZr7TbW4yLp0NcVe$1$100$N7STCJK9LZgqAbEDoMaNp/RarIpfidliH56WWwdZtRl7Za6lgAKM+9Mu9E7fZ6fcAe"
        "aFhrSd68nrvmZ3/tM6wQ==",
        // argon2id p=65 m=1024 and t=1025 m=64.
        "argon2$argon2id$v=19$m=1024,t=1,p=65$Rng5a1EybVpyN1RiVzR5THAwTmNWZQ$Fc3kCPUVLQLwyEXQC6W5I7bG8oB8JTeYWxfolZuk1ig",
        "argon2$argon2id$v=19$m=64,t=1025,p=1$Rng5a1EybVpyN1RiVzR5THAwTmNWZQ$aiKoRRtDwZKs6P4QfFKOHg+sPPtjosP3jGm9Qzfz4VU",
        // A 64-byte tag with an 8-byte salt, and a 4-byte tag (argon2-cffi's least).
        "argon2$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHQ$Xz+CKHurr4MAfz5LFciNlW39umzZHPOp0aRUjwYwT+x208H29p6KlGMqmQmcdVDKV0"
        "50EFaX7r3mJSAk6HRIxw",
        "argon2$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHQ$eLahJw",
    };
    for (const std::string& enc : good) {
        VerifyResult r = h.verify("password", enc);
        if (r.status != VerifyStatus::Match) print_error("%s: %s\n", enc.c_str(), r.reason.c_str());
        assert_int_equal(r.status, VerifyStatus::Match);
        assert_int_equal(status(h, "passwore", enc), VerifyStatus::Mismatch);
    }
    // Refused at once for what they would cost, whatever each parameter is.
    const std::string salt = "$Rng5a1EybVpyN1RiVzR5THAwTmNWZQ$Fc3kCPUVLQLwyEXQC6W5I7bG8oB8JTeYWxfolZuk1ig";
    struct {
        std::string enc;
        const char* reason;
    } bad[] = {
        {"argon2$argon2id$v=19$m=65536,t=100,p=1" + salt, "argon2 work (passes x memory) over the limit"},
        {"argon2$argon2id$v=19$m=2097152,t=1,p=1" + salt, "argon2 memory over the limit"},
        // p lanes need 8p KiB: 2^24 lanes is 128 GiB.
        {"argon2$argon2id$v=19$m=64,t=1,p=16777215" + salt, "argon2 memory over the limit"},
        {"scrypt$16384$Fx9kQ2mZr7TbW4yLp0NcVe$8$200$AAAA", "scrypt work (N x r x p) over the limit"},
        {"scrypt$8388608$Fx9kQ2mZr7TbW4yLp0NcVe$1$1$AAAA", "scrypt memory over the limit"},
        // Within our limits but over OpenSSL's 32 MiB, as Django calls it.
        {"scrypt$32768$Fx9kQ2mZr7TbW4yLp0NcVe$8$1$AAAA", "scrypt parameters rejected by OpenSSL"},
        {"pbkdf2_sha256$100000001$Fx9kQ2mZr7TbW4yLp0NcVe$AAAA", "iteration count over the limit"},
    };
    for (const auto& b : bad) {
        VerifyResult r = h.verify("password", b.enc);
        assert_int_equal(r.status, VerifyStatus::Malformed);
        if (!strstr(r.reason.c_str(), b.reason)) print_error("%s: %s\n", b.enc.c_str(), r.reason.c_str());
        assert_non_null(strstr(r.reason.c_str(), b.reason));
    }
    // The caps are the caller's.
    HashLimits l;
    l.max_argon2_work = 1024 * 1025 - 1;
    l.max_scrypt_work = 1599;
    Hashers t(Hashers::all_names(), small_params(), l);
    assert_int_equal(status(t, "password", good[0]), VerifyStatus::Malformed);
    assert_int_equal(status(t, "password", good[1]), VerifyStatus::Match);  // 1024 x 1
    assert_int_equal(status(t, "password", good[2]), VerifyStatus::Match);  // 64 x 1025
    l.max_argon2_work = 64 * 1025 - 1;
    Hashers t2(Hashers::all_names(), small_params(), l);
    assert_int_equal(status(t2, "password", good[2]), VerifyStatus::Malformed);
}

// SiteScan: the strongest value of each family; what it cannot read, or
// what is over the limits, counts for nothing.
void test_site_scan(void**) {
    Hashers h = all_small();
    SiteScan scan;
    scan.add(h.encode_with("pbkdf2_sha256", "pw", 1000));
    scan.add(h.encode_with("pbkdf2_sha256", "pw", 260000 / 100));
    scan.add(h.encode_with("pbkdf2_sha1", "pw", 1500));
    scan.add("pbkdf2_sha256$100000001$Fx9kQ2mZr7TbW4yLp0NcVe$AAAA");  // over the limit
    scan.add("!pbkdf2_sha256$99999$Fx9kQ2mZr7TbW4yLp0NcVe$AAAA");     // unusable
    scan.add("pbkdf2_sha256$01000000$x$AAAA");                         // malformed
    scan.add(h.encode_with("bcrypt_sha256", "pw", 4));
    scan.add(h.encode_with("bcrypt", "pw", 5));
    scan.add("argon2$argon2id$v=19$m=1024,t=1,p=65$Rng5a1EybVpyN1RiVzR5THAwTmNWZQ$Fc3kCPUVLQLwyEXQC6W5I7bG8oB8JTeYWxfolZuk1ig");
    scan.add("argon2$argon2i$v=19$m=512,t=2,p=2$Rng5a1EybVpyN1RiVzR5THAwTmNWZQ$Fc3kCPUVLQLwyEXQC6W5Iw");
    scan.add(h.encode_with("md5", "pw"));
    scan.add("");
    const SiteParams& r = scan.result();
    assert_int_equal(r.values, 12);
    assert_int_equal(r.pbkdf2, 3);
    assert_int_equal(r.best.pbkdf2_iterations, 2600);
    assert_int_equal(r.bcrypt, 2);
    assert_int_equal(r.best.bcrypt_rounds, 5);
    assert_int_equal(r.argon2, 2);
    assert_int_equal(r.best.argon2_time, 1);  // 1 x 1024 beats 2 x 512 on lanes
    assert_int_equal(r.best.argon2_memory_kib, 1024);
    assert_int_equal(r.best.argon2_lanes, 65);
    assert_int_equal(r.best.argon2_hash_len, 32);
    assert_int_equal(r.scrypt, 0);
    // set_params: later checks use the new parameters.
    std::string v = h.encode_with("pbkdf2_sha256", "pw", 2600);
    assert_true(h.verify("pw", v).must_update);
    HashParams p = h.params();
    p.pbkdf2_iterations = r.best.pbkdf2_iterations;
    h.set_params(p);
    assert_false(h.verify("pw", v).must_update);
    assert_non_null(strstr(h.encode("pw").c_str(), "$2600$"));
}

void test_malformed_fields(void**) {
    Hashers h = all_small();
    std::string good = pbkdf2_value(h);
    auto f = split(good, '$', 3);
    auto with = [&](std::string it, std::string salt, std::string hash) {
        return "pbkdf2_sha256$" + it + "$" + salt + "$" + hash;
    };
    std::string salt(f[2]), hash(f[3]);
    assert_int_equal(status(h, "password", with("01000", salt, hash)), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", with("+1000", salt, hash)), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", with("0", salt, hash)), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", with("1000", "", hash)), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", with("1000", salt, hash.substr(0, 43))),
                     VerifyStatus::Mismatch);
    assert_int_equal(status(h, "password", "pbkdf2_sha256$1000$" + salt), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", "pbkdf2_sha256"), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", "pbkdf2_sha256$"), VerifyStatus::Malformed);
    // Uppercase hex never verifies (compared as re-encoded text).
    std::string md5 = h.encode_with("md5", "password");
    std::string upper = md5;
    for (size_t i = upper.size() - 32; i < upper.size(); ++i)
        upper[i] = static_cast<char>(toupper(static_cast<unsigned char>(upper[i])));
    if (upper != md5) assert_int_equal(status(h, "password", upper), VerifyStatus::Mismatch);
    assert_int_equal(status(h, "password", "md5$$abc"), VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", "sha1$$" + std::string(39, '0')),
                     VerifyStatus::Malformed);
    assert_int_equal(status(h, "password", "scrypt$16$salt$2$1$x$y"), VerifyStatus::Malformed);
}

// Nothing escapes verify(), whatever follows an algorithm name.
void test_garbage_never_crashes(void**) {
    Hashers h = all_small();
    uint32_t x = 12345;
    auto rnd = [&] {
        x = x * 1103515245 + 12345;
        return (x >> 16) & 0x7fff;
    };
    const char alphabet[] = "$=,.:/+0123456789abcvmtpy2AZ_!\xc3\xa4 \n\x01";
    for (const std::string& alg : Hashers::all_names()) {
        for (int i = 0; i < 150; ++i) {
            std::string s = alg + "$";
            size_t len = rnd() % 80;
            for (size_t k = 0; k < len; ++k) s += alphabet[rnd() % (sizeof alphabet - 1)];
            VerifyResult r = h.verify("password", s);
            assert_int_not_equal(r.status, VerifyStatus::Match);
        }
    }
}

void test_must_update(void**) {
    HashParams p = small_params();
    Hashers h(Hashers::all_names(), p);
    auto mu = [&](const Hashers& hs, const std::string& pw, const std::string& enc) {
        VerifyResult r = hs.verify(pw, enc);
        assert_int_equal(r.status, VerifyStatus::Match);
        return r.must_update;
    };
    // pbkdf2: iterations differ either way, or a salt under 22 characters.
    assert_false(mu(h, "pw", h.encode_with("pbkdf2_sha256", "pw", 1000)));
    assert_true(mu(h, "pw", h.encode_with("pbkdf2_sha256", "pw", 999)));
    assert_true(mu(h, "pw", h.encode_with("pbkdf2_sha256", "pw", 2000)));
    std::string old_salt = "pbkdf2_sha256$1000$abcdefABCDEF$";
    {
        // Same value through Hasher::encode with a Django <= 3.1 salt.
        auto hasher = make_pbkdf2_sha256(p, HashLimits{});
        std::string enc = hasher->encode("pw", "abcdefABCDEF", 0);
        assert_true(enc.starts_with(old_salt));
        assert_true(mu(h, "pw", enc));
        enc = hasher->encode("pw", "abcdefABCDEFabcdefABCD", 0);  // 22
        assert_false(mu(h, "pw", enc));
    }
    // Not the preferred algorithm.
    assert_true(mu(h, "pw", h.encode_with("pbkdf2_sha1", "pw", 1000)));
    assert_true(mu(h, "pw", h.encode_with("md5", "pw")));

    // argon2 (3.2+): type, version, hash length, t, m, p, or a short salt.
    Hashers a(std::vector<std::string>{"argon2"}, p);
    assert_false(mu(a, "pw", a.encode("pw")));
    assert_true(mu(a, "pw", a.encode_with("argon2", "pw", 2)));
    HashParams p32 = p;
    p32.argon2_hash_len = 32;
    Hashers a32(std::vector<std::string>{"argon2"}, p32);
    assert_true(mu(a, "pw", a32.encode("pw")));
    assert_true(mu(a32, "pw", a.encode("pw")));
    {
        auto hasher = make_argon2(p, HashLimits{});
        assert_true(mu(a, "pw", hasher->encode("pw", "abcdefABCDEF", 0)));
        std::string enc = hasher->encode("pw", "abcdefABCDEFabcdefABCD", 0);
        assert_false(mu(a, "pw", enc));
    }

    // bcrypt: rounds differ.
    Hashers b(std::vector<std::string>{"bcrypt_sha256", "bcrypt"}, p);
    assert_false(mu(b, "pw", b.encode("pw")));
    assert_true(mu(b, "pw", b.encode_with("bcrypt_sha256", "pw", 5)));
    assert_true(mu(b, "pw", b.encode_with("bcrypt", "pw", 4)));  // not preferred

    // scrypt: n, r or p differ; the salt is not checked.
    Hashers s(std::vector<std::string>{"scrypt"}, p);
    assert_false(mu(s, "pw", s.encode("pw")));
    assert_true(mu(s, "pw", s.encode_with("scrypt", "pw", 32)));
    {
        auto hasher = make_scrypt(p, HashLimits{});
        assert_false(mu(s, "pw", hasher->encode("pw", "ab", 0)));
    }

    // md5: a short salt; unsalted and crypt: never.
    Hashers m(std::vector<std::string>{"md5"}, p);
    assert_false(mu(m, "pw", m.encode("pw")));
    assert_true(mu(m, "pw", make_md5(p, HashLimits{})->encode("pw", "abc", 0)));
    Hashers u(std::vector<std::string>{"unsalted_md5", "crypt"}, p);
    assert_false(mu(u, "pw", u.encode("pw")));
    assert_true(mu(u, "pw", u.encode_with("crypt", "pw")));
    Hashers c(std::vector<std::string>{"crypt"}, p);
    assert_false(mu(c, "pw", c.encode("pw")));

    // must_update is only reported with a match.
    VerifyResult r = h.verify("wrong", h.encode_with("pbkdf2_sha256", "pw", 999));
    assert_int_equal(r.status, VerifyStatus::Mismatch);
    assert_false(r.must_update);
}

// harden_runtime runs on a failed check of an outdated value by the
// preferred algorithm; it must not change the answer.
void test_harden_runtime_paths(void**) {
    Hashers h(Hashers::all_names(), small_params());
    assert_int_equal(status(h, "x", h.encode_with("pbkdf2_sha256", "pw", 10)),
                     VerifyStatus::Mismatch);
    assert_int_equal(status(h, "x", h.encode_with("pbkdf2_sha256", "pw", 5000)),
                     VerifyStatus::Mismatch);
    HashParams p = small_params();
    p.bcrypt_rounds = 6;
    Hashers b(std::vector<std::string>{"bcrypt"}, p);
    assert_int_equal(status(b, "x", b.encode_with("bcrypt", "pw", 4)), VerifyStatus::Mismatch);
    assert_int_equal(status(b, "pw", b.encode_with("bcrypt", "pw", 4)), VerifyStatus::Match);
    h.dummy_hash("anything");
}

// --- helpers ---------------------------------------------------------------------

void test_constant_time_equal(void**) {
    assert_true(constant_time_equal("", ""));
    assert_true(constant_time_equal("abc", "abc"));
    assert_false(constant_time_equal("abc", "abd"));
    assert_false(constant_time_equal("abc", "ab"));
    assert_false(constant_time_equal("", "a"));
    assert_true(constant_time_equal("a\0b"s, "a\0b"s));
    assert_false(constant_time_equal("a\0b"s, "a\0c"s));
}

void test_random_salt(void**) {
    std::string s = random_salt();
    assert_int_equal(s.size(), 22);
    assert_int_equal(random_salt(0).size(), 0);
    assert_int_equal(random_salt(2).size(), 2);
    std::set<char> seen;
    std::string big = random_salt(20000);
    assert_int_equal(big.size(), 20000);
    for (char c : big) {
        assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
        seen.insert(c);
    }
    assert_int_equal(seen.size(), 62);
    assert_string_not_equal(random_salt().c_str(), random_salt().c_str());
}

void test_wipe(void**) {
    std::string s = "secret password";
    wipe(s);
    assert_true(s.empty());
    std::string e;
    wipe(e);
    assert_true(e.empty());
}

void test_base64(void**) {
    auto enc = [](const std::string& s, bool pad) {
        return b64::encode(reinterpret_cast<const unsigned char*>(s.data()), s.size(), pad);
    };
    const char* rfc[][2] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
    std::string out;
    for (auto& v : rfc) {
        assert_string_equal(enc(v[0], true).c_str(), v[1]);
        assert_true(b64::decode(v[1], out, true));
        assert_string_equal(out.c_str(), v[0]);
        std::string nopad(v[1]);
        while (!nopad.empty() && nopad.back() == '=') nopad.pop_back();
        assert_string_equal(enc(v[0], false).c_str(), nopad.c_str());
        assert_true(b64::decode(nopad, out, false));
        assert_string_equal(out.c_str(), v[0]);
        assert_int_equal(b64::decoded_len_nopad(nopad.size()), strlen(v[0]));
    }
    assert_string_equal(enc("\xfb\xff", true).c_str(), "+/8=");
    for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Zm8", "Z===", "Zm9v====", "Zm 9v", "Zm-v",
                            "Zm_v", "Zg==Zg==", "=Zg=", "Zm9v\n", "Zm9\xc3\xa4"})
        assert_false(b64::decode(bad, out, true));
    for (const char* bad : {"Zg==", "Z", "Zh", "Zm9", "Zm8=", "Zm9vY", "Zm9v!"})
        assert_false(b64::decode(bad, out, false));
    assert_true(b64::decode("", out, false) && out.empty());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify),
        cmocka_unit_test(test_split_and_numbers),
        cmocka_unit_test(test_unusable_empty_unknown),
        cmocka_unit_test(test_disabled_hasher),
        cmocka_unit_test(test_constructor),
        cmocka_unit_test(test_round_trip_every_algorithm),
        cmocka_unit_test(test_password_bytes),
        cmocka_unit_test(test_bcrypt_details),
        cmocka_unit_test(test_argon2_details),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cost_not_parameters),
        cmocka_unit_test(test_site_scan),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_must_update),
        cmocka_unit_test(test_harden_runtime_paths),
        cmocka_unit_test(test_constant_time_equal),
        cmocka_unit_test(test_random_salt),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
