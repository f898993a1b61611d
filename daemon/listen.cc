#include "daemon/listen.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dj {

int systemd_listen_fd() {
    const char* pid = getenv("LISTEN_PID");
    const char* fds = getenv("LISTEN_FDS");
    int fd = -1;
    if (pid && fds && strtol(pid, nullptr, 10) == long(getpid()) && strtol(fds, nullptr, 10) >= 1) {
        struct stat st;
        int type = 0;
        socklen_t len = sizeof type;
        if (fstat(3, &st) == 0 && S_ISSOCK(st.st_mode) &&
            getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM) {
            fd = 3;
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return fd;
}

namespace {

// mkdir -p for the socket's directory; the last level gets mode 0755.
bool make_dirs(const std::string& dir, std::string& error) {
    if (dir.empty()) return true;
    struct stat st;
    if (stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return error = dir + ": not a directory", false;
        return true;
    }
    size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0 && !make_dirs(dir.substr(0, slash), error)) return false;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return error = dir + ": " + strerror(errno), false;
    chmod(dir.c_str(), 0755);  // whatever the umask
    return true;
}

}  // namespace

int open_listen_socket(const std::string& path, std::string& error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return error = path + ": path too long", -1;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && !make_dirs(path.substr(0, slash), error)) return -1;

    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return error = path + ": exists and is not a socket", -1;
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        if (probe >= 0) close(probe);
        if (alive) return error = path + ": another daemon is listening on it", -1;
        unlink(path.c_str());
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return error = std::string("socket: ") + strerror(errno), -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error = path + ": bind: " + strerror(errno);
        close(fd);
        return -1;
    }
    // Everyone may connect; requests are authorized by peer credentials.
    if (chmod(path.c_str(), 0666) != 0 || listen(fd, SOMAXCONN) != 0) {
        error = path + ": " + strerror(errno);
        close(fd);
        unlink(path.c_str());
        return -1;
    }
    return fd;
}

}  // namespace dj
