// Hash verification benchmark: one verification of each hash given on the
// command line, repeated, median reported. Also the two references the
// pbkdf2_sha256 figure is judged against: OpenSSL's PKCS5_PBKDF2_HMAC for the
// same parameters, and the floor, 2 x iterations SHA-256 compressions run by
// OpenSSL's own SHA-256 (its fastest code path on this CPU).
//
//   bench_hash [--repeat N] PASSWORD ENCODED...
// prints one line per measurement: "<name> <median seconds>".
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "passwords/hashers.h"
#include "passwords/pbkdf2_sha256.h"

namespace {

template <class F>
double median_seconds(int repeat, F f) {
    std::vector<double> t;
    for (int i = 0; i < repeat; ++i) {
        auto a = std::chrono::steady_clock::now();
        f();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 5;
    int i = 1;
    if (i + 1 < argc && std::strcmp(argv[i], "--repeat") == 0) {
        repeat = std::atoi(argv[i + 1]);
        i += 2;
    }
    if (argc - i < 2) {
        std::fprintf(stderr, "usage: bench_hash [--repeat N] PASSWORD ENCODED...\n");
        return 2;
    }
    const std::string password = argv[i++];
    dj::Hashers all(dj::Hashers::all_names());
    std::printf("kernel %s\n", dj::sha256_kernel_name());
    for (; i < argc; ++i) {
        const std::string encoded = argv[i];
        const std::string algo = encoded.substr(0, encoded.find('$'));
        bool ok = true;
        double t = median_seconds(repeat, [&] { ok = ok && all.verify(password, encoded).ok(); });
        if (!ok) {
            std::fprintf(stderr, "%s: did not verify\n", algo.c_str());
            return 1;
        }
        std::printf("ours_%s %.6f\n", algo.c_str(), t);
        if (algo == "pbkdf2_sha256") {
            // pbkdf2_sha256$ITER$SALT$HASH
            const size_t a = encoded.find('$'), b = encoded.find('$', a + 1),
                         c = encoded.find('$', b + 1);
            const int iter = std::atoi(encoded.substr(a + 1, b - a - 1).c_str());
            const std::string salt = encoded.substr(b + 1, c - b - 1);
            unsigned char out[32];
            double o = median_seconds(repeat, [&] {
                PKCS5_PBKDF2_HMAC(password.data(), int(password.size()),
                                  reinterpret_cast<const unsigned char*>(salt.data()),
                                  int(salt.size()), iter, EVP_sha256(), 32, out);
            });
            std::printf("openssl_pbkdf2_sha256 %.6f\n", o);
            // The floor: 2 * iter compressions = 2 * iter * 64 bytes through SHA-256.
            static std::vector<unsigned char> chunk(1 << 20, 0x5a);
            const uint64_t total = uint64_t(iter) * 2 * 64;
            double f = median_seconds(repeat, [&] {
                EVP_MD_CTX* ctx = EVP_MD_CTX_new();
                EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
                for (uint64_t done = 0; done < total; done += chunk.size())
                    EVP_DigestUpdate(ctx, chunk.data(), std::min<uint64_t>(chunk.size(), total - done));
                EVP_DigestFinal_ex(ctx, out, nullptr);
                EVP_MD_CTX_free(ctx);
            });
            std::printf("floor_sha256_%dx2 %.6f\n", iter, f);
        }
    }
    return 0;
}
