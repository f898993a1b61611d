#include "daemon/mysql_plugin.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <mutex>

#ifndef DJ_PLUGIN_DIR
#define DJ_PLUGIN_DIR "/usr/lib/django-authd"
#endif

namespace dj::db {
namespace {

constexpr const char* kPluginName = "django-authd-mysql.so";

using CreateFn = Engine* (*)(const char*, const DatabaseConfig*, int, std::string*);

std::string exe_dir() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string p(buf, size_t(n));
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "" : p.substr(0, slash);
}

// Code the daemon runs must be as trustworthy as the daemon.
bool trusted(const std::string& path, const struct stat& st, std::string& error) {
    if (!S_ISREG(st.st_mode)) return error = path + " is not a regular file", false;
    if (st.st_uid != 0 && st.st_uid != geteuid()) return error = path + " is not owned by root", false;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) return error = path + " is writable by group or others", false;
    return true;
}

}  // namespace

std::string find_mysql_plugin(std::string& error) {
    std::string tried;
    for (const std::string& dir : {exe_dir(), std::string(DJ_PLUGIN_DIR)}) {
        if (dir.empty()) continue;
        std::string path = dir + "/" + kPluginName;
        struct stat st;
        if (stat(path.c_str(), &st) != 0) {
            tried += (tried.empty() ? "" : ", ") + path;
            continue;
        }
        if (!trusted(path, st, error)) return "";
        return path;
    }
    error = "engine = mysql needs " + std::string(kPluginName) + " (not found: " + tried +
            "); install the django-authd-mysql package";
    return "";
}

std::unique_ptr<Engine> open_mysql_engine(const DatabaseConfig& cfg, int pool_size) {
    // Loaded once and never unloaded: engines made by it live until exit.
    static std::mutex mutex;
    static CreateFn create = nullptr;
    std::lock_guard<std::mutex> lock(mutex);
    if (!create) {
        std::string error;
        std::string path = find_mysql_plugin(error);
        if (path.empty()) throw DbUnavailable(error);
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = dlerror();
            throw DbUnavailable("cannot load " + path + ": " + (e ? e : "unknown error") +
                                " (is libmariadb3 installed?)");
        }
        create = reinterpret_cast<CreateFn>(dlsym(h, "dj_mysql_engine_create"));
        if (!create) throw DbUnavailable(path + " is not a django-authd MySQL plugin");
    }
    std::string error;
    Engine* e = create(kMysqlPluginAbi, &cfg, pool_size, &error);
    if (!e) throw DbUnavailable(error);
    return std::unique_ptr<Engine>(e);
}

}  // namespace dj::db
