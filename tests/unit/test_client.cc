// The socket client (common/client.cc) against scripted servers on a real
// Unix socket: a good answer, no daemon, a silent daemon (the deadline), a
// daemon that answers slowly while signals interrupt the client (EINTR), and
// frames that must be refused (wrong op, wrong version, lengths out of range,
// closed early), the socket ownership rule, and no SIGPIPE.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <setjmp.h>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "common/client.h"

using namespace dj;

namespace {

std::string g_dir;

std::string sock_path() { return g_dir + "/socket"; }

bool read_n(int fd, void* p, size_t n) {
    auto* c = static_cast<char*>(p);
    while (n > 0) {
        ssize_t r = ::read(fd, c, n);
        if (r <= 0) return false;
        c += r;
        n -= size_t(r);
    }
    return true;
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (w <= 0) return;
        off += size_t(w);
    }
}

std::string be32(uint32_t v) {
    uint8_t b[4];
    proto::write_be32(b, v);
    return std::string(reinterpret_cast<char*>(b), 4);
}

std::string reply(uint8_t op, proto::Status st, const std::string& body = "", uint8_t version = proto::kProtocolVersion) {
    std::string payload{char(version), char(op), char(st), 0};
    payload += body;
    return be32(uint32_t(payload.size())) + payload;
}

// Reads one request frame; returns its op (0 when it could not).
uint8_t read_request(int fd) {
    uint8_t len[4];
    if (!read_n(fd, len, 4)) return 0;
    std::string body(proto::read_be32(len), '\0');
    if (!read_n(fd, body.data(), body.size())) return 0;
    return body.size() >= 2 ? uint8_t(body[1]) : 0;
}

// A listening socket and one thread that serves `conns` connections with `fn`.
class Server {
public:
    explicit Server(std::function<void(int)> fn, int conns = 1) {
        ::unlink(sock_path().c_str());
        lfd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a {};
        a.sun_family = AF_UNIX;
        std::strcpy(a.sun_path, sock_path().c_str());
        assert_int_equal(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        assert_int_equal(::listen(lfd_, 16), 0);
        th_ = std::thread([this, fn, conns] {
            for (int i = 0; i < conns; ++i) {
                int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) return;
                fn(c);
                ::close(c);
            }
        });
    }
    ~Server() {
        ::shutdown(lfd_, SHUT_RDWR);
        th_.join();
        ::close(lfd_);
        ::unlink(sock_path().c_str());
    }

private:
    int lfd_;
    std::thread th_;
};

std::vector<uint8_t> request(proto::Op op = proto::Op::PwByName) {
    proto::Writer w(op);
    w.str("alice");
    return w.finish();
}

client::Options opts(int timeout_ms = 2000) {
    client::Options o;
    o.socket_path = sock_path();
    o.timeout_ms = timeout_ms;
    return o;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void test_round_trip(void**) {
    Server s([](int c) {
        uint8_t op = read_request(c);
        write_all(c, reply(op, proto::Status::NotFound, be32(42)));
    });
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Ok));
    assert_int_equal(int(r.status), int(proto::Status::NotFound));
    proto::Reader rd(r.frame);
    assert_true(rd.header_ok());
    assert_int_equal(int(rd.op()), int(proto::Op::PwByName));
    assert_int_equal(rd.u32(), 42);
    assert_true(rd.at_end());
}

void test_no_daemon(void**) {
    ::unlink(sock_path().c_str());
    auto t0 = std::chrono::steady_clock::now();
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    assert_false(r.error.empty());
    assert_true(ms_since(t0) < 100);
}

void test_refused(void**) {
    // A socket file nobody listens on.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a {};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, sock_path().c_str());
    ::unlink(sock_path().c_str());
    assert_int_equal(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
    auto t0 = std::chrono::steady_clock::now();
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    assert_true(ms_since(t0) < 100);
    ::unlink(sock_path().c_str());
}

// The client sends one request and shuts down its writing side, so the
// daemon knows no other follows: the request, then end of file, before the
// answer.
void test_request_then_end_of_file(void**) {
    Server s([](int c) {
        uint8_t op = read_request(c);
        char b;
        if (::read(c, &b, 1) != 0) return;  // no answer unless the client shut down its side
        write_all(c, reply(op, proto::Status::NotFound, be32(7)));
    });
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Ok));
    assert_int_equal(int(r.status), int(proto::Status::NotFound));
}

void test_silent_daemon_deadline(void**) {
    Server s([](int c) {
        read_request(c);
        // Until the client gives up and closes (it shut down its writing
        // side already: that alone is no hang-up).
        struct pollfd p {c, 0, 0};
        ::poll(&p, 1, 5000);
    });
    auto t0 = std::chrono::steady_clock::now();
    client::Response r = client::call(opts(300), request());
    double ms = ms_since(t0);
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    assert_true(ms >= 280 && ms < 1000);
}

void on_alarm(int) {}

void test_eintr_slow_answer(void**) {
    // Signals without SA_RESTART every 5 ms while the daemon takes 150 ms and
    // then sends its answer one byte at a time.
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    struct sigaction old {};
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it {};
    it.it_interval.tv_usec = 5000;
    it.it_value.tv_usec = 5000;
    setitimer(ITIMER_REAL, &it, nullptr);
    {
        Server s([](int c) {
            uint8_t op = read_request(c);
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            std::string f = reply(op, proto::Status::Ok, std::string(2000, 'z'));
            for (char ch : f) {
                write_all(c, std::string(1, ch));
            }
        });
        auto t0 = std::chrono::steady_clock::now();
        client::Response r = client::call(opts(3000), request());
        assert_int_equal(int(r.transport), int(client::Transport::Ok));
        assert_int_equal(r.frame.size(), 4 + 2000);
        assert_true(ms_since(t0) < 2500);
    }
    struct itimerval off {};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &old, nullptr);
}

