// The C ABI of pam_django.so: the six pam_sm_* entry points (the only
// exported symbols, see pam/exports.map). Each parses its arguments, builds
// the real PamIo and daemon client, and calls the phase logic in phases.cc
// behind a barrier: no exception ever reaches libpam or the host program.
#include <syslog.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <exception>
#include <new>

#include "pam/args.h"
#include "pam/daemon_calls.h"
#include "pam/pam_io.h"
#include "pam/phases.h"

#define DJ_PAM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using dj::pam::Args;
using dj::pam::DaemonCalls;
using dj::pam::PamHandleIo;

using PhaseFn = int (*)(dj::pam::PamIo&, DaemonCalls&, const Args&, int);

// Runs one phase; `on_error` is what an internal failure returns.
int run(PhaseFn fn, pam_handle_t* pamh, int flags, int argc, const char** argv,
        int on_error) noexcept {
    try {
        Args args = dj::pam::parse_args(argc, argv);
        PamHandleIo io(pamh);
        for (const auto& w : args.warnings) io.log(LOG_ERR, w);
        dj::client::Options opt;
        opt.socket_path = args.socket;
        opt.timeout_ms = args.timeout_ms;
        DaemonCalls daemon(opt);
        return fn(io, daemon, args, flags);
    } catch (const std::bad_alloc&) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    } catch (const std::exception& e) {
        pam_syslog(pamh, LOG_ERR, "internal error: %s", e.what());
        return on_error;
    } catch (...) {
        pam_syslog(pamh, LOG_ERR, "internal error");
        return on_error;
    }
}

}  // namespace

DJ_PAM_EXPORT int pam_sm_authenticate(pam_handle_t* pamh, int flags, int argc,
                                      const char** argv) {
    return run(dj::pam::authenticate, pamh, flags, argc, argv, PAM_SERVICE_ERR);
}

DJ_PAM_EXPORT int pam_sm_setcred(pam_handle_t*, int, int, const char**) {
    // Django accounts carry no credentials to establish.
    return PAM_SUCCESS;
}

DJ_PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t* pamh, int flags, int argc, const char** argv) {
    return run(dj::pam::acct_mgmt, pamh, flags, argc, argv, PAM_SERVICE_ERR);
}

DJ_PAM_EXPORT int pam_sm_chauthtok(pam_handle_t* pamh, int flags, int argc, const char** argv) {
    return run(dj::pam::chauthtok, pamh, flags, argc, argv, PAM_SERVICE_ERR);
}

DJ_PAM_EXPORT int pam_sm_open_session(pam_handle_t*, int, int, const char**) {
    return PAM_SUCCESS;
}

DJ_PAM_EXPORT int pam_sm_close_session(pam_handle_t*, int, int, const char**) {
    return PAM_SUCCESS;
}
