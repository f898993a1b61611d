// A main() for the fuzz targets without libFuzzer: runs the target once on
// each file named on the command line (a directory: on each file in it).
// `make check` builds one such program per harness with the normal compiler
// and replays the seed corpora and the regression inputs through it.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int run_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 1;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // A fresh copy of exactly the input's size, so reading past it is caught.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
    return 0;
}

int main(int argc, char** argv) {
    int failed = 0, ran = 0;
    for (int i = 1; i < argc; ++i) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            std::fprintf(stderr, "no such file: %s\n", argv[i]);
            ++failed;
            continue;
        }
        std::vector<std::string> files;
        if (S_ISDIR(st.st_mode)) {
            if (DIR* d = opendir(argv[i])) {
                while (dirent* e = readdir(d))
                    if (e->d_name[0] != '.') files.push_back(std::string(argv[i]) + "/" + e->d_name);
                closedir(d);
            }
            std::sort(files.begin(), files.end());
        } else {
            files.push_back(argv[i]);
        }
        for (auto& f : files) {
            failed += run_file(f);
            ++ran;
        }
    }
    std::printf("replayed %d inputs\n", ran);
    return failed ? 1 : 0;
}