void refused_frame(const std::string& bytes) {
    Server s([&bytes](int c) {
        read_request(c);
        write_all(c, bytes);
    });
    client::Response r = client::call(opts(500), request());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    assert_true(r.frame.empty());
}

void test_bad_frames(void**) {
    const auto pw = uint8_t(proto::Op::PwByName);
    refused_frame(reply(uint8_t(proto::Op::GrByName), proto::Status::Ok));       // other op
    refused_frame(reply(pw, proto::Status::Ok, "", proto::kProtocolVersion + 1));  // version
    refused_frame(be32(uint32_t(proto::kMaxResponse) + 1) + std::string(64, '\1'));
    refused_frame(be32(0xffffffff));
    refused_frame(be32(2) + "ab");                                                 // no header
    refused_frame(be32(100) + std::string{char(proto::kProtocolVersion), char(pw), 0, 0});  // truncated
    refused_frame("");                                                             // closed
    refused_frame(be32(4).substr(0, 2));
    std::string reserved = reply(pw, proto::Status::Ok);
    reserved[7] = 1;
    refused_frame(reserved);
}

void test_malformed_request(void**) {
    std::vector<uint8_t> bad = request();
    bad.pop_back();   // the length no longer matches
    client::Response r = client::call(opts(), bad);
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    r = client::call(opts(), {});
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
}

void test_not_a_socket(void**) {
    ::unlink(sock_path().c_str());
    int fd = ::open(sock_path().c_str(), O_CREAT | O_WRONLY, 0600);
    ::close(fd);
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    ::unlink(sock_path().c_str());
}

void test_ownership(void**) {
    if (::geteuid() != 0) skip();
    Server s(
        [](int c) {
            uint8_t op = read_request(c);
            write_all(c, reply(op, proto::Status::Ok));
        },
        1);
    // Owned by someone else in a directory that someone else does not own.
    assert_int_equal(::chown(sock_path().c_str(), 12345, 12345), 0);
    client::Response r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
    assert_non_null(std::strstr(r.error.c_str(), "owned"));
    // The directory's owner may own it (the daemon's user owns its run dir).
    assert_int_equal(::chown(g_dir.c_str(), 12345, 12345), 0);
    r = client::call(opts(), request());
    assert_int_equal(int(r.transport), int(client::Transport::Ok));
    assert_int_equal(::chown(g_dir.c_str(), 0, 0), 0);
}

void test_no_sigpipe(void**) {
    // The daemon closes without reading a large request: the client must get
    // EPIPE (Unavailable), not a fatal SIGPIPE.
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, nullptr);
    Server s([](int c) { ::shutdown(c, SHUT_RDWR); });
    proto::Writer w(proto::Op::Authenticate);
    for (int i = 0; i < 7; ++i) w.str(std::string(8000, 'p'));
    client::Response r = client::call(opts(), w.finish());
    assert_int_equal(int(r.transport), int(client::Transport::Unavailable));
}

void test_no_fd_leak(void**) {
    int before = ::dup(0);
    ::close(before);
    {
        Server s(
            [](int c) {
                uint8_t op = read_request(c);
                write_all(c, reply(op, proto::Status::Ok));
            },
            20);
        for (int i = 0; i < 20; ++i) client::call(opts(), request());
    }   // the server's own descriptors are closed here
    int after = ::dup(0);
    ::close(after);
    assert_int_equal(before, after);   // every client socket was closed too
}

// While the client waits for its answer, every socket in this process (the
// test server's are made with SOCK_CLOEXEC too) must be close-on-exec.
void test_cloexec(void**) {
    int without = -1;
    {
        Server s([&without](int c) {
            uint8_t op = read_request(c);
            without = 0;
            for (int fd = 0; fd < 1024; ++fd) {
                struct stat st {};
                if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
                if (!(::fcntl(fd, F_GETFD) & FD_CLOEXEC)) ++without;
            }
            write_all(c, reply(op, proto::Status::Ok));
        });
        client::Response r = client::call(opts(), request());
        assert_int_equal(int(r.transport), int(client::Transport::Ok));
    }
    assert_int_equal(without, 0);
}

void test_default_socket_path(void**) {
    ::unsetenv("DJANGO_AUTH_SOCKET");
    assert_string_equal(client::default_socket_path().c_str(), proto::kDefaultSocket);
    ::setenv("DJANGO_AUTH_SOCKET", "/tmp/other.sock", 1);
    assert_string_equal(client::default_socket_path().c_str(), "/tmp/other.sock");
    ::setenv("DJANGO_AUTH_SOCKET", "", 1);
    assert_string_equal(client::default_socket_path().c_str(), proto::kDefaultSocket);
    ::unsetenv("DJANGO_AUTH_SOCKET");
}

void test_errno_kept(void**) {
    ::unlink(sock_path().c_str());
    errno = 1234;
    client::call(opts(), request());
    assert_int_equal(errno, 1234);
}

int setup(void**) {
    char tmpl[] = "/tmp/dj-client-test-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    if (d == nullptr) return -1;
    g_dir = d;
    return 0;
}

int teardown(void**) {
    ::unlink(sock_path().c_str());
    ::rmdir(g_dir.c_str());
    return 0;
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_daemon),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_request_then_end_of_file),
        cmocka_unit_test(test_silent_daemon_deadline),
        cmocka_unit_test(test_eintr_slow_answer),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_malformed_request),
        cmocka_unit_test(test_not_a_socket),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_no_sigpipe),
        cmocka_unit_test(test_no_fd_leak),
        cmocka_unit_test(test_cloexec),
        cmocka_unit_test(test_default_socket_path),
        cmocka_unit_test(test_errno_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
