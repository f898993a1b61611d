// Random byte strings for the tests that compare our code with a library's
// on many generated inputs.
#pragma once

#include <cstddef>
#include <random>
#include <string>

inline std::string random_bytes(std::mt19937_64& rng, size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = char(rng());
    return s;
}
